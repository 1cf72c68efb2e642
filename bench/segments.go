package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/campaignd/campaignd/bitmap"
	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
)

// Segment workloads (goals in the README): addtargets of 10,000 random ids into a 1,000,000-target
// segment (≤ 50 ms), the union of 25 segments of 1,000,000 targets (≤ 100 ms), sizing a filter
// segment over 1,000,000 users (≤ 2 s). Each workload has a Config, a Setup that builds the data
// through the engine or storage API (not timed) and a Run that does one timed operation.

// AddTargetsConfig configures the addtargets workload.
type AddTargetsConfig struct {
	// Existing is the number of targets in the segment before the timed calls. Default 1,000,000.
	Existing int
	// Batch is the number of ids per addtargets call. Default 10,000.
	Batch int
	// Universe is the number of distinct user ids the targets are drawn from. Default 2,000,000.
	Universe int
	// Seed seeds the id generator.
	Seed uint64
}

func (c *AddTargetsConfig) ensureDefaults() {
	if c.Existing == 0 {
		c.Existing = 1_000_000
	}
	if c.Batch == 0 {
		c.Batch = 10_000
	}
	if c.Universe == 0 {
		c.Universe = 2_000_000
	}
}

// AddTargets is a prepared addtargets workload.
type AddTargets struct {
	cfg     AddTargetsConfig
	e       *engine.Engine
	segment string
	rnd     *rand.Rand
	ids     []string
}

func userID(i int) string { return "user-" + strconv.Itoa(i) }

// SetupAddTargets creates a static user segment holding cfg.Existing distinct random targets.
// Every id of the universe is interned first, so that the timed calls measure the segment
// write (bitmap containers, target index, record, fsync), not the first sight of an id.
func SetupAddTargets(e *engine.Engine, cfg AddTargetsConfig) (*AddTargets, error) {
	cfg.ensureDefaults()
	w := &AddTargets{cfg: cfg, e: e, segment: "bench-addtargets", rnd: rand.New(rand.NewPCG(cfg.Seed, 1))}
	all := make([]string, cfg.Universe)
	for i := range all {
		all[i] = userID(i)
	}
	for i := 0; i < len(all); i += 100_000 {
		if _, err := e.DB().Users.Intern(nil, all[i:min(i+100_000, len(all))]); err != nil {
			return nil, err
		}
	}
	typ := storage.SegmentTypeUser
	if _, err := e.CreateSegment(&engine.SegmentParams{ID: &w.segment, Type: &typ}); err != nil {
		return nil, err
	}
	perm := w.rnd.Perm(cfg.Universe)[:cfg.Existing]
	ids := make([]string, 0, cfg.Batch)
	for i, p := range perm {
		ids = append(ids, all[p])
		if len(ids) == cfg.Batch || i == len(perm)-1 {
			if err := e.AddSegmentTargets(w.segment, ids); err != nil {
				return nil, err
			}
			ids = ids[:0]
		}
	}
	seg, err := e.GetSegment(w.segment)
	if err != nil {
		return nil, err
	}
	if seg.Size != uint64(cfg.Existing) {
		return nil, fmt.Errorf("segment holds %d targets; want %d", seg.Size, cfg.Existing)
	}
	w.ids = make([]string, cfg.Batch)
	return w, nil
}

// Run adds one batch of random ids (from the universe, so some are present already).
func (w *AddTargets) Run() error {
	for i := range w.ids {
		w.ids[i] = userID(w.rnd.IntN(w.cfg.Universe))
	}
	return w.e.AddSegmentTargets(w.segment, w.ids)
}

// UnionConfig configures the union workload.
type UnionConfig struct {
	// Segments is the number of segments resolved together. Default 25.
	Segments int
	// Targets is the number of targets of each segment. Default 1,000,000.
	Targets int
	// Universe is the range of ordinals targets are drawn from. Default 5,000,000.
	Universe int
	Seed     uint64
}

func (c *UnionConfig) ensureDefaults() {
	if c.Segments == 0 {
		c.Segments = 25
	}
	if c.Targets == 0 {
		c.Targets = 1_000_000
	}
	if c.Universe == 0 {
		c.Universe = 5_000_000
	}
}

// Union is a prepared union workload.
type Union struct {
	e        *engine.Engine
	segments []string
	// Want is the cardinality of the union.
	Want uint64
}

