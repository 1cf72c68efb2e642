package bitmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// ErrCorrupt is returned when a stored container cannot be decoded.
var ErrCorrupt = errors.New("bitmap: corrupt container")

// Stored container codec. One Pebble value holds the low 16 bits of every ordinal of one 2^16
// container (the high 16 bits are in the key):
//
//	byte 0      kind: kindArray, kindBitset or kindRun
//	bytes 1-2   le16 cardinality-1
//	payload     exactly roaring's portable serialization of that container type:
//	            array:  cardinality x le16 values, strictly ascending (cardinality <= 4096)
//	            bitset: 1024 x le64 words (cardinality > 4096)
//	            run:    le16 run count, then per run le16 start, le16 length-1; ascending,
//	                    neither overlapping nor touching
//
// Because the payload is roaring's own layout, Load assembles a whole bitmap by copying payloads
// behind one portable header and hands the buffer to roaring without re-encoding. The encoder picks
// the smallest representation, as roaring does.
const (
	kindArray  byte = 1
	kindBitset byte = 2
	kindRun    byte = 3

	containerWords = 1024 // 65536 bits
	arrayMaxCard   = 4096 // roaring's array/bitset boundary
	headerLen      = 3
)

// container is one 2^16 container held as a dense bitset while it is read-modify-written.
type container struct {
	words [containerWords]uint64
}

func (c *container) reset() { clear(c.words[:]) }

// set sets bit lo and reports whether it was clear.
func (c *container) set(lo uint16) bool {
	w, m := &c.words[lo>>6], uint64(1)<<(lo&63)
	if *w&m != 0 {
		return false
	}
	*w |= m
	return true
}

// unset clears bit lo and reports whether it was set.
func (c *container) unset(lo uint16) bool {
	w, m := &c.words[lo>>6], uint64(1)<<(lo&63)
	if *w&m == 0 {
		return false
	}
	*w &^= m
	return true
}

func (c *container) has(lo uint16) bool { return c.words[lo>>6]&(uint64(1)<<(lo&63)) != 0 }

func (c *container) card() int {
	n := 0
	for _, w := range c.words {
		n += bits.OnesCount64(w)
	}
	return n
}

// runs returns the number of maximal runs of set bits.
func (c *container) runs() int {
	n := 0
	var prevTop uint64 // top bit of the previous word
	for _, w := range c.words {
		// A run starts at every set bit whose lower neighbour is clear.
		starts := w &^ (w<<1 | prevTop)
		n += bits.OnesCount64(starts)
		prevTop = w >> 63
	}
	return n
}

// next returns the first bit >= i that is set (clear when wantClear), or -1 when there is none.
func (c *container) next(i int, wantClear bool) int {
	if i >= 1<<16 {
		return -1
	}
	wi := i >> 6
	var flip uint64
	if wantClear {
		flip = ^uint64(0)
	}
	w := (c.words[wi] ^ flip) &^ (uint64(1)<<(i&63) - 1)
	for w == 0 {
		wi++
		if wi == containerWords {
			return -1
		}
		w = c.words[wi] ^ flip
	}
	return wi<<6 | bits.TrailingZeros64(w)
}

// appendEncoded appends the stored form of c to dst. c must not be empty.
func (c *container) appendEncoded(dst []byte) []byte {
	card := c.card()
	if card == 0 {
		panic("BUG: bitmap: encoding an empty container")
	}
	at := len(dst)
	dst = append(dst, 0)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(card-1))
	dst, kind := c.appendPayload(dst, card)
	dst[at] = kind
	return dst
}

// appendPayload appends the smallest roaring payload of c, whose cardinality is card (> 0), to
// dst and returns its kind.
func (c *container) appendPayload(dst []byte, card int) ([]byte, byte) {
	nruns := c.runs()
	runSize := 2 + 4*nruns
	plain := 2 * card
	if card > arrayMaxCard {
		plain = 2 * containerWords * 4
	}
	switch {
	case runSize < plain:
		dst = binary.LittleEndian.AppendUint16(dst, uint16(nruns))
		for i := c.next(0, false); i >= 0; {
			end := c.next(i, true)
			if end < 0 {
				end = 1 << 16
			}
			dst = binary.LittleEndian.AppendUint16(dst, uint16(i))
			dst = binary.LittleEndian.AppendUint16(dst, uint16(end-1-i))
			i = c.next(end, false)
		}
		return dst, kindRun
	case card <= arrayMaxCard:
		for wi, w := range c.words {
			for w != 0 {
				b := bits.TrailingZeros64(w)
				dst = binary.LittleEndian.AppendUint16(dst, uint16(wi<<6|b))
				w &= w - 1
			}
		}
		return dst, kindArray
	default:
		for _, w := range c.words {
			dst = binary.LittleEndian.AppendUint64(dst, w)
		}
		return dst, kindBitset
	}
}

// decode replaces c's contents with the stored container src.
func (c *container) decode(src []byte) error {
	c.reset()
	if err := c.or(src, true); err != nil {
		c.reset()
		return err
	}
	return nil
}

