package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/campaignd/campaignd/storage"
)

func TestSegmentSizesRefresh(t *testing.T) {
	e, _ := newUsersTestEngine(t)
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
		checkForEngine(t, func() error {
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
