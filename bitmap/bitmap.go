package bitmap

import (
	"github.com/RoaringBitmap/roaring/v2"
)

// Bitmap is a set of uint32 ordinals (interned user or channel ids), backed by a roaring bitmap.
//
// A Bitmap is not safe for concurrent mutation; any number of goroutines may read one that nobody
// mutates. Bitmaps returned by Load share immutable memory with nothing else the caller can reach,
// and copy on write.
type Bitmap struct {
	rb *roaring.Bitmap
}

// New returns an empty bitmap.
func New() *Bitmap { return &Bitmap{rb: roaring.New()} }

// Of returns a bitmap holding ords.
func Of(ords ...uint32) *Bitmap { return &Bitmap{rb: roaring.BitmapOf(ords...)} }

// Add adds ord.
func (b *Bitmap) Add(ord uint32) { b.rb.Add(ord) }

// AddMany adds every ord of ords (in any order).
func (b *Bitmap) AddMany(ords []uint32) { b.rb.AddMany(ords) }

// CheckedAdd adds ord and reports whether it was absent.
func (b *Bitmap) CheckedAdd(ord uint32) bool { return b.rb.CheckedAdd(ord) }

// Remove removes ord.
func (b *Bitmap) Remove(ord uint32) { b.rb.Remove(ord) }

// Contains reports whether ord is in the set.
func (b *Bitmap) Contains(ord uint32) bool { return b.rb.Contains(ord) }

// Cardinality returns the number of ordinals in the set.
func (b *Bitmap) Cardinality() uint64 { return b.rb.GetCardinality() }

// IsEmpty reports whether the set is empty.
func (b *Bitmap) IsEmpty() bool { return b.rb.IsEmpty() }

// Clone returns an independent copy.
func (b *Bitmap) Clone() *Bitmap { return &Bitmap{rb: b.rb.Clone()} }

// Or adds every ordinal of o to b.
func (b *Bitmap) Or(o *Bitmap) { b.rb.Or(o.rb) }

// AndNot removes every ordinal of o from b.
func (b *Bitmap) AndNot(o *Bitmap) { b.rb.AndNot(o.rb) }

// And keeps only the ordinals of b that are also in o.
func (b *Bitmap) And(o *Bitmap) { b.rb.And(o.rb) }

// Equals reports whether b and o hold the same ordinals.
func (b *Bitmap) Equals(o *Bitmap) bool { return b.rb.Equals(o.rb) }

// Minimum returns the smallest ordinal, or 0 for an empty set.
func (b *Bitmap) Minimum() uint32 {
	if b.rb.IsEmpty() {
		return 0
	}
	return b.rb.Minimum()
}

// Maximum returns the largest ordinal, or 0 for an empty set.
func (b *Bitmap) Maximum() uint32 {
	if b.rb.IsEmpty() {
		return 0
	}
	return b.rb.Maximum()
}

// ToArray returns the ordinals in ascending order, in a new slice.
func (b *Bitmap) ToArray() []uint32 { return b.rb.ToArray() }

// ForEachChunk calls fn with the ordinals in ascending order, at most n at a time (n <= 0 means
// 4096). The slice passed to fn is reused between calls: fn must not retain it. An error from fn
// stops the iteration and is returned.
func (b *Bitmap) ForEachChunk(n int, fn func(ords []uint32) error) error {
	if n <= 0 {
		n = 4096
	}
	buf := make([]uint32, n)
	it := b.rb.ManyIterator()
	for {
		k := it.NextMany(buf)
		if k == 0 {
			return nil
		}
		if err := fn(buf[:k]); err != nil {
			return err
		}
	}
}

// ForEachChunkAfter is ForEachChunk over the ordinals greater than after; it resumes an
// iteration whose last processed ordinal was after.
func (b *Bitmap) ForEachChunkAfter(after uint32, n int, fn func(ords []uint32) error) error {
	if after == 0 && !b.rb.Contains(0) {
		return b.ForEachChunk(n, fn)
	}
	if after == ^uint32(0) {
		return nil
	}
	if n <= 0 {
		n = 4096
	}
	buf := make([]uint32, 0, n)
	it := b.rb.Iterator()
	it.AdvanceIfNeeded(after + 1)
	for it.HasNext() {
		buf = append(buf, it.Next())
		if len(buf) == n {
			if err := fn(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		return fn(buf)
	}
	return nil
}

// AppendRange appends to dst, ascending, up to max ordinals of b that are greater than after and at
// most upTo.
func (b *Bitmap) AppendRange(dst []uint32, after, upTo uint32, max int) []uint32 {
	if after == ^uint32(0) {
		return dst
	}
	it := b.rb.Iterator()
	it.AdvanceIfNeeded(after + 1)
	for n := 0; n < max && it.HasNext(); n++ {
		v := it.Next()
		if v > upTo {
			break
		}
		dst = append(dst, v)
	}
	return dst
}

// Union returns a new bitmap holding every ordinal of every bm. Nil entries are skipped.
func Union(bms ...*Bitmap) *Bitmap {
	rbs := make([]*roaring.Bitmap, 0, len(bms))
	for _, bm := range bms {
		if bm != nil {
			rbs = append(rbs, bm.rb)
		}
	}
	switch len(rbs) {
	case 0:
		return New()
	case 1:
		return &Bitmap{rb: rbs[0].Clone()}
	}
	return &Bitmap{rb: roaring.FastOr(rbs...)}
}
