package storage

import (
	"encoding/binary"
	"fmt"
	"sync"
	"unsafe"
)

// Interner maps string ids (user ids, channel cids) to dense uint32 ordinals starting at 1, and back.
// Ordinal 0 means "none". Mappings never change once assigned and are durable before Intern returns.
//
// The whole table lives in memory (about 60 bytes per id) and is loaded from the reverse keyspace at
// open: lookups never touch Pebble, so no forward index is stored.
// Interner is safe for concurrent use; lookups never wait for an fsync.
type Interner struct {
	db   *DB
	kind byte

	// allocMu serialises allocation of new ordinals (one Pebble commit at a time).
	allocMu sync.Mutex

	mu   sync.RWMutex
	ords map[string]uint32
	ids  []string // ids[ord]; ids[0] == ""
}

func openInterner(db *DB, kind byte) (*Interner, error) {
	in := &Interner{db: db, kind: kind, ords: make(map[string]uint32), ids: []string{""}}
	lower := []byte{prefixInternRev, kind}
	it := db.NewIter(lower, PrefixEnd(nil, lower))
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 6 {
			_ = it.Close()
			return nil, fmt.Errorf("cannot load interner %c: bad key %x", kind, k)
		}
		ord := binary.BigEndian.Uint32(k[2:])
		if int(ord) != len(in.ids) {
			_ = it.Close()
			return nil, fmt.Errorf("cannot load interner %c: ordinal %d follows %d", kind, ord, len(in.ids)-1)
		}
		id := string(it.Value())
		in.ids = append(in.ids, id)
		in.ords[id] = ord
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("cannot load interner %c: %w", kind, err)
	}
	return in, nil
}

// Lookup returns the ordinal of id, or 0 and false when id was never interned.
func (in *Interner) Lookup(id string) (uint32, bool) {
	in.mu.RLock()
	ord, ok := in.ords[id]
	in.mu.RUnlock()
	return ord, ok
}

// LookupBytes is Lookup for a byte slice id, without allocating.
func (in *Interner) LookupBytes(id []byte) (uint32, bool) {
	in.mu.RLock()
	ord, ok := in.ords[string(id)]
	in.mu.RUnlock()
	return ord, ok
}

// ID returns the id of ord, or "" when ord is unknown.
func (in *Interner) ID(ord uint32) string {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if int(ord) >= len(in.ids) {
		return ""
	}
	return in.ids[ord]
}

// Max returns the highest ordinal assigned so far.
func (in *Interner) Max() uint32 {
	in.mu.RLock()
	n := len(in.ids) - 1
	in.mu.RUnlock()
	return uint32(n)
}

// Intern appends to dst the ordinal of every id in ids, assigning new ordinals to unknown ids.
// New mappings are committed with fsync before Intern returns, so a record written later under the
// ordinal can always be resolved back to its id. Duplicate ids get the same ordinal.
func (in *Interner) Intern(dst []uint32, ids []string) ([]uint32, error) {
	start := len(dst)
	missing := false
	in.mu.RLock()
	for _, id := range ids {
		ord := in.ords[id]
		missing = missing || ord == 0
		dst = append(dst, ord)
	}
	seen := len(in.ids)
	in.mu.RUnlock()
	if !missing {
		return dst, nil
	}

	in.allocMu.Lock()
	defer in.allocMu.Unlock()
	// Re-check under allocMu: another allocator may have assigned some meanwhile.
	in.mu.RLock()
	next := uint32(len(in.ids))
	in.mu.RUnlock()
	// NB: when nothing was allocated since the first pass, its misses are still misses.
	recheck := int(next) != seen
	var (
		newIDs []string
		fresh  map[string]uint32
		b      = in.db.NewBatch()
		key    []byte
	)
	for i, id := range ids {
		if dst[start+i] != 0 {
			continue
		}
		var ord uint32
		if recheck {
			in.mu.RLock()
			ord = in.ords[id]
			in.mu.RUnlock()
		}
		if ord == 0 {
			if fresh == nil {
				fresh = make(map[string]uint32, len(ids)-i)
			}
			ord = fresh[id]
		}
		if ord == 0 {
			ord = next
			next++
			fresh[id] = ord
			newIDs = append(newIDs, id)
			key = binary.BigEndian.AppendUint32(append(key[:0], prefixInternRev, in.kind), ord)
			b.Set(key, unsafe.Slice(unsafe.StringData(id), len(id))) // Set copies
		}
		dst[start+i] = ord
	}
	if len(newIDs) == 0 {
		b.Close()
		return dst, nil
	}
	if err := b.Commit(true); err != nil {
		return dst[:start], fmt.Errorf("cannot intern %d ids: %w", len(newIDs), err)
	}
	in.mu.Lock()
	for _, id := range newIDs {
		ord := fresh[id]
		if int(ord) != len(in.ids) {
			in.mu.Unlock()
			panic(fmt.Sprintf("BUG: interner %c: ordinal %d assigned out of order (have %d)", in.kind, ord, len(in.ids)))
		}
		in.ids = append(in.ids, id)
		in.ords[id] = ord
	}
	in.mu.Unlock()
	return dst, nil
}

// InternOne is Intern for a single id.
func (in *Interner) InternOne(id string) (uint32, error) {
	var buf [1]uint32
	ords, err := in.Intern(buf[:0], []string{id})
	if err != nil {
		return 0, err
	}
	return ords[0], nil
}
