package bitmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/campaignd/campaignd/storage"
)

// A stored bitmap is one Pebble key per non-empty 2^16 container:
//
//	<prefix><be16 high 16 bits> -> container (see container.go)
//
// prefix identifies the owner (e.g. 0x11 <be32 len><segment id>). It must not be a prefix of
// another owner's prefix; length-prefixed ids (storage.Key.LStr) guarantee that.

// Reader is what Load and Cardinality read through: a *storage.DB, or a *storage.Batch to see
// its uncommitted writes.
type Reader interface {
	NewIter(lower, upper []byte) *storage.Iter
}

// Getter reads single keys: a *storage.DB or a *storage.Batch.
type Getter interface {
	Get(dst, key []byte) ([]byte, error)
}

// Roaring portable-format constants (github.com/RoaringBitmap/RoaringFormatSpec).
const (
	serialCookieNoRun = 12346
	serialCookie      = 12347
	noOffsetThreshold = 4
)

type loadedContainer struct {
	hi   uint16
	kind byte
	card int
	off  int // payload offset in data
	n    int // payload length
}

// Load reads the bitmap stored under prefix; a prefix with no containers gives an empty bitmap.
// The result is the caller's.
//
// NB: Load checks each container's shape (kind, lengths, cardinality) but not the order of its
// values, which the writers in this package guarantee; decode checks everything.
func Load(r Reader, prefix []byte) (*Bitmap, error) {
	it := r.NewIter(prefix, storage.PrefixEnd(nil, prefix))
	var (
		ents []loadedContainer
		data []byte
		err  error
	)
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+2 {
			err = fmt.Errorf("%w: key %x under bitmap prefix %x", ErrCorrupt, k, prefix)
			break
		}
		kind, card, payload, cerr := checkContainer(it.Value(), false)
		if cerr != nil {
			err = fmt.Errorf("container %x: %w", k, cerr)
			break
		}
		ents = append(ents, loadedContainer{hi: binary.BigEndian.Uint16(k[len(prefix):]), kind: kind, card: card, off: len(data), n: len(payload)})
		data = append(data, payload...)
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("cannot load bitmap %x: %w", prefix, err)
	}
	if len(ents) == 0 {
		return New(), nil
	}
	buf := appendPortable(make([]byte, 0, len(data)+8+len(ents)*8+len(ents)/8+1), ents, data)
	rb := roaring.New()
	// NB: the containers alias buf, which nothing else references; roaring copies on write.
	if _, err := rb.FromUnsafeBytes(buf); err != nil {
		return nil, fmt.Errorf("cannot load bitmap %x: %w", prefix, err)
	}
	return &Bitmap{rb: rb}, nil
}

// LoadUnion returns the union of the bitmaps stored under prefixes, read through r. It ORs every
// stored container straight into one dense accumulator per 2^16 container and builds the result
// once, so its cost is one pass over the stored bytes whatever the overlap; it is the way to
// resolve many large segments at once.
func LoadUnion(r Reader, prefixes [][]byte) (*Bitmap, error) {
	// Large unions are split over up to GOMAXPROCS (at most 4) workers, each with its own
	// accumulators, merged at the end.
	workers := min(runtime.GOMAXPROCS(0), 4, len(prefixes)/4)
	if _, ok := r.(*storage.Batch); ok || workers < 1 {
		workers = 1 // NB: a batch must not be read concurrently
	}
	accs := make([][]*container, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(prefixes) && errs[w] == nil; i += workers {
				accs[w], errs[w] = orInto(accs[w], r, prefixes[i])
			}
		}()
	}
	wg.Wait()
	acc := accs[0]
	defer func() {
		for _, a := range accs {
			for _, c := range a {
				if c != nil {
					putContainer(c)
				}
			}
		}
	}()
	for w, a := range accs {
		if errs[w] != nil {
			return nil, errs[w]
		}
		if w == 0 {
			continue
		}
		for hi, c := range a {
			if c == nil {
				continue
			}
			if hi >= len(acc) {
				acc = append(acc, make([]*container, hi+1-len(acc))...)
				accs[0] = acc
			}
			if acc[hi] == nil {
				acc[hi], a[hi] = c, nil
				continue
			}
			dst := &acc[hi].words
			for k := range dst {
				dst[k] |= c.words[k]
			}
		}
	}
	var (
		ents []loadedContainer
		data []byte
	)
	for hi, c := range acc {
		if c == nil {
			continue
		}
		card := c.card()
		if card == 0 {
			continue
		}
		start := len(data)
		var kind byte
		data, kind = c.appendPayload(data, card)
		ents = append(ents, loadedContainer{hi: uint16(hi), kind: kind, card: card, off: start, n: len(data) - start})
	}
	if len(ents) == 0 {
		return New(), nil
	}
	buf := appendPortable(make([]byte, 0, len(data)+8+len(ents)*8+len(ents)/8+1), ents, data)
	rb := roaring.New()
	if _, err := rb.FromUnsafeBytes(buf); err != nil {
		return nil, fmt.Errorf("cannot build a union: %w", err)
	}
	return &Bitmap{rb: rb}, nil
}

