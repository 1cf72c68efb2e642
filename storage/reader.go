package storage

import (
	"errors"
	"sync"
)

// Reader reads the store: a *DB reads what is committed, a *Batch also sees its own uncommitted
// writes. Every typed read of this package (GetRecord, ReadUser, ScanSegments, ScanBits, ...)
// goes through one, so the caller chooses whether a read sees a batch in progress.
type Reader interface {
	// Get appends the value of key to dst and returns it, or ErrNotFound.
	Get(dst, key []byte) ([]byte, error)
	// NewIter iterates the keys in [lower, upper); the caller must Close it.
	NewIter(lower, upper []byte) *Iter
}

var (
	_ Reader = (*DB)(nil)
	_ Reader = (*Batch)(nil)
)

// Record is a stored value that decodes itself: User, Channel, Member, Message, Segment,
// Campaign, CampaignRun.
type Record interface {
	Unmarshal(src []byte) error
}

// GetRecord reads the value under key through r and decodes it into rec. found is false, and rec
// untouched, when key does not exist. Whatever rec aliases after decoding (see its Unmarshal) is
// a buffer of its own, never r's memory.
func GetRecord(r Reader, key []byte, rec Record) (found bool, err error) {
	v, err := r.Get(nil, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := rec.Unmarshal(v); err != nil {
		return false, err
	}
	return true, nil
}

// marshaler is a record that encodes itself (append-style).
type marshaler interface {
	Marshal(dst []byte) []byte
}

// putRecord stores rec encoded under key in b, encoding into a pooled buffer (Set copies).
func (b *Batch) putRecord(key []byte, rec marshaler) {
	buf := valueBufs.Get().(*[]byte)
	*buf = rec.Marshal((*buf)[:0])
	b.Set(key, *buf)
	valueBufs.Put(buf)
}

var valueBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}
