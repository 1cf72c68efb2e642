package engine

import (
	"math/bits"
	"sync"
)

// recordLocks serialises the writers of one kind of record (users, segments, campaigns: one
// table each) with a fixed set of stripes instead of a mutex per record, so it never grows.
//
// Contract:
//  1. A record's stripe is a hash of its key (a user's ordinal, a segment's or campaign's id);
//     records sharing a stripe serialise, nothing else follows from it.
//  2. A writer holds its records' stripes from the read it modifies until its commit returned, so
//     no concurrent write of the same record is lost.
//  3. A writer needing several stripes of a table takes them at once, lock(mask) in ascending
//     stripe order; it never takes a stripe of a table while it holds one of the same table.
//  4. Between tables and with the channel latches, the order of engine/doc.go "Lock order" holds.
type recordLocks struct {
	stripes [recordStripes]sync.Mutex
}

// recordStripes is the number of stripes of a table: a set of stripes is a uint64 mask.
const recordStripes = 64

// ordsMask returns the stripes of the records keyed by ords.
func ordsMask(ords []uint32) uint64 {
	var m uint64
	for _, o := range ords {
		m |= 1 << (o % recordStripes)
	}
	return m
}

// idMask returns the stripe of the record keyed by id (FNV-1a).
func idMask(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * 1099511628211
	}
	return 1 << (h % recordStripes)
}

// lock takes the stripes of mask in ascending order.
func (l *recordLocks) lock(mask uint64) {
	for m := mask; m != 0; m &= m - 1 {
		l.stripes[bits.TrailingZeros64(m)].Lock()
	}
}

// unlock releases the stripes of mask, which the caller holds.
func (l *recordLocks) unlock(mask uint64) {
	for m := mask; m != 0; m &= m - 1 {
		l.stripes[bits.TrailingZeros64(m)].Unlock()
	}
}

// lockID takes the stripe of the record keyed by id and returns its unlock function.
func (l *recordLocks) lockID(id string) (unlock func()) {
	m := idMask(id)
	l.lock(m)
	return func() { l.unlock(m) }
}
