package bitmap

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/campaignd/campaignd/storage"
)

func containerOf(lows ...int) *container {
	c := new(container)
	for _, lo := range lows {
		c.set(uint16(lo))
	}
	return c
}

func TestContainerCodec(t *testing.T) {
	f := func(name string, c *container, wantKind byte) {
		t.Helper()
		enc := c.appendEncoded(nil)
		if enc[0] != wantKind {
			t.Fatalf("%s: unexpected kind; got %d; want %d", name, enc[0], wantKind)
		}
		var d container
		if err := d.decode(enc); err != nil {
			t.Fatalf("%s: cannot decode: %s", name, err)
		}
		if d.words != c.words {
			t.Fatalf("%s: decoded container differs", name)
		}
		// The payload must be exactly what roaring expects.
		bm := mustRoaringOf(t, enc, 7)
		want := []uint32{}
		for lo := 0; lo < 1<<16; lo++ {
			if c.has(uint16(lo)) {
				want = append(want, 7<<16|uint32(lo))
			}
		}
		if got := bm.ToArray(); !slices.Equal(got, want) {
			t.Fatalf("%s: roaring sees %d values; want %d", name, len(got), len(want))
		}
	}
	f("one", containerOf(5), kindArray)
	f("sparse", containerOf(1, 3, 5, 7, 9, 1000, 65535), kindArray)
	f("zero and max", containerOf(0, 65535), kindArray)

	full := new(container)
	for i := range full.words {
		full.words[i] = ^uint64(0)
	}
	f("full", full, kindRun)

	run := new(container)
	for lo := 100; lo < 20000; lo++ {
		run.set(uint16(lo))
	}
	f("one run", run, kindRun)

	r := rand.New(rand.NewPCG(1, 2))
	dense := new(container)
	for i := 0; i < 30000; i++ {
		dense.set(uint16(r.IntN(1 << 16)))
	}
	f("dense random", dense, kindBitset)

	arr := new(container)
	for i := 0; i < 4096; i += 2 {
		arr.set(uint16(i * 3))
	}
	f("array", arr, kindArray)

	// Two-value runs: 2 runs of 2 values each take 2+8 bytes, as array 8 bytes.
	f("pairs", containerOf(10, 11, 20, 21), kindArray)
	f("long pair runs", containerOf(10, 11, 12, 13, 14, 20, 21, 22, 23, 24), kindRun)
}

// mustRoaringOf loads one stored container through the portable path Load uses.
func mustRoaringOf(t *testing.T, enc []byte, hi uint16) *Bitmap {
	t.Helper()
	kind, card, payload, err := checkContainer(enc, true)
	if err != nil {
		t.Fatalf("cannot check container: %s", err)
	}
	buf := appendPortable(nil, []loadedContainer{{hi: hi, kind: kind, card: card, n: len(payload)}}, payload)
	bm := New()
	if _, err := bm.rb.FromUnsafeBytes(buf); err != nil {
		t.Fatalf("roaring cannot read the container: %s", err)
	}
	if err := bm.rb.Validate(); err != nil {
		t.Fatalf("roaring finds the container invalid: %s", err)
	}
	return bm
}

func TestContainerDecodeRejects(t *testing.T) {
	f := func(name string, src []byte) {
		t.Helper()
		var c container
		if err := c.decode(src); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: unexpected error; got %v; want ErrCorrupt", name, err)
		}
	}
	f("empty", nil)
	f("short", []byte{kindArray, 0})
	f("unknown kind", []byte{9, 0, 0, 1, 0})
	f("array length", []byte{kindArray, 1, 0, 1, 0})
	f("array order", []byte{kindArray, 1, 0, 5, 0, 4, 0})
	f("array dup", []byte{kindArray, 1, 0, 5, 0, 5, 0})
	f("bitset small", append([]byte{kindBitset, 0, 0}, make([]byte, 8192)...))
	f("bitset count", append([]byte{kindBitset, 0xff, 0x1f}, make([]byte, 8192)...))
	f("run none", []byte{kindRun, 0, 0, 0, 0})
	f("run overflow", []byte{kindRun, 1, 0, 1, 0, 0xff, 0xff, 1, 0})
	f("run touching", []byte{kindRun, 3, 0, 2, 0, 0, 0, 1, 0, 2, 0, 1, 0})
	f("run card", []byte{kindRun, 5, 0, 1, 0, 0, 0, 1, 0})
}