// SetupUnion creates cfg.Segments static user segments of cfg.Targets random ordinals each. The
// bitmaps are written with bitmap.Store directly (the ordinals need no user records: the
// audience keeps targets that are not users yet).
func SetupUnion(e *engine.Engine, cfg UnionConfig) (*Union, error) {
	cfg.ensureDefaults()
	w := &Union{e: e}
	rnd := rand.New(rand.NewPCG(cfg.Seed, 2))
	all := bitmap.New()
	typ := storage.SegmentTypeUser
	for s := 0; s < cfg.Segments; s++ {
		id := fmt.Sprintf("bench-union-%d", s)
		if _, err := e.CreateSegment(&engine.SegmentParams{ID: &id, Type: &typ}); err != nil {
			return nil, err
		}
		bm := bitmap.New()
		for n := 0; n < cfg.Targets; {
			if bm.CheckedAdd(1 + uint32(rnd.IntN(cfg.Universe))) {
				n++
			}
		}
		b := e.DB().NewBatch()
		bitmap.Store(b, storage.SegmentBits(id), bm)
		if err := b.Commit(true); err != nil {
			return nil, err
		}
		all.Or(bm)
		w.segments = append(w.segments, id)
	}
	w.Want = all.Cardinality()
	return w, e.DB().Flush()
}

// Run resolves the audience of all the segments: load every bitmap and union them.
func (w *Union) Run() (*bitmap.Bitmap, error) {
	bm, _, err := w.e.ResolveAudience(w.segments, nil, "nobody")
	if err != nil {
		return nil, err
	}
	if bm.Cardinality() != w.Want {
		return nil, fmt.Errorf("union holds %d ordinals; want %d", bm.Cardinality(), w.Want)
	}
	return bm, nil
}

// FilterSizeConfig configures the filter segment sizing workload.
type FilterSizeConfig struct {
	// Users is the number of users. Default 1,000,000.
	Users int
	// MatchEvery makes one user in MatchEvery match the filter. Default 5.
	MatchEvery int
}

func (c *FilterSizeConfig) ensureDefaults() {
	if c.Users == 0 {
		c.Users = 1_000_000
	}
	if c.MatchEvery == 0 {
		c.MatchEvery = 5
	}
}

// FilterSize is a prepared filter segment sizing workload.
type FilterSize struct {
	cfg  FilterSizeConfig
	e    *engine.Engine
	runs int
	// Want is the number of matching users.
	Want uint64
}

// SetupFilterSize stores cfg.Users users (custom field country, teams) straight through storage,
// in large unsynced batches, then flushes. The engine must be started (the sizer runs in it).
func SetupFilterSize(e *engine.Engine, cfg FilterSizeConfig) (*FilterSize, error) {
	cfg.ensureDefaults()
	w := &FilterSize{cfg: cfg, e: e}
	db := e.DB()
	now := time.Now().UnixNano()
	const chunk = 50_000
	ids := make([]string, 0, chunk)
	for start := 0; start < cfg.Users; start += chunk {
		ids = ids[:0]
		for i := start; i < min(start+chunk, cfg.Users); i++ {
			ids = append(ids, userID(i))
		}
		ords, err := db.Users.Intern(nil, ids)
		if err != nil {
			return nil, err
		}
		b := db.NewBatch()
		for j, id := range ids {
			u := storage.User{ID: id, Role: "user", Name: "User " + id, Teams: []string{"commonteam"},
				CreatedAt: now, UpdatedAt: now, Custom: []byte(`{"country":"FR","age":30}`)}
			if (start+j)%cfg.MatchEvery == 0 {
				u.Custom = []byte(`{"country":"USA","age":30}`)
				w.Want++
			}
			b.PutUser(ords[j], &u)
		}
		if err := b.Commit(false); err != nil {
			return nil, err
		}
	}
	return w, db.Flush()
}

// Run creates a filter segment and waits until the sizer has stored its size.
func (w *FilterSize) Run() (time.Duration, error) {
	w.runs++
	id := fmt.Sprintf("bench-filter-%d", w.runs)
	typ := storage.SegmentTypeUser
	start := time.Now()
	if _, err := w.e.CreateSegment(&engine.SegmentParams{ID: &id, Type: &typ, Filter: []byte(`{"country":"USA"}`)}); err != nil {
		return 0, err
	}
	for {
		seg, err := w.e.GetSegment(id)
		if err != nil {
			return 0, err
		}
		if !seg.Computing {
			if seg.Size != w.Want {
				return 0, fmt.Errorf("segment size is %d; want %d", seg.Size, w.Want)
			}
			return time.Since(start), nil
		}
		time.Sleep(time.Millisecond)
	}
}