// orInto ORs every container stored under prefix into acc (by container hi, grown on demand).
func orInto(acc []*container, r Reader, prefix []byte) ([]*container, error) {
	it := r.NewIter(prefix, storage.PrefixEnd(nil, prefix))
	var err error
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+2 {
			err = fmt.Errorf("%w: key %x under bitmap prefix %x", ErrCorrupt, k, prefix)
			break
		}
		hi := int(binary.BigEndian.Uint16(k[len(prefix):]))
		if hi >= len(acc) {
			acc = append(acc, make([]*container, hi+1-len(acc))...)
		}
		c := acc[hi]
		if c == nil {
			c = getContainer()
			acc[hi] = c
		}
		if err = c.or(it.Value(), false); err != nil {
			err = fmt.Errorf("container %x: %w", k, err)
			break
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return acc, fmt.Errorf("cannot load bitmap %x: %w", prefix, err)
	}
	return acc, nil
}

// appendPortable appends roaring's portable serialization of the containers ents, whose payloads
// are in data, to dst.
func appendPortable(dst []byte, ents []loadedContainer, data []byte) []byte {
	size := len(ents)
	hasRun := false
	for i := range ents {
		hasRun = hasRun || ents[i].kind == kindRun
	}
	start := len(dst)
	if hasRun {
		dst = binary.LittleEndian.AppendUint32(dst, serialCookie|uint32(size-1)<<16)
		runs := len(dst)
		dst = append(dst, make([]byte, (size+7)/8)...)
		for i := range ents {
			if ents[i].kind == kindRun {
				dst[runs+i/8] |= 1 << (i % 8)
			}
		}
	} else {
		dst = binary.LittleEndian.AppendUint32(dst, serialCookieNoRun)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(size))
	}
	for i := range ents {
		dst = binary.LittleEndian.AppendUint16(dst, ents[i].hi)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(ents[i].card-1))
	}
	if !hasRun || size >= noOffsetThreshold {
		off := len(dst) - start + 4*size
		for i := range ents {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(off))
			off += ents[i].n
		}
	}
	return append(dst, data...)
}

// Cardinality returns the number of ordinals stored under prefix without decoding the containers.
func Cardinality(r Reader, prefix []byte) (uint64, error) {
	it := r.NewIter(prefix, storage.PrefixEnd(nil, prefix))
	var n uint64
	var err error
	for ok := it.First(); ok; ok = it.Next() {
		_, card, _, cerr := checkContainer(it.Value(), false)
		if cerr != nil {
			err = cerr
			break
		}
		n += uint64(card)
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("cannot count bitmap %x: %w", prefix, err)
	}
	return n, nil
}

