package bitmap

import (
	"slices"
	"testing"
)

// FuzzContainerCodec feeds arbitrary bytes to the stored-container decoder and to the portable
// path Load uses: neither may panic, and whatever decodes must re-encode to the same set, which
// roaring must read back identically and find valid.
func FuzzContainerCodec(f *testing.F) {
	for _, c := range []*container{containerOf(1), containerOf(0, 65535), containerOf(10, 11, 12, 13, 14, 20)} {
		f.Add(c.appendEncoded(nil))
	}
	dense := new(container)
	for i := 0; i < 5000; i++ {
		dense.set(uint16(i * 13))
	}
	f.Add(dense.appendEncoded(nil))
	f.Add([]byte{kindRun, 1, 0, 1, 0, 0, 0, 1, 0})
	f.Add([]byte{kindArray, 0, 0})

	f.Fuzz(func(t *testing.T, src []byte) {
		// The light check Load uses must never let roaring panic.
		if kind, card, payload, err := checkContainer(src, false); err == nil {
			buf := appendPortable(nil, []loadedContainer{{hi: 3, kind: kind, card: card, n: len(payload)}}, payload)
			bm := New()
			if _, err := bm.rb.FromUnsafeBytes(buf); err != nil {
				t.Fatalf("roaring rejects a shape-checked container: %s", err)
			}
			_ = bm.Cardinality()
		}
		var c container
		if err := c.decode(src); err != nil {
			return
		}
		if c.card() == 0 {
			t.Fatalf("decoded an empty container")
		}
		enc := c.appendEncoded(nil)
		if len(enc) > len(src) {
			t.Fatalf("re-encoding grew the container from %d to %d bytes", len(src), len(enc))
		}
		var d container
		if err := d.decode(enc); err != nil {
			t.Fatalf("cannot decode own encoding: %s", err)
		}
		if d.words != c.words {
			t.Fatalf("re-encoded container differs")
		}
		bm := mustRoaringOf(t, src, 3)
		var want []uint32
		for lo := c.next(0, false); lo >= 0; lo = c.next(lo+1, false) {
			want = append(want, 3<<16|uint32(lo))
		}
		if got := bm.ToArray(); !slices.Equal(got, want) {
			t.Fatalf("roaring reads %d values; the decoder %d", len(got), len(want))
		}
	})
}