func TestAddRemoveLoad(t *testing.T) {
	db := mustOpenTestStore(t)
	prefix := testBits("s1")
	other := testBits("s10") // a longer owner id must not bleed into s1
	ref := map[uint32]bool{}
	r := rand.New(rand.NewPCG(3, 4))

	b := db.NewBatch()
	if _, err := AddTx(b, other, []uint32{1, 2, 3, 1 << 20}, nil); err != nil {
		t.Fatalf("cannot add: %s", err)
	}
	mustCommit(t, b)

	for round := 0; round < 20; round++ {
		var ords []uint32
		for i := 0; i < 3000; i++ {
			ords = append(ords, uint32(r.IntN(400_000)))
		}
		b := db.NewBatch()
		var wantAdded []uint32
		if round%3 == 2 {
			for _, o := range ords {
				if ref[o] {
					wantAdded = append(wantAdded, o)
				}
				delete(ref, o)
			}
			got, err := RemoveTx(b, prefix, ords, nil)
			if err != nil {
				t.Fatalf("cannot remove: %s", err)
			}
			slices.Sort(wantAdded)
			wantAdded = slices.Compact(wantAdded)
			if !slices.Equal(got, wantAdded) {
				t.Fatalf("round %d: unexpected removed; got %d; want %d", round, len(got), len(wantAdded))
			}
		} else {
			for _, o := range ords {
				if !ref[o] {
					wantAdded = append(wantAdded, o)
				}
				ref[o] = true
			}
			got, err := AddTx(b, prefix, ords, nil)
			if err != nil {
				t.Fatalf("cannot add: %s", err)
			}
			slices.Sort(wantAdded)
			if !slices.Equal(got, wantAdded) {
				t.Fatalf("round %d: unexpected added; got %d; want %d", round, len(got), len(wantAdded))
			}
		}
		// Reads through the batch see its writes.
		bm := mustLoad(t, b, prefix)
		if bm.Cardinality() != uint64(len(ref)) {
			t.Fatalf("round %d: unexpected cardinality through batch; got %d; want %d", round, bm.Cardinality(), len(ref))
		}
		mustCommit(t, b)
	}
	bm := mustLoad(t, db, prefix)
	want := make([]uint32, 0, len(ref))
	for o := range ref {
		want = append(want, o)
	}
	slices.Sort(want)
	if got := bm.ToArray(); !slices.Equal(got, want) {
		t.Fatalf("unexpected loaded bitmap; got %d values; want %d", len(got), len(want))
	}
	n, err := Cardinality(db, prefix)
	if err != nil || n != uint64(len(want)) {
		t.Fatalf("unexpected Cardinality; got %d, %v; want %d", n, err, len(want))
	}
	for _, o := range []uint32{want[0], want[len(want)/2], 399_999, 5_000_000} {
		got, err := Contains(db, prefix, o)
		if err != nil || got != ref[o] {
			t.Fatalf("unexpected Contains(%d); got %v, %v; want %v", o, got, err, ref[o])
		}
	}
	if o := mustLoad(t, db, other); o.Cardinality() != 4 {
		t.Fatalf("unexpected other owner; got %v", o.ToArray())
	}

	// Removing everything leaves no keys.
	b = db.NewBatch()
	if _, err := RemoveTx(b, prefix, want, nil); err != nil {
		t.Fatalf("cannot remove: %s", err)
	}
	mustCommit(t, b)
	err = storage.ScanBits(db, prefix, func(hi uint16, _ []byte) error {
		return fmt.Errorf("container %d is left", hi)
	})
	if err != nil {
		t.Fatalf("unexpected containers left: %s", err)
	}
}

