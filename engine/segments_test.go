package engine

import (
	"fmt"
	"slices"
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
	// Every other target is a user (in the bitmap); the others are pending.
	var users []storage.User
	for i := 0; i < workers/2*calls*per; i += 2 {
		users = append(users, storage.User{ID: fmt.Sprintf("u%d", i)})
	}
	if err := e.UpsertUsers(users); err != nil {
		t.Fatalf("cannot upsert: %s", err)
	}
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
	// Record size, index, and bitmap with the pending targets must agree whatever the interleaving.
	pending := 0
	if err := storage.ScanSegmentPending(e.db, "s", func([]byte) bool { pending++; return true }); err != nil {
		t.Fatal(err)
	}
	if s.Size != uint64(len(page.Targets)) || s.Size != bm.Cardinality()+uint64(pending) || bm.Cardinality() == 0 || pending == 0 {
		t.Fatalf("size %d, index %d, bitmap %d + pending %d disagree", s.Size, len(page.Targets), bm.Cardinality(), pending)
	}
	if s.Size < 2*calls*per-2*4*100 || s.Size > 2*calls*per {
		t.Fatalf("unexpected size %d", s.Size)
	}
}

// TestSegmentPendingTargets: targets that name no user cost no interned ordinal; they count, list
// and resolve once they are users; deleting them, or adding them again once they are users, keeps
// the size right.
func TestSegmentPendingTargets(t *testing.T) {
	e, _ := newTestEngine(t)
	mustUpsertUsers(t, e, "a")
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("s"), Type: strPtr("user")})
	before := e.db.Users.Max()
	ghosts := make([]string, 9998)
	for i := range ghosts {
		ghosts[i] = fmt.Sprintf("ghost-%d", i)
	}
	if err := e.AddSegmentTargets("s", append(slices.Clone(ghosts), "a", "ghost-1")); err != nil {
		t.Fatal(err)
	}
	if got := e.db.Users.Max(); got != before {
		t.Fatalf("pending targets were interned: %d ordinals, %d before", got, before)
	}
	size := func(want uint64) {
		t.Helper()
		s, err := e.GetSegment("s")
		if err != nil || s.Size != want {
			t.Fatalf("unexpected size; got %v %v; want %d", s.Size, err, want)
		}
	}
	size(9999)
	if err := e.SegmentTargetExists("s", "ghost-9997"); err != nil {
		t.Fatalf("a pending target is not found: %s", err)
	}
	// Added again: nothing changes.
	if err := e.AddSegmentTargets("s", ghosts[:10]); err != nil {
		t.Fatal(err)
	}
	size(9999)
	// ghost-0 and ghost-1 become users: the audience has them; adding ghost-0 again moves it into
	// the bitmap without counting it twice; deleting ghost-1 (a user now, still pending) removes it.
	mustUpsertUsers(t, e, "ghost-0", "ghost-1")
	wantAud := func(want ...string) {
		t.Helper()
		bm, _, err := e.ResolveAudience([]string{"s"}, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := chunks(t, bm); !slices.Equal(got, userOrds(t, e, want...)) {
			t.Fatalf("unexpected audience; got %v; want %v", got, want)
		}
	}
	wantAud("a", "ghost-0", "ghost-1")
	if err := e.AddSegmentTargets("s", []string{"ghost-0"}); err != nil {
		t.Fatal(err)
	}
	size(9999)
	if err := e.DeleteSegmentTargets("s", []string{"ghost-1", "ghost-2", "nobody"}); err != nil {
		t.Fatal(err)
	}
	size(9997)
	wantAud("a", "ghost-0")
	if err := e.DeleteSegmentTargets("s", []string{"ghost-0", "a"}); err != nil {
		t.Fatal(err)
	}
	size(9995)
	wantAud()
	pending := 0
	if err := storage.ScanSegmentPending(e.db, "s", func([]byte) bool { pending++; return true }); err != nil {
		t.Fatal(err)
	}
	if pending != 9995 {
		t.Fatalf("unexpected pending targets %d; want 9995", pending)
	}
}
