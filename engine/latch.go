package engine

import (
	"slices"
	"sync"
)

// latchTable holds one latch per channel ordinal that some writer holds; a channel nobody writes
// has no entry, so the table never holds more than the channels being written (no unbounded map,
// no false sharing between channels as with stripes).
//
// Contract:
//  1. A writer holds a channel's latch from before it reads the channel's record (or learns that
//     it does not exist) until its batch committed, was applied (Engine.Apply: visible, its fsync
//     still running) or was discarded; then every read-modify-write of a channel (counters, next
//     message seq, members) is serialised. NB: a writer that read an applied but unsynced write
//     and commits durably makes that write durable too (Pebble syncs its WAL as a prefix).
//  2. A writer that needs several latches takes them at once with lockMany, in ascending ordinal
//     order; a writer that needs one takes it with lock. No writer takes a latch while holding
//     latches taken by another call, so waits cannot form a cycle.
//  3. While holding latches a writer may wait for the interner and for its commit, never for
//     another latch.
type latchTable struct {
	shards [latchShards]latchShard
}

const latchShards = 64

// latchShard holds the latches of the ordinals ≡ its index mod latchShards: a held latch is a
// channel that is closed when it is released.
type latchShard struct {
	mu   sync.Mutex
	held map[uint32]chan struct{}
}

func (t *latchTable) shard(ord uint32) *latchShard { return &t.shards[ord%latchShards] }

// tryLock takes ord's latch if it is free; else it returns the holder's, to wait on.
func (s *latchShard) tryLock(ord uint32) chan struct{} {
	s.mu.Lock()
	if l, ok := s.held[ord]; ok {
		s.mu.Unlock()
		return l
	}
	if s.held == nil {
		s.held = make(map[uint32]chan struct{})
	}
	s.held[ord] = make(chan struct{})
	s.mu.Unlock()
	return nil
}

// lock takes ord's latch, waiting while another writer holds it.
func (t *latchTable) lock(ord uint32) {
	s := t.shard(ord)
	for {
		l := s.tryLock(ord)
		if l == nil {
			return
		}
		<-l
	}
}

// lockMany takes the latches of ords, which must be sorted ascending and unique (contract 2).
func (t *latchTable) lockMany(ords []uint32) {
	if !slices.IsSorted(ords) {
		panic("BUG: lockMany of unsorted ordinals")
	}
	for _, o := range ords {
		t.lock(o)
	}
}

// unlock releases ord's latch, which the caller holds.
func (t *latchTable) unlock(ord uint32) {
	s := t.shard(ord)
	s.mu.Lock()
	l, ok := s.held[ord]
	if !ok {
		s.mu.Unlock()
		panic("BUG: unlock of a channel latch nobody holds")
	}
	delete(s.held, ord)
	s.mu.Unlock()
	close(l)
}

// unlockMany releases every latch of ords.
func (t *latchTable) unlockMany(ords []uint32) {
	for _, o := range ords {
		t.unlock(o)
	}
}