func TestAddTouchesOnlyItsContainers(t *testing.T) {
	db := mustOpenTestStore(t)
	prefix := testBits("big")
	bm := New()
	r := rand.New(rand.NewPCG(5, 6))
	for bm.Cardinality() < 500_000 {
		bm.Add(uint32(r.IntN(2_000_000)))
	}
	b := db.NewBatch()
	Store(b, prefix, bm)
	mustCommit(t, b)

	b = db.NewBatch()
	defer b.Close()
	// Three ords in one container: one ~8 KiB bitset container is rewritten, not 31.
	if _, err := AddTx(b, prefix, []uint32{65536*3 + 1, 65536*3 + 2, 65536*3 + 3}, nil); err != nil {
		t.Fatalf("cannot add: %s", err)
	}
	if n := b.Len(); n > 9000 {
		t.Fatalf("batch rewrote more than one container; %d bytes", n)
	}
}

func TestStoreLoadShapes(t *testing.T) {
	db := mustOpenTestStore(t)
	f := func(name string, ords []uint32) {
		t.Helper()
		prefix := testBits(name)
		want := Of(ords...)
		b := db.NewBatch()
		Store(b, prefix, Of(999, 1<<31)) // replaced below
		mustCommit(t, b)
		b = db.NewBatch()
		Store(b, prefix, want)
		mustCommit(t, b)
		got := mustLoad(t, db, prefix)
		if !got.Equals(want) {
			t.Fatalf("%s: unexpected loaded bitmap; got %d values; want %d", name, got.Cardinality(), want.Cardinality())
		}
		// Loaded bitmaps are copy-on-write: mutating one leaves the next load intact.
		got.Add(123456789)
		got.Remove(want.Minimum())
		if again := mustLoad(t, db, prefix); !again.Equals(want) {
			t.Fatalf("%s: mutation of a loaded bitmap leaked", name)
		}
	}
	f("empty", nil)
	f("one", []uint32{42})
	var ords []uint32
	for i := uint32(0); i < 100_000; i++ {
		ords = append(ords, i) // runs
	}
	f("runs", ords)
	ords = ords[:0]
	for i := uint32(0); i < 10; i++ {
		ords = append(ords, i*70_000, i*70_000+2) // arrays in 10 containers, no runs
	}
	f("arrays", ords)
	r := rand.New(rand.NewPCG(7, 8))
	ords = ords[:0]
	for i := 0; i < 200_000; i++ {
		ords = append(ords, uint32(r.IntN(1_000_000)))
	}
	for i := uint32(5_000_000); i < 5_000_100; i++ {
		ords = append(ords, i)
	}
	ords = append(ords, ^uint32(0))
	f("mixed", ords)
}

func TestForEachChunk(t *testing.T) {
	var ords []uint32
	for i := uint32(1); i <= 10_000; i++ {
		ords = append(ords, i*7)
	}
	bm := Of(ords...)
	f := func(after uint32, n int, want []uint32) {
		t.Helper()
		var got []uint32
		err := bm.ForEachChunkAfter(after, n, func(c []uint32) error {
			if len(c) == 0 || n > 0 && len(c) > n {
				t.Fatalf("unexpected chunk length %d", len(c))
			}
			got = append(got, c...)
			return nil
		})
		if err != nil {
			t.Fatalf("unexpected error: %s", err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("unexpected iteration after %d; got %d values; want %d", after, len(got), len(want))
		}
	}
	f(0, 100, ords)
	f(0, 0, ords)
	f(7, 33, ords[1:])
	f(8, 4096, ords[1:])
	f(69_999, 5, ords[9999:])
	f(70_000, 5, nil)
	f(^uint32(0), 5, nil)

	stop := errors.New("stop")
	calls := 0
	if err := bm.ForEachChunk(10, func([]uint32) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("unexpected early stop; got %v after %d calls", err, calls)
	}
}

func TestUnion(t *testing.T) {
	a, b, c := Of(1, 2, 3), Of(3, 4, 1<<20), Of()
	u := Union(a, nil, b, c)
	if got := u.ToArray(); !slices.Equal(got, []uint32{1, 2, 3, 4, 1 << 20}) {
		t.Fatalf("unexpected union; got %v", got)
	}
	if got := Union(a).ToArray(); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Fatalf("unexpected union of one; got %v", got)
	}
	u.Add(99)
	if a.Contains(99) {
		t.Fatalf("union aliases its input")
	}
	if !Union().IsEmpty() {
		t.Fatalf("empty union is not empty")
	}
}

