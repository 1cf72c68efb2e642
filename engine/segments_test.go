package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/campaignd/campaignd/storage"
)

func TestSegmentSizesRefresh(t *testing.T) {
	e, _ := newTestEngine(t)
	e.segments.refreshEvery = 20 * time.Millisecond
	if err := e.Start(); err != nil {
		t.Fatalf("cannot start: %s", err)
	}
	if err := e.UpsertUsers([]storage.User{{ID: "a", Role: "admin"}, {ID: "b"}}); err != nil {
		t.Fatalf("cannot upsert: %s", err)
	}
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("admins"), Type: strPtr("user"), Filter: []byte(`{"role":"admin"}`)})
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("all"), Type: strPtr("user"), AllUsers: boolPtr(true)})
	wantSizes := func(admins, all uint64) {
		t.Helper()
		checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
			for id, want := range map[string]uint64{"admins": admins, "all": all} {
				s, err := e.GetSegment(id)
				if err != nil {
					return err
				}
				if s.Size != want || s.Computing {
					return fmt.Errorf("segment %s: size %d (computing %v); want %d", id, s.Size, s.Computing, want)
				}
			}
			return nil
		})
	}
	wantSizes(1, 2)
	// Users change after sizing: the periodic refresh catches up.
	if err := e.UpsertUsers([]storage.User{{ID: "c", Role: "admin"}, {ID: "d"}, {ID: "b", Role: "admin"}}); err != nil {
		t.Fatalf("cannot upsert: %s", err)
	}
	wantSizes(3, 4)
	if _, err := e.DeleteUser("a", false); err != nil {
		t.Fatalf("cannot delete user: %s", err)
	}
	wantSizes(2, 3)
	if err := e.SegmentTargetExists("admins", "c"); err != nil {
		t.Fatalf("refreshed targets lack c: %s", err)
	}
	if err := e.SegmentTargetExists("admins", "a"); err == nil {
		t.Fatalf("refreshed targets still hold the deleted user")
	}
}

func TestSegmentConcurrentTargets(t *testing.T) {
	e, _ := newTestEngine(t)
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("s"), Type: strPtr("user")})
	const workers, calls, per = 4, 10, 500
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for c := 0; c < calls; c++ {
				ids := make([]string, per)
				for i := range ids {
					// Workers overlap: every id is added by two workers.
					ids[i] = fmt.Sprintf("u%d", ((w/2)*calls+c)*per+i)
				}
				if err := e.AddSegmentTargets("s", ids); err != nil {
					errs <- err
					return
				}
				if c%3 == 2 {
					if err := e.DeleteSegmentTargets("s", ids[:100]); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatalf("worker failed: %s", err)
		}
	}
	s, err := e.GetSegment("s")
	if err != nil {
		t.Fatalf("cannot get: %s", err)
	}
	page, err := e.QuerySegmentTargets("s", &QueryParams{Limit: intPtr(MaxTargetsQueryLimit)})
	if err != nil {
		t.Fatalf("cannot query targets: %s", err)
	}
	bm, _, err := e.ResolveAudience([]string{"s"}, nil, "")
	if err != nil {
		t.Fatalf("cannot resolve: %s", err)
	}
	// Record size, index and bitmap must agree whatever the interleaving.
	if s.Size != uint64(len(page.Targets)) || s.Size != bm.Cardinality() {
		t.Fatalf("size %d, index %d, bitmap %d disagree", s.Size, len(page.Targets), bm.Cardinality())
	}
	if s.Size < 2*calls*per-2*4*100 || s.Size > 2*calls*per {
		t.Fatalf("unexpected size %d", s.Size)
	}
}