// or adds every value of the stored container src to c. With full it validates src completely;
// without, only its shape, which is enough to keep c consistent (c's cardinality is counted from
// its bits, never taken from src).
func (c *container) or(src []byte, full bool) error {
	kind, card, payload, err := checkContainer(src, full)
	if err != nil {
		return err
	}
	switch kind {
	case kindArray:
		// Four values per load; uint16>>6 indexes the 1024 words without bounds checks.
		w := &c.words
		p := payload[:2*card]
		for ; len(p) >= 8; p = p[8:] {
			v := binary.LittleEndian.Uint64(p)
			a, b, x, y := uint16(v), uint16(v>>16), uint16(v>>32), uint16(v>>48)
			w[a>>6] |= 1 << (a & 63)
			w[b>>6] |= 1 << (b & 63)
			w[x>>6] |= 1 << (x & 63)
			w[y>>6] |= 1 << (y & 63)
		}
		for ; len(p) >= 2; p = p[2:] {
			a := binary.LittleEndian.Uint16(p)
			w[a>>6] |= 1 << (a & 63)
		}
	case kindBitset:
		p := payload[:8*containerWords]
		for i := range c.words {
			c.words[i] |= binary.LittleEndian.Uint64(p[8*i:])
		}
	case kindRun:
		n := int(binary.LittleEndian.Uint16(payload))
		for r := 0; r < n; r++ {
			start := int(binary.LittleEndian.Uint16(payload[2+4*r:]))
			c.setRange(start, start+int(binary.LittleEndian.Uint16(payload[4+4*r:])))
		}
	}
	return nil
}

// setRange sets bits first..last (inclusive).
func (c *container) setRange(first, last int) {
	fw, lw := first>>6, last>>6
	fm := ^uint64(0) << (first & 63)
	lm := ^uint64(0) >> (63 - last&63)
	if fw == lw {
		c.words[fw] |= fm & lm
		return
	}
	c.words[fw] |= fm
	for w := fw + 1; w < lw; w++ {
		c.words[w] = ^uint64(0)
	}
	c.words[lw] |= lm
}

// checkContainer validates a stored container and returns its kind, cardinality and roaring
// payload. It always checks the kind, the lengths and the cardinality of runs; with full it also
// checks that array values ascend and that a bitset's population matches the header.
func checkContainer(src []byte, full bool) (kind byte, card int, payload []byte, err error) {
	if len(src) < headerLen {
		return 0, 0, nil, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(src))
	}
	kind = src[0]
	card = int(binary.LittleEndian.Uint16(src[1:])) + 1
	payload = src[headerLen:]
	switch kind {
	case kindArray:
		if card > arrayMaxCard || len(payload) != 2*card {
			return 0, 0, nil, fmt.Errorf("%w: array of %d values in %d bytes", ErrCorrupt, card, len(payload))
		}
		prev := -1
		for i := 0; full && i < card; i++ {
			v := int(binary.LittleEndian.Uint16(payload[2*i:]))
			if v <= prev {
				return 0, 0, nil, fmt.Errorf("%w: array values not strictly ascending", ErrCorrupt)
			}
			prev = v
		}
	case kindBitset:
		if card <= arrayMaxCard || len(payload) != 8*containerWords {
			return 0, 0, nil, fmt.Errorf("%w: bitset of %d values in %d bytes", ErrCorrupt, card, len(payload))
		}
		n := card
		if full {
			n = 0
			for i := 0; i < containerWords; i++ {
				n += bits.OnesCount64(binary.LittleEndian.Uint64(payload[8*i:]))
			}
		}
		if n != card {
			return 0, 0, nil, fmt.Errorf("%w: bitset holds %d values, header says %d", ErrCorrupt, n, card)
		}
	case kindRun:
		if len(payload) < 2 {
			return 0, 0, nil, fmt.Errorf("%w: run container without a run count", ErrCorrupt)
		}
		nruns := int(binary.LittleEndian.Uint16(payload))
		if nruns == 0 || len(payload) != 2+4*nruns {
			return 0, 0, nil, fmt.Errorf("%w: %d runs in %d bytes", ErrCorrupt, nruns, len(payload))
		}
		n, prevLast := 0, -2
		for r := 0; r < nruns; r++ {
			start := int(binary.LittleEndian.Uint16(payload[2+4*r:]))
			last := start + int(binary.LittleEndian.Uint16(payload[4+4*r:]))
			if start <= prevLast+1 || last > 0xffff {
				return 0, 0, nil, fmt.Errorf("%w: runs overlap, touch or overflow", ErrCorrupt)
			}
			n += last - start + 1
			prevLast = last
		}
		if n != card {
			return 0, 0, nil, fmt.Errorf("%w: runs hold %d values, header says %d", ErrCorrupt, n, card)
		}
	default:
		return 0, 0, nil, fmt.Errorf("%w: unknown container kind %d", ErrCorrupt, kind)
	}
	return kind, card, payload, nil
}