func TestLoadUnion(t *testing.T) {
	db := mustOpenTestStore(t)
	r := rand.New(rand.NewPCG(9, 10))
	var prefixes []storage.Bits
	var parts []*Bitmap
	for i := 0; i < 6; i++ {
		bm := New()
		switch i {
		case 0: // sparse arrays
			for j := 0; j < 3000; j++ {
				bm.Add(uint32(r.IntN(3_000_000)))
			}
		case 1: // dense bitsets
			for j := 0; j < 300_000; j++ {
				bm.Add(uint32(r.IntN(1_000_000)))
			}
		case 2: // runs, crossing word and container boundaries
			bm.rb.AddRange(63, 200_000)
			bm.rb.AddRange(4_000_000, 4_000_001)
		case 3: // empty
		case 4:
			bm.Add(^uint32(0))
			bm.Add(0)
		case 5:
			for j := uint32(0); j < 100; j++ {
				bm.rb.AddRange(uint64(j*1000+64), uint64(j*1000+64+128)) // word-aligned runs
			}
		}
		p := testBits(fmt.Sprintf("u%d", i))
		b := db.NewBatch()
		Store(b, p, bm)
		mustCommit(t, b)
		prefixes = append(prefixes, p)
		parts = append(parts, bm)
	}
	got, err := LoadUnion(db, prefixes)
	if err != nil {
		t.Fatalf("cannot load union: %s", err)
	}
	if err := got.rb.Validate(); err != nil {
		t.Fatalf("union is invalid: %s", err)
	}
	if want := Union(parts...); !got.Equals(want) {
		t.Fatalf("unexpected union; got %d values; want %d", got.Cardinality(), want.Cardinality())
	}
	// Enough prefixes for several workers (each prefix twice, in another order).
	many := append(slices.Clone(prefixes), prefixes...)
	slices.Reverse(many[len(prefixes):])
	got, err = LoadUnion(db, many)
	if err != nil || !got.Equals(Union(parts...)) {
		t.Fatalf("unexpected union of %d prefixes; got %d values, %v", len(many), got.Cardinality(), err)
	}
	b := db.NewBatch()
	defer b.Close()
	if got, err := LoadUnion(b, many); err != nil || !got.Equals(Union(parts...)) {
		t.Fatalf("unexpected union through a batch; err %v", err)
	}
	if one, err := LoadUnion(db, prefixes[2:3]); err != nil || !one.Equals(parts[2]) {
		t.Fatalf("unexpected union of one; got %v, %v", one.Cardinality(), err)
	}
	if none, err := LoadUnion(db, nil); err != nil || !none.IsEmpty() {
		t.Fatalf("unexpected empty union; got %v, %v", none, err)
	}
}

func TestContainerSetRange(t *testing.T) {
	f := func(first, last int) {
		t.Helper()
		var c container
		c.setRange(first, last)
		want := new(container)
		for v := first; v <= last; v++ {
			want.set(uint16(v))
		}
		if c.words != want.words {
			t.Fatalf("unexpected bits for %d..%d", first, last)
		}
	}
	f(0, 0)
	f(0, 63)
	f(63, 64)
	f(5, 5000)
	f(64, 127)
	f(65535, 65535)
	f(0, 65535)
}
