package engine

import (
	"errors"
	"fmt"

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
	it := e.db.NewIter([]byte{storage.PrefixSegment}, []byte{storage.PrefixSegment + 1})
	var s storage.Segment
	var err error
	for ok := it.First(); ok; ok = it.Next() {
		if err = s.Unmarshal(it.Value()); err != nil {
			break
		}
		if s.Computing && s.DeletedAt == 0 {
			e.segments.enqueue(s.ID)
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot resume segment sizing: %w", err)
	}
	wake := e.segments.wakeCh()
	e.goBackground(func(stop <-chan struct{}) {
		for {
			id, ok := e.segments.pop()
			if !ok {
				select {
				case <-stop:
					return
				case <-wake:
					continue
				}
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

	mu := e.segments.stripe(id)
	mu.Lock()
	defer mu.Unlock()
	cur, found, err := readSegment(e.db, id)
	if err != nil || !found || cur.DeletedAt != 0 || !cur.Computing || cur.Generation != s.Generation {
		return err
	}
	tx := e.NewTx()
	if bm != nil {
		bitmap.Store(tx.B, storage.SegmentBitsPrefix(nil, id), bm)
	}
	cur.Size = size
	cur.Computing = false
	putSegment(tx.B, cur)
	if err := e.Commit(tx); err != nil {
		return fmt.Errorf("cannot store the size of segment %q: %w", id, err)
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
		d := &channelDoc{e: e, ord: ord, ch: ch, cid: e.db.Channels.ID(ord)}
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
