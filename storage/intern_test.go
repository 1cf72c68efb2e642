package storage

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestInterner(t *testing.T) {
	for _, narrow := range []bool{false, true} {
		t.Run(fmt.Sprintf("collisions=%v", narrow), func(t *testing.T) {
			if narrow {
				// Six bits of hash: most ids share their hash with many others.
				defer func(m uint32) { hashMask = m }(hashMask)
				hashMask = 0x3f
			}
			dir := t.TempDir()
			db, err := Open(Options{Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, 3000)
			for i := range ids {
				ids[i] = fmt.Sprintf("id-%d", i)
			}
			for _, in := range []*Interner{db.Users, db.Channels} {
				// Two calls, the second repeating half of the first and holding duplicates.
				a, err := in.Intern(nil, ids[:2000])
				if err != nil {
					t.Fatal(err)
				}
				b, err := in.Intern([]uint32{7}, append(slices.Clone(ids[1000:]), ids[2500], "id-1"))
				if err != nil {
					t.Fatal(err)
				}
				if b[0] != 7 || len(b) != 1+2000+2 {
					t.Fatalf("unexpected dst handling: %d ordinals, first %d", len(b), b[0])
				}
				for i := range 2000 {
					if a[i] != uint32(i+1) {
						t.Fatalf("unexpected ordinal of %s; got %d; want %d", ids[i], a[i], i+1)
					}
				}
				for i := 1000; i < 3000; i++ {
					if b[1+i-1000] != uint32(i+1) {
						t.Fatalf("unexpected ordinal of %s in the second call; got %d; want %d", ids[i], b[1+i-1000], i+1)
					}
				}
				if b[2001] != 2501 || b[2002] != 2 {
					t.Fatalf("unexpected ordinals of repeated ids: %v", b[2001:])
				}
			}
			check := func(db *DB) {
				t.Helper()
				for _, in := range []*Interner{db.Users, db.Channels} {
					if in.Max() != 3000 {
						t.Fatalf("unexpected Max; got %d; want 3000", in.Max())
					}
					for i, id := range ids {
						if o, ok := in.Lookup(id); !ok || o != uint32(i+1) {
							t.Fatalf("unexpected Lookup(%q); got %d %v; want %d", id, o, ok, i+1)
						}
						if got := in.ID(uint32(i + 1)); got != id {
							t.Fatalf("unexpected ID(%d); got %q; want %q", i+1, got, id)
						}
					}
					for _, id := range []string{"", "id-", "id-3000", "id-10", "id-1x"} {
						o, ok := in.Lookup(id)
						if ok != (id == "id-10") || (ok && o != 11) {
							t.Fatalf("unexpected Lookup(%q); got %d %v", id, o, ok)
						}
					}
					if in.ID(0) != "" || in.ID(3001) != "" {
						t.Fatalf("unexpected id of an unknown ordinal")
					}
					got, err := in.LookupMany(nil, []string{"id-5", "nope", "id-2999", "id-5"})
					if err != nil || !slices.Equal(got, []uint32{6, 0, 3000, 6}) {
						t.Fatalf("unexpected LookupMany; got %v %v", got, err)
					}
				}
			}
			check(db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			// Reopened: the same mappings, rebuilt from the store.
			db, err = Open(Options{Path: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			check(db)
			if o, err := db.Channels.InternOne("new"); err != nil || o != 3001 {
				t.Fatalf("unexpected ordinal of a new id after reopening; got %d %v", o, err)
			}
		})
	}
}

// TestInternerConcurrent interns overlapping ids from several goroutines: every id gets one
// ordinal, ordinals are dense, and lookups running meanwhile never see a wrong one.
func TestInternerConcurrent(t *testing.T) {
	db := mustOpenTestStore(t)
	const workers, per = 4, 2000
	for _, in := range []*Interner{db.Users, db.Channels} {
		var wg sync.WaitGroup
		results := make([][]uint32, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids := make([]string, 0, 100)
				for i := 0; i < per; i++ {
					ids = append(ids, fmt.Sprintf("c%d", (i*7+w*500)%(per+1000)))
					if len(ids) == cap(ids) {
						ords, err := in.Intern(nil, ids)
						if err != nil {
							t.Error(err)
							return
						}
						for j, o := range ords {
							if got := in.ID(o); got != ids[j] {
								t.Errorf("ordinal %d of %q names %q", o, ids[j], got)
							}
						}
						results[w] = append(results[w], ords...)
						ids = ids[:0]
					}
				}
			}()
		}
		wg.Wait()
		seen := map[uint32]bool{}
		for o := uint32(1); o <= in.Max(); o++ {
			id := in.ID(o)
			if got, ok := in.Lookup(id); !ok || got != o {
				t.Fatalf("ordinal %d (%q) looks up as %d", o, id, got)
			}
			seen[o] = true
		}
		if in.Max() > per+1000 {
			t.Fatalf("more ordinals than ids: %d", in.Max())
		}
	}
}
