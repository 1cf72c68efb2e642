package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/campaignd/campaignd/bitmap"
	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

// errStopped is returned by scans interrupted by Stop.
var errStopped = errors.New("engine: stopped")

// startSegments resumes the size computations that were pending at the last stop and starts the
// sizer, which computes the size (and, for filter segments, the matching targets) of filter and
// all_users segments after they are created or changed.
func (e *Engine) startSegments() error {
	err := storage.ScanSegments(e.db, func(s *storage.Segment) error {
		if s.Computing && s.DeletedAt == 0 {
			e.segments.enqueue(s.ID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot resume segment sizing: %w", err)
	}
	wake := e.segments.wakeCh()
	every := e.segments.refreshEvery
	if every == 0 {
		every = DefaultSegmentRefresh
	}
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		tick = t.C
		e.goBackground(func(stop <-chan struct{}) {
			<-stop
			t.Stop()
		})
	}
	e.goBackground(func(stop <-chan struct{}) {
		for {
			id, ok := e.segments.pop()
			if !ok {
				select {
				case <-stop:
					return
				case <-wake:
				case <-tick:
					if err := e.refreshUserSegments(stop); err != nil {
						if errors.Is(err, errStopped) {
							return
						}
						e.log.Error("cannot refresh segment sizes", "err", err)
					}
				}
				continue
			}
			if err := e.sizeSegment(id, stop); err != nil {
				if errors.Is(err, errStopped) {
					return
				}
				// The segment stays "computing" and is retried at the next start.
				e.log.Error("cannot compute segment size", "segment", id, "err", err)
			}
		}
	})
	return nil
}

// sizeSegment computes the size of segment id for its current definition and stores it, unless
// the definition changed meanwhile (a new computation is then queued already).
func (e *Engine) sizeSegment(id string, stop <-chan struct{}) error {
	s, found, err := readSegment(e.db, id)
	if err != nil || !found || s.DeletedAt != 0 || !s.Computing {
		return err
	}
	var (
		bm   *bitmap.Bitmap
		size uint64
	)
	switch {
	case s.AllUsers:
		size, err = e.countUsers(stop)
	case len(s.Filter) > 0 && s.Type == storage.SegmentTypeUser:
		var f *filter.Filter
		if f, err = filter.Compile(s.Filter, filter.UserSchema); err != nil {
			return fmt.Errorf("cannot compile the stored filter of segment %q: %w", id, err)
		}
		bm, err = e.matchUsers([]*filter.Filter{f}, false, stop)
		if bm != nil {
			size = bm.Cardinality()
		}
	case len(s.Filter) > 0:
		bm, err = e.matchChannels(s.Filter, stop)
		if bm != nil {
			size = bm.Cardinality()
		}
	}
	if err != nil {
		return err
	}

	unlock := e.segments.locks.lockID(id)
	defer unlock()
	cur, found, err := readSegment(e.db, id)
	if err != nil || !found || cur.DeletedAt != 0 || !cur.Computing || cur.Generation != s.Generation {
		return err
	}
	tx := e.NewTx()
	if bm != nil {
		bitmap.Store(tx.B, storage.SegmentBits(id), bm)
	}
	cur.Size = size
	cur.Computing = false
	tx.B.PutSegment(cur)
	if err := e.Commit(tx); err != nil {
		return fmt.Errorf("cannot store the size of segment %q: %w", id, err)
	}
	return nil
}

// DefaultSegmentRefresh is how often the sizer recomputes every sized user segment (filter and
// all_users), since users are created, changed and deleted after a segment was sized.
const DefaultSegmentRefresh = 5 * time.Minute

// refreshUserSegments recomputes, in one scan of the users, the size (and a filter segment's
// targets) of every live filter and all_users user segment that is not already being computed,
// and stores what changed.
func (e *Engine) refreshUserSegments(stop <-chan struct{}) error {
	type job struct {
		id  string
		gen uint64
		f   *filter.Filter // nil for all_users
		bm  *bitmap.Bitmap
	}
	var jobs []*job
	err := storage.ScanSegments(e.db, func(s *storage.Segment) error {
		if s.DeletedAt != 0 || s.Computing || s.Type != storage.SegmentTypeUser || !needsSizing(s) {
			return nil
		}
		j := &job{id: s.ID, gen: s.Generation}
		if len(s.Filter) > 0 {
			var err error
			if j.f, err = filter.Compile(s.Filter, filter.UserSchema); err != nil {
				return fmt.Errorf("cannot compile the stored filter of segment %q: %w", s.ID, err)
			}
			j.bm = bitmap.New()
		}
		jobs = append(jobs, j)
		return nil
	})
	if err != nil || len(jobs) == 0 {
		return err
	}
	var live uint64
	stopped := false
	err = e.ScanUsers(func(ord uint32, u *storage.User) bool {
		live++
		if live%stopEvery == 0 && isClosed(stop) {
			stopped = true
			return false
		}
		d := (*UserDoc)(u)
		for _, j := range jobs {
			if j.f != nil && j.f.Match(d) {
				j.bm.Add(ord)
			}
		}
		return true
	})
	if err == nil && stopped {
		err = errStopped
	}
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if err := e.storeRefreshedSize(j.id, j.gen, j.bm, live); err != nil {
			return err
		}
	}
	return nil
}

// storeRefreshedSize stores a refreshed size (bm nil: an all_users segment of live users) unless
// the segment changed meanwhile or nothing differs.
func (e *Engine) storeRefreshedSize(id string, gen uint64, bm *bitmap.Bitmap, live uint64) error {
	unlock := e.segments.locks.lockID(id)
	defer unlock()
	cur, found, err := readSegment(e.db, id)
	if err != nil || !found || cur.DeletedAt != 0 || cur.Computing || cur.Generation != gen {
		return err
	}
	bits := storage.SegmentBits(id)
	size := live
	if bm != nil {
		old, err := bitmap.Load(e.db, bits)
		if err != nil {
			return fmt.Errorf("cannot refresh segment %q: %w", id, err)
		}
		if old.Equals(bm) && cur.Size == bm.Cardinality() {
			return nil
		}
		size = bm.Cardinality()
	} else if cur.Size == size {
		return nil
	}
	tx := e.NewTx()
	if bm != nil {
		bitmap.Store(tx.B, bits, bm)
	}
	cur.Size = size
	tx.B.PutSegment(cur)
	if err := e.Commit(tx); err != nil {
		return fmt.Errorf("cannot refresh segment %q: %w", id, err)
	}
	return nil
}

// stopEvery is how many records a scan processes between checks of the stop channel.
const stopEvery = 1 << 14

// countUsers counts live users.
func (e *Engine) countUsers(stop <-chan struct{}) (uint64, error) {
	var n uint64
	stopped := false
	err := e.ScanUsers(func(_ uint32, _ *storage.User) bool {
		n++
		if n%stopEvery == 0 && isClosed(stop) {
			stopped = true
			return false
		}
		return true
	})
	if err == nil && stopped {
		err = errStopped
	}
	return n, err
}

// matchUsers returns the ordinals of the live users that match any of fs (all live users when
// all is set), in one scan.
func (e *Engine) matchUsers(fs []*filter.Filter, all bool, stop <-chan struct{}) (*bitmap.Bitmap, error) {
	bm := bitmap.New()
	n := 0
	stopped := false
	err := e.ScanUsers(func(ord uint32, u *storage.User) bool {
		n++
		if n%stopEvery == 0 && isClosed(stop) {
			stopped = true
			return false
		}
		if all {
			bm.Add(ord)
			return true
		}
		d := (*UserDoc)(u)
		for _, f := range fs {
			if f.Match(d) {
				bm.Add(ord)
				break
			}
		}
		return true
	})
	if err == nil && stopped {
		err = errStopped
	}
	if err != nil {
		return nil, err
	}
	return bm, nil
}

// matchChannels returns the ordinals of the channels that match the channel filter raw, reading
// only the candidates the filter allows (see channelCandidates).
func (e *Engine) matchChannels(raw []byte, stop <-chan struct{}) (*bitmap.Bitmap, error) {
	f, err := filter.Compile(raw, filter.ChannelSchema)
	if err != nil {
		return nil, fmt.Errorf("cannot compile a stored channel filter: %w", err)
	}
	bm := bitmap.New()
	n := 0
	stopped := false
	var derr error
	err = e.channelCandidates(f, raw, func(ord uint32, ch *storage.Channel) bool {
		n++
		if n%stopEvery == 0 && isClosed(stop) {
			stopped = true
			return false
		}
		d := &channelDoc{e: e, ord: ord, ch: ch}
		matched := f.Match(d)
		if d.err != nil {
			derr = d.err
			return false
		}
		if matched {
			bm.Add(ord)
		}
		return true
	})
	switch {
	case err != nil:
		return nil, err
	case derr != nil:
		return nil, derr
	case stopped:
		return nil, errStopped
	}
	return bm, nil
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
