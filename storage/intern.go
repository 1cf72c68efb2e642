package storage

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"unsafe"
)

// Interner maps string ids (user ids, channel cids) to dense uint32 ordinals starting at 1, and back.
// Ordinal 0 means "none". Mappings never change once assigned and are durable before Intern returns.
// The mappings are stored under prefix 0x02 (kind, be32 ordinal → id) and indexed in memory at open:
//
//   - an open-addressing hash table of ordinals, and a 32-bit hash per ordinal (about 10 bytes
//     per id), outside the Go heap;
//   - for users, the ids themselves in append-only pages outside the Go heap (the id's length + 5
//     bytes more), so ID never touches Pebble and returns strings that alias those pages;
//   - for channels, no ids: a lookup that finds an ordinal with the id's hash checks the stored
//     mapping (a Pebble read, or one forward pass for a batch of ids), and ID reads it. Channel
//     cids are long (a distinct channel's is 62 bytes) and mostly read through channel records.
//
// So 10,000,000 users with 9-byte ids take about 200 MB and 10,000,000 channels about 110 MB.
// Interner is safe for concurrent use; lookups never wait for an fsync.
type Interner struct {
	db   *DB
	kind byte
	// keepIDs keeps every id in memory (users).
	keepIDs bool
	seed    maphash.Seed

	// allocMu serialises allocation of new ordinals (one Pebble commit at a time).
	allocMu sync.Mutex

	mu sync.RWMutex
	n  uint32 // highest ordinal
	// hashes[ord] is the 32-bit hash of ord's id; table slots are ordinals (0 = empty), a slot
	// chain starting at hash & (len(table)-1).
	hashes   pagedUint32s
	table    []uint32
	tableMem []byte
	// keepIDs only: offs[ord] locates ord's id in pages (page<<pageShift | offset of its entry: a
	// uvarint length and the id). Pages are never moved or unmapped: ID's strings alias them.
	offs  pagedUint32s
	pages [][]byte
	used  int // bytes used in the last page
}

const (
	pageShift = 20 // 1 MiB id pages; 4,096 of them address 4 GiB of ids
	pageSize  = 1 << pageShift
)

func openInterner(db *DB, kind byte, keepIDs bool) (*Interner, error) {
	in := &Interner{db: db, kind: kind, keepIDs: keepIDs, seed: maphash.MakeSeed()}
	lower := []byte{prefixInternRev, kind}
	it := db.NewIter(lower, PrefixEnd(nil, lower))
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 6 {
			_ = it.Close()
			return nil, fmt.Errorf("cannot load interner %c: bad key %x", kind, k)
		}
		ord := binary.BigEndian.Uint32(k[2:])
		if ord != in.n+1 {
			_ = it.Close()
			return nil, fmt.Errorf("cannot load interner %c: ordinal %d follows %d", kind, ord, in.n)
		}
		in.add(it.Value(), in.hashBytes(it.Value()))
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("cannot load interner %c: %w", kind, err)
	}
	return in, nil
}

func (in *Interner) hashString(id string) uint32 { return fold(maphash.String(in.seed, id)) }
func (in *Interner) hashBytes(id []byte) uint32  { return fold(maphash.Bytes(in.seed, id)) }
func fold(h uint64) uint32                       { return (uint32(h) ^ uint32(h>>32)) & hashMask }

// hashMask is all ones; tests narrow it to make ids collide.
var hashMask = ^uint32(0)

