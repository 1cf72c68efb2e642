package bitmap

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/campaignd/campaignd/storage"
)

// A stored bitmap (storage.Bits: a segment's targets, a campaign's frozen audience) is one
// container per non-empty range of 2^16 ordinals, encoded as container.go says; storage owns the
// keys. Reads go through a storage.Reader: the *storage.DB, or a *storage.Batch to see its
// uncommitted writes.

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
func Load(r storage.Reader, bits storage.Bits) (*Bitmap, error) {
	var (
		ents []loadedContainer
		data []byte
	)
	err := storage.ScanBits(r, bits, func(hi uint16, v []byte) error {
		kind, card, payload, err := checkContainer(v, false)
		if err != nil {
			return fmt.Errorf("container %d: %w", hi, err)
		}
		ents = append(ents, loadedContainer{hi: hi, kind: kind, card: card, off: len(data), n: len(payload)})
		data = append(data, payload...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot load bitmap %s: %w", bits, err)
	}
	if len(ents) == 0 {
		return New(), nil
	}
	buf := appendPortable(make([]byte, 0, len(data)+8+len(ents)*8+len(ents)/8+1), ents, data)
	rb := roaring.New()
	// NB: the containers alias buf, which nothing else references; roaring copies on write.
	if _, err := rb.FromUnsafeBytes(buf); err != nil {
		return nil, fmt.Errorf("cannot load bitmap %s: %w", bits, err)
	}
	return &Bitmap{rb: rb}, nil
}

// LoadUnion returns the union of the stored bitmaps bits, read through r. It ORs every
// stored container straight into one dense accumulator per 2^16 container and builds the result
// once, so its cost is one pass over the stored bytes whatever the overlap; it is the way to
// resolve many large segments at once.
func LoadUnion(r storage.Reader, bits []storage.Bits) (*Bitmap, error) {
	// Large unions are split over up to GOMAXPROCS (at most 4) workers, each with its own
	// accumulators, merged at the end.
	workers := min(runtime.GOMAXPROCS(0), 4, len(bits)/4)
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
			for i := w; i < len(bits) && errs[w] == nil; i += workers {
				accs[w], errs[w] = orInto(accs[w], r, bits[i])
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

// orInto ORs every stored container of bits into acc (by container hi, grown on demand).
func orInto(acc []*container, r storage.Reader, bits storage.Bits) ([]*container, error) {
	err := storage.ScanBits(r, bits, func(hi uint16, v []byte) error {
		if int(hi) >= len(acc) {
			acc = append(acc, make([]*container, int(hi)+1-len(acc))...)
		}
		c := acc[hi]
		if c == nil {
			c = getContainer()
			acc[hi] = c
		}
		if err := c.or(v, false); err != nil {
			return fmt.Errorf("container %d: %w", hi, err)
		}
		return nil
	})
	if err != nil {
		return acc, fmt.Errorf("cannot load bitmap %s: %w", bits, err)
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

// Cardinality returns the number of ordinals of the stored bitmap bits without decoding its
// containers.
func Cardinality(r storage.Reader, bits storage.Bits) (uint64, error) {
	var n uint64
	err := storage.ScanBits(r, bits, func(hi uint16, v []byte) error {
		_, card, _, err := checkContainer(v, false)
		if err != nil {
			return fmt.Errorf("container %d: %w", hi, err)
		}
		n += uint64(card)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cannot count bitmap %s: %w", bits, err)
	}
	return n, nil
}

// Contains reports whether ord is in the stored bitmap bits, reading one container.
func Contains(r storage.Reader, bits storage.Bits, ord uint32) (bool, error) {
	v, found, err := storage.GetBitsContainer(r, bits, uint16(ord>>16), nil)
	if err != nil || !found {
		return false, err
	}
	c := getContainer()
	defer putContainer(c)
	if err := c.decode(v); err != nil {
		return false, fmt.Errorf("cannot read container %d of bitmap %s: %w", ord>>16, bits, err)
	}
	return c.has(uint16(ord)), nil
}

// AddTx adds ords (any order, duplicates allowed) to the stored bitmap bits, writing into b only
// the containers that change. It returns the ordinals that were absent, ascending and
// without duplicates, appended to dst. Reads go through b, so several calls in one batch compose.
// The caller must serialise writers of one bitmap until b commits.
func AddTx(b *storage.Batch, bits storage.Bits, ords []uint32, dst []uint32) ([]uint32, error) {
	return modifyTx(b, bits, ords, dst, true)
}

// RemoveTx removes ords from the stored bitmap bits, like AddTx; containers left empty are
// deleted. It returns the ordinals that were present, ascending and without duplicates, appended
// to dst.
func RemoveTx(b *storage.Batch, bits storage.Bits, ords []uint32, dst []uint32) ([]uint32, error) {
	return modifyTx(b, bits, ords, dst, false)
}

func modifyTx(b *storage.Batch, bits storage.Bits, ords []uint32, dst []uint32, add bool) ([]uint32, error) {
	if len(ords) == 0 {
		return dst, nil
	}
	sorted := slices.Clone(ords)
	slices.Sort(sorted)
	c := getContainer()
	defer putContainer(c)
	var val []byte
	for i := 0; i < len(sorted); {
		hi := uint16(sorted[i] >> 16)
		j := i + 1
		for j < len(sorted) && uint16(sorted[j]>>16) == hi {
			j++
		}
		v, found, err := storage.GetBitsContainer(b, bits, hi, val[:0])
		val = v
		switch {
		case err != nil:
			return dst, err
		case !found && !add:
			i = j
			continue
		case !found:
			c.reset()
		default:
			if err := c.decode(val); err != nil {
				return dst, fmt.Errorf("cannot read container %d of bitmap %s: %w", hi, bits, err)
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
				b.DeleteBitsContainer(bits, hi)
			} else {
				val = c.appendEncoded(val[:0])
				b.PutBitsContainer(bits, hi, val)
			}
		}
		i = j
	}
	return dst, nil
}

// Store replaces the stored bitmap bits with bm, in b.
func Store(b *storage.Batch, bits storage.Bits, bm *Bitmap) {
	b.DeleteBits(bits)
	c := getContainer()
	defer putContainer(c)
	var val []byte
	cur, have := uint16(0), false
	flush := func() {
		if !have {
			return
		}
		val = c.appendEncoded(val[:0])
		b.PutBitsContainer(bits, cur, val)
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

// Delete removes the stored bitmap bits, in b.
func Delete(b *storage.Batch, bits storage.Bits) { b.DeleteBits(bits) }

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
