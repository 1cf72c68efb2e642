package engine

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/campaignd/campaignd/bitmap"
	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

// ResolveAudience computes a campaign's audience now: the union of the segments segmentIDs
// (static targets; filter segments evaluated against the users or channels as they are now;
// all_users = every live user; all_sender_channels = the channels senderID is a member of) and
// of the users userIDs, without duplicates. For user audiences the sender is removed; user ids
// that were never seen are skipped (static segment targets that are not users yet are kept: the
// fan-out skips ordinals without a live user). Iterate the result with ForEachChunk, ascending.
//
// Errors (400 code 4, field segment_ids): a segment that does not exist or was deleted, segments
// mixing user and channel types, user_ids given with channel segments, nothing to resolve.
// ResolveAudience only reads; callers store the result with bitmap.Store to freeze it.
func (e *Engine) ResolveAudience(segmentIDs, userIDs []string, senderID string) (*bitmap.Bitmap, storage.AudienceKind, error) {
	if len(segmentIDs) == 0 && len(userIDs) == 0 {
		return nil, 0, InputError("segment_ids", "an audience needs segment_ids or user_ids")
	}
	segs, kind, err := e.campaignSegments(segmentIDs, len(userIDs) > 0)
	if err != nil {
		return nil, 0, err
	}
	aud, err := e.resolveAudience(segs, kind, userIDs, senderID)
	return aud, kind, err
}

// audienceParts is an audience before it is evaluated: the part that resolves without reading
// every user (static targets, user_ids, channel filters, the sender's channels) and the user scan
// that all_users and user filter segments still need.
type audienceParts struct {
	base     *bitmap.Bitmap
	filters  []*filter.Filter
	allUsers bool
	// sender is the ordinal removed from a user audience (0: none).
	sender uint32
	// unresolved counts the distinct pending targets of static segments that name no user or
	// channel yet: they are not in the audience, and a frozen run counts them as skipped.
	unresolved uint64
}

// needsScan reports whether the audience needs a scan of every user.
func (a *audienceParts) needsScan() bool { return a.allUsers || len(a.filters) > 0 }

// matches reports whether the scanned user u joins the audience.
func (a *audienceParts) matches(u *storage.User) bool {
	if a.allUsers {
		return true
	}
	d := (*UserDoc)(u)
	for _, f := range a.filters {
		if f.Match(d) {
			return true
		}
	}
	return false
}

// resolveAudience is ResolveAudience of segment records segs (none deleted, all of kind).
func (e *Engine) resolveAudience(segs []*storage.Segment, kind storage.AudienceKind, userIDs []string, senderID string) (*bitmap.Bitmap, error) {
	a, err := e.audienceParts(segs, kind, userIDs, senderID)
	if err != nil {
		return nil, err
	}
	aud := a.base
	if a.needsScan() {
		bm, err := e.matchUsers(a.filters, a.allUsers, nil)
		if err != nil {
			return nil, fmt.Errorf("cannot evaluate user segments: %w", err)
		}
		aud.Or(bm)
		aud.Remove(a.sender)
	}
	return aud, nil
}

// audienceParts resolves what of an audience needs no user scan.
func (e *Engine) audienceParts(segs []*storage.Segment, kind storage.AudienceKind, userIDs []string, senderID string) (*audienceParts, error) {
	a := &audienceParts{}
	var (
		parts    []*bitmap.Bitmap
		senders  bool
		chanRaws [][]byte
		static   []storage.Bits // static segments' targets
	)
	for _, s := range segs {
		switch {
		case s.AllUsers:
			a.allUsers = true
		case s.AllSenderChannels:
			senders = true
		case len(s.Filter) > 0 && kind == storage.AudienceUsers:
			f, err := filter.Compile(s.Filter, filter.UserSchema)
			if err != nil {
				return nil, fmt.Errorf("cannot compile the stored filter of segment %q: %w", s.ID, err)
			}
			a.filters = append(a.filters, f)
		case len(s.Filter) > 0:
			chanRaws = append(chanRaws, s.Filter)
		default:
			static = append(static, storage.SegmentBits(s.ID))
		}
	}
	if len(static) > 0 {
		// One pass over every static segment's containers, whatever their overlap.
		bm, err := bitmap.LoadUnion(e.db, static)
		if err != nil {
			return nil, fmt.Errorf("cannot load segment targets: %w", err)
		}
		parts = append(parts, bm)
		// Pending targets (added before they named a user or channel) that do now.
		in := e.db.Users
		if kind == storage.AudienceChannels {
			in = e.db.Channels
		}
		var unresolved []string
		for _, s := range segs {
			if !isStatic(s) {
				continue
			}
			err := storage.ScanSegmentPending(e.db, s.ID, func(target []byte) bool {
				if ord, ok := in.LookupBytes(target); ok {
					bm.Add(ord)
				} else {
					unresolved = append(unresolved, string(target))
				}
				return true
			})
			if err != nil {
				return nil, fmt.Errorf("cannot load the pending targets of segment %q: %w", s.ID, err)
			}
		}
		slices.Sort(unresolved)
		a.unresolved = uint64(len(slices.Compact(unresolved)))
	}
	for _, raw := range chanRaws {
		bm, err := e.matchChannels(raw, nil)
		if err != nil {
			return nil, fmt.Errorf("cannot evaluate channel segments: %w", err)
		}
		parts = append(parts, bm)
	}
	if senders {
		bm, err := e.senderChannels(senderID)
		if err != nil {
			return nil, err
		}
		parts = append(parts, bm)
	}
	if len(userIDs) > 0 {
		bm := bitmap.New()
		for _, id := range userIDs {
			if ord, ok := e.db.Users.Lookup(id); ok {
				bm.Add(ord)
			}
		}
		parts = append(parts, bm)
	}
	a.base = bitmap.Union(parts...)
	a.base.Remove(0)
	if kind == storage.AudienceUsers {
		if ord, ok := e.db.Users.Lookup(senderID); ok {
			a.sender = ord
			a.base.Remove(ord)
		}
	}
	return a, nil
}