// add appends the next ordinal for id (whose hash is h) to the memory index; in.mu is held for
// writing (or the interner is not shared yet).
func (in *Interner) add(id []byte, h uint32) uint32 {
	in.n++
	ord := in.n
	in.hashes.set(ord, h)
	if in.keepIDs {
		need := binary.MaxVarintLen32 + len(id)
		if len(in.pages) == 0 || in.used+need > pageSize {
			in.pages = append(in.pages, offheapBytes(pageSize))
			in.used = 0
		}
		p := in.pages[len(in.pages)-1]
		in.offs.set(ord, uint32(len(in.pages)-1)<<pageShift|uint32(in.used))
		in.used += binary.PutUvarint(p[in.used:], uint64(len(id)))
		in.used += copy(p[in.used:], id)
	}
	if int(in.n) > len(in.table)/4*3 {
		in.grow()
	}
	mask := uint32(len(in.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		if in.table[i] == 0 {
			in.table[i] = ord
			return ord
		}
	}
}

// grow doubles the table and reinserts every ordinal.
func (in *Interner) grow() {
	size := max(1024, 2*len(in.table))
	table, mem := offheapUint32s(size)
	mask := uint32(size - 1)
	for ord := uint32(1); ord < in.n; ord++ { // in.n is being added: the caller inserts it
		for i := in.hashes.get(ord) & mask; ; i = (i + 1) & mask {
			if table[i] == 0 {
				table[i] = ord
				break
			}
		}
	}
	offheapFree(in.tableMem)
	in.table, in.tableMem = table, mem
}

// stored returns the id of ord as kept in memory (keepIDs only); it aliases the page.
func (in *Interner) stored(ord uint32) []byte {
	loc := in.offs.get(ord)
	p := in.pages[loc>>pageShift][loc&(pageSize-1):]
	n, k := binary.Uvarint(p)
	return p[k : k+int(n) : k+int(n)]
}

// probe calls fn for each ordinal whose id has hash h, until fn returns false; in.mu is held.
func (in *Interner) probe(h uint32, fn func(ord uint32) bool) {
	if len(in.table) == 0 {
		return
	}
	mask := uint32(len(in.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		ord := in.table[i]
		if ord == 0 {
			return
		}
		if in.hashes.get(ord) == h && !fn(ord) {
			return
		}
	}
}

// Lookup returns the ordinal of id, or 0 and false when id was never interned.
func (in *Interner) Lookup(id string) (uint32, bool) {
	h := in.hashString(id)
	if in.keepIDs {
		var found uint32
		in.mu.RLock()
		in.probe(h, func(ord uint32) bool {
			if string(in.stored(ord)) == id {
				found = ord
				return false
			}
			return true
		})
		in.mu.RUnlock()
		return found, found != 0
	}
	var cands [4]uint32
	c := in.candidates(cands[:0], h)
	for _, ord := range c {
		if v, err := in.db.Get(nil, in.key(nil, ord)); err == nil && string(v) == id {
			return ord, true
		}
	}
	return 0, false
}

// candidates appends the ordinals whose id has hash h (ids not kept in memory).
func (in *Interner) candidates(dst []uint32, h uint32) []uint32 {
	in.mu.RLock()
	in.probe(h, func(ord uint32) bool {
		dst = append(dst, ord)
		return true
	})
	in.mu.RUnlock()
	return dst
}

// LookupBytes is Lookup for a byte slice id, without allocating.
func (in *Interner) LookupBytes(id []byte) (uint32, bool) {
	return in.Lookup(unsafe.String(unsafe.SliceData(id), len(id)))
}

// ID returns the id of ord, or "" when ord is unknown. For users the string aliases memory the
// interner keeps for the life of the process; for channels it is read from Pebble (channel records
// hold their type and id too, and are the cheaper source when at hand).
func (in *Interner) ID(ord uint32) string {
	in.mu.RLock()
	if ord == 0 || ord > in.n {
		in.mu.RUnlock()
		return ""
	}
	if in.keepIDs {
		b := in.stored(ord)
		in.mu.RUnlock()
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	in.mu.RUnlock()
	v, err := in.db.Get(nil, in.key(nil, ord))
	if err != nil {
		return ""
	}
	return string(v)
}

// Max returns the highest ordinal assigned so far.
func (in *Interner) Max() uint32 {
	in.mu.RLock()
	n := in.n
	in.mu.RUnlock()
	return n
}

func (in *Interner) key(dst []byte, ord uint32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, prefixInternRev, in.kind), ord)
}

// resolve sets dst[i] to the ordinal of ids[i] for every id interned already (others stay 0) and
// reports whether any is missing. Ids not kept in memory are checked against the stored mappings
// in one forward pass.
func (in *Interner) resolve(dst []uint32, ids []string) (missing bool, err error) {
	if in.keepIDs {
		for i, id := range ids {
			dst[i], _ = in.Lookup(id)
			missing = missing || dst[i] == 0
		}
		return missing, nil
	}
	type cand struct {
		ord uint32
		i   int
	}
	var cands []cand
	var buf [4]uint32
	for i, id := range ids {
		dst[i] = 0
		for _, ord := range in.candidates(buf[:0], in.hashString(id)) {
			cands = append(cands, cand{ord, i})
		}
	}
	if len(cands) > 0 {
		slices.SortFunc(cands, func(a, b cand) int { return int(a.ord) - int(b.ord) })
		r := in.db.NewRecordReader()
		for _, c := range cands {
			if dst[c.i] != 0 {
				continue
			}
			if v, ok := r.get(&r.interned, prefixInternRev, in.key(r.kbuf[:0], c.ord)); ok && string(v) == ids[c.i] {
				dst[c.i] = c.ord
			}
		}
		if err := r.Close(); err != nil {
			return false, err
		}
	}
	for i := range ids {
		missing = missing || dst[i] == 0
	}
	return missing, nil
}

// LookupMany appends to dst the ordinal of every id in ids, 0 for an id never interned: Lookup for
// a batch, checking stored mappings in one forward pass.
func (in *Interner) LookupMany(dst []uint32, ids []string) ([]uint32, error) {
	start := len(dst)
	dst = slices.Grow(dst, len(ids))[:start+len(ids)]
	if _, err := in.resolve(dst[start:], ids); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// Intern appends to dst the ordinal of every id in ids, assigning new ordinals to unknown ids.
// New mappings are committed with fsync before Intern returns, so a record written later under the
// ordinal can always be resolved back to its id. Duplicate ids get the same ordinal.
func (in *Interner) Intern(dst []uint32, ids []string) ([]uint32, error) {
	start := len(dst)
	dst = slices.Grow(dst, len(ids))[:start+len(ids)]
	out := dst[start:]
	missing, err := in.resolve(out, ids)
	if err != nil || !missing {
		return dst, err
	}
	in.allocMu.Lock()
	defer in.allocMu.Unlock()
	// NB: re-resolve under allocMu: another allocator may have assigned some meanwhile.
	if missing, err = in.resolve(out, ids); err != nil || !missing {
		return dst, err
	}
	in.mu.RLock()
	next := in.n + 1
	in.mu.RUnlock()
	var (
		fresh map[string]uint32
		order []string
		b     = in.db.NewWriteBatch(len(ids) * 64)
		key   []byte
	)
	for i, id := range ids {
		if out[i] != 0 {
			continue
		}
		if fresh == nil {
			fresh = make(map[string]uint32)
		}
		ord, ok := fresh[id]
		if !ok {
			ord = next
			next++
			fresh[id] = ord
			order = append(order, id)
			key = in.key(key[:0], ord)
			b.Set(key, unsafe.Slice(unsafe.StringData(id), len(id))) // Set copies
		}
		out[i] = ord
	}
	if err := b.Commit(true); err != nil {
		return dst[:start], fmt.Errorf("cannot intern %d ids: %w", len(order), err)
	}
	in.mu.Lock()
	for _, id := range order {
		if got := in.add(unsafe.Slice(unsafe.StringData(id), len(id)), in.hashString(id)); got != fresh[id] {
			in.mu.Unlock()
			panic(fmt.Sprintf("BUG: interner %c: ordinal %d assigned out of order (got %d)", in.kind, fresh[id], got))
		}
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

// MemoryBytes returns the memory the interner's index holds outside the Go heap.
func (in *Interner) MemoryBytes() int {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return len(in.tableMem) + in.hashes.bytes() + in.offs.bytes() + len(in.pages)*pageSize
}

// pagedUint32s is a growable array of uint32s in fixed pages outside the Go heap: it grows without
// copying, and never moves an element.
type pagedUint32s struct {
	pages [][]uint32
}

const u32PageShift = 16

func (p *pagedUint32s) get(i uint32) uint32 {
	return p.pages[i>>u32PageShift][i&(1<<u32PageShift-1)]
}

func (p *pagedUint32s) set(i, v uint32) {
	for int(i>>u32PageShift) >= len(p.pages) {
		pg, _ := offheapUint32s(1 << u32PageShift)
		p.pages = append(p.pages, pg)
	}
	p.pages[i>>u32PageShift][i&(1<<u32PageShift-1)] = v
}

func (p *pagedUint32s) bytes() int { return len(p.pages) * 4 << u32PageShift }