// Contains reports whether ord is stored under prefix, reading one container.
func Contains(g Getter, prefix []byte, ord uint32) (bool, error) {
	key := binary.BigEndian.AppendUint16(slices.Clip(prefix), uint16(ord>>16))
	v, err := g.Get(nil, key)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c := getContainer()
	defer putContainer(c)
	if err := c.decode(v); err != nil {
		return false, fmt.Errorf("cannot read bitmap container %x: %w", key, err)
	}
	return c.has(uint16(ord)), nil
}

// AddTx adds ords (any order, duplicates allowed) to the bitmap stored under prefix, writing into
// b only the containers that change. It returns the ordinals that were absent, ascending and
// without duplicates, appended to dst. Reads go through b, so several calls in one batch compose.
// The caller must serialise writers of one prefix until b commits.
func AddTx(b *storage.Batch, prefix []byte, ords []uint32, dst []uint32) ([]uint32, error) {
	return modifyTx(b, prefix, ords, dst, true)
}

// RemoveTx removes ords from the bitmap stored under prefix, like AddTx; containers left empty are
// deleted. It returns the ordinals that were present, ascending and without duplicates, appended
// to dst.
func RemoveTx(b *storage.Batch, prefix []byte, ords []uint32, dst []uint32) ([]uint32, error) {
	return modifyTx(b, prefix, ords, dst, false)
}

func modifyTx(b *storage.Batch, prefix []byte, ords []uint32, dst []uint32, add bool) ([]uint32, error) {
	if len(ords) == 0 {
		return dst, nil
	}
	sorted := slices.Clone(ords)
	slices.Sort(sorted)
	c := getContainer()
	defer putContainer(c)
	key := append(slices.Clip(prefix), 0, 0)
	var val []byte
	var err error
	for i := 0; i < len(sorted); {
		hi := uint16(sorted[i] >> 16)
		j := i + 1
		for j < len(sorted) && uint16(sorted[j]>>16) == hi {
			j++
		}
		binary.BigEndian.PutUint16(key[len(prefix):], hi)
		val, err = b.Get(val[:0], key)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			if !add {
				i = j
				continue
			}
			c.reset()
		case err != nil:
			return dst, fmt.Errorf("cannot read bitmap container %x: %w", key, err)
		default:
			if err := c.decode(val); err != nil {
				return dst, fmt.Errorf("cannot read bitmap container %x: %w", key, err)
			}
		}
		changed := false
		for _, ord := range sorted[i:j] {
			var ok bool
			if add {
				ok = c.set(uint16(ord))
			} else {
				ok = c.unset(uint16(ord))
			}
			if ok {
				dst = append(dst, ord)
				changed = true
			}
		}
		if changed {
			if c.card() == 0 {
				b.Delete(key)
			} else {
				val = c.appendEncoded(val[:0])
				b.Set(key, val)
			}
		}
		i = j
	}
	return dst, nil
}

// Store replaces the bitmap stored under prefix with bm, in b.
func Store(b *storage.Batch, prefix []byte, bm *Bitmap) {
	Delete(b, prefix)
	c := getContainer()
	defer putContainer(c)
	key := append(slices.Clip(prefix), 0, 0)
	var val []byte
	cur, have := uint16(0), false
	flush := func() {
		if !have {
			return
		}
		binary.BigEndian.PutUint16(key[len(prefix):], cur)
		val = c.appendEncoded(val[:0])
		b.Set(key, val)
		c.reset()
		have = false
	}
	_ = bm.ForEachChunk(4096, func(ords []uint32) error {
		for _, ord := range ords {
			if hi := uint16(ord >> 16); hi != cur || !have {
				flush()
				cur, have = hi, true
			}
			c.set(uint16(ord))
		}
		return nil
	})
	flush()
}

// Delete removes the bitmap stored under prefix, in b.
func Delete(b *storage.Batch, prefix []byte) {
	b.DeleteRange(prefix, storage.PrefixEnd(nil, prefix))
}

var containerPool sync.Pool

func getContainer() *container {
	if v := containerPool.Get(); v != nil {
		return v.(*container)
	}
	return new(container)
}

func putContainer(c *container) {
	c.reset()
	containerPool.Put(c)
}