// audienceScan evaluates an audience that needs a user scan while the fan-out sends it: the scan
// goes through the users in ordinal order in its own goroutine, and the fan-out takes the
// ordinals the scan has passed (each decided: in the audience or not), so the first chunk goes out
// as soon as the scan passed its receivers instead of after the whole scan.
type audienceScan struct {
	mu   sync.Mutex
	cond *sync.Cond
	// bm is the audience so far: the base, and the scanned users that joined it.
	bm *bitmap.Bitmap
	// upTo: every ordinal ≤ upTo is decided (^0 once the scan ended).
	upTo uint32
	done bool
	err  error
	// unresolved is audienceParts.unresolved.
	unresolved uint64
}

// scanAudience starts evaluating a. Stop the scan by closing quit.
func (e *Engine) scanAudience(a *audienceParts, quit <-chan struct{}) *audienceScan {
	s := &audienceScan{bm: a.base.Clone(), unresolved: a.unresolved}
	s.cond = sync.NewCond(&s.mu)
	go func() {
		const every = 1024 // scanned users between publications
		var (
			batch []uint32
			last  uint32
			n     int
		)
		publish := func(upTo uint32) {
			s.mu.Lock()
			s.bm.AddMany(batch)
			s.upTo = upTo
			s.mu.Unlock()
			s.cond.Broadcast()
			batch = batch[:0]
		}
		stopped := false
		err := e.ScanUsers(func(ord uint32, u *storage.User) bool {
			if n++; n%every == 0 {
				if isClosed(quit) {
					stopped = true
					return false
				}
				publish(last)
			}
			if ord != a.sender && a.matches(u) {
				batch = append(batch, ord)
			}
			last = ord
			return true
		})
		if err == nil && stopped {
			err = errFanoutStopped
		}
		s.mu.Lock()
		s.bm.AddMany(batch)
		s.upTo, s.done, s.err = ^uint32(0), true, err
		s.mu.Unlock()
		s.cond.Broadcast()
	}()
	return s
}

// partialAfter is how long the fan-out waits for the scan to decide a whole chunk.
const partialAfter = 5 * time.Millisecond

// each calls fn with the audience's ordinals after `after`, ascending, in chunks of up to n, as
// the scan decides them. It returns the scan's error, or fn's.
func (s *audienceScan) each(after uint32, n int, fn func(ords []uint32) error) error {
	buf := make([]uint32, 0, n)
	for {
		s.mu.Lock()
		for !s.done && s.upTo <= after {
			s.cond.Wait()
		}
		// NB: the scan publishes what it decided every 1024 users; a partial chunk is taken once
		// the scan ended, or when it has waited partialAfter: a sparse filter does not hold the
		// first messages back until a whole chunk matched.
		for t := time.Now(); ; {
			buf = s.bm.AppendRange(buf[:0], after, s.upTo, n)
			if len(buf) == n || s.done || len(buf) > 0 && time.Since(t) > partialAfter {
				break
			}
			s.cond.Wait()
		}
		done, err := s.done, s.err
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if len(buf) == 0 && done {
			return nil
		}
		if err := fn(buf); err != nil {
			return err
		}
		after = buf[len(buf)-1]
	}
}

// wait waits for the scan to end and returns the whole audience (nil when the scan failed).
func (s *audienceScan) wait() *bitmap.Bitmap {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.done {
		s.cond.Wait()
	}
	if s.err != nil {
		return nil
	}
	return s.bm
}

// frozen returns the whole audience once the scan ended (nil before).
func (s *audienceScan) frozen() *bitmap.Bitmap {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done || s.err != nil {
		return nil
	}
	return s.bm
}

// senderChannels returns the channels user senderID is a member of.
func (e *Engine) senderChannels(senderID string) (*bitmap.Bitmap, error) {
	bm := bitmap.New()
	ord, ok := e.db.Users.Lookup(senderID)
	if !ok {
		return bm, nil
	}
	err := storage.ScanUserChannels(e.db, ord, func(ch uint32) bool {
		bm.Add(ch)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read the channels of %q: %w", senderID, err)
	}
	return bm, nil
}
