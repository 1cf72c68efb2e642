package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/campaignd/campaignd/bitmap"
	"github.com/campaignd/campaignd/storage"
)

func userOrds(t *testing.T, e *Engine, ids ...string) []uint32 {
	return internedOrds(t, e.db.Users, ids)
}
func chanOrds(t *testing.T, e *Engine, cids ...string) []uint32 {
	return internedOrds(t, e.db.Channels, cids)
}

// internedOrds returns the ordinals of ids, ascending.
func internedOrds(t *testing.T, in *storage.Interner, ids []string) []uint32 {
	t.Helper()
	var ords []uint32
	for _, id := range ids {
		o, ok := in.Lookup(id)
		if !ok {
			t.Fatalf("%q is not interned", id)
		}
		ords = append(ords, o)
	}
	slices.Sort(ords)
	return ords
}

func chunks(t *testing.T, bm *bitmap.Bitmap) []uint32 {
	t.Helper()
	var got []uint32
	if err := bm.ForEachChunk(2, func(c []uint32) error { got = append(got, c...); return nil }); err != nil {
		t.Fatalf("cannot iterate: %s", err)
	}
	if !slices.IsSorted(got) {
		t.Fatalf("audience is not ascending: %v", got)
	}
	return got
}

func TestResolveAudienceUsers(t *testing.T) {
	e, _ := newTestEngine(t)
	users := []storage.User{
		{ID: "sender", Custom: []byte(`{"country":"USA"}`)},
		{ID: "a", Custom: []byte(`{"country":"USA"}`)},
		{ID: "b", Custom: []byte(`{"country":"FR"}`), Role: "admin"},
		{ID: "c", Custom: []byte(`{"country":"FR"}`)},
		{ID: "gone", Custom: []byte(`{"country":"USA"}`)},
	}
	if err := e.UpsertUsers(users); err != nil {
		t.Fatalf("cannot upsert: %s", err)
	}
	if _, err := e.DeleteUser("gone", false); err != nil {
		t.Fatalf("cannot delete user: %s", err)
	}
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("static1"), Type: strPtr("user")})
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("static2"), Type: strPtr("user")})
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("usa"), Type: strPtr("user"), Filter: []byte(`{"country":"USA"}`)})
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("admins"), Type: strPtr("user"), Filter: []byte(`{"role":"admin"}`)})
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("all"), Type: strPtr("user"), AllUsers: boolPtr(true)})
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("deleted"), Type: strPtr("user")})
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("chans"), Type: strPtr("channel")})
	if err := e.AddSegmentTargets("static1", []string{"a", "not-yet-a-user", "sender"}); err != nil {
		t.Fatalf("cannot add targets: %s", err)
	}
	if err := e.AddSegmentTargets("static2", []string{"a", "c"}); err != nil {
		t.Fatalf("cannot add targets: %s", err)
	}
	if err := e.DeleteSegment("deleted"); err != nil {
		t.Fatalf("cannot delete segment: %s", err)
	}

	f := func(segs, ids []string, want []uint32) {
		t.Helper()
		bm, kind, err := e.ResolveAudience(segs, ids, "sender")
		if err != nil {
			t.Fatalf("cannot resolve %v %v: %s", segs, ids, err)
		}
		if kind != storage.AudienceUsers {
			t.Fatalf("unexpected kind %s", kind)
		}
		if got := chunks(t, bm); !slices.Equal(got, want) {
			t.Fatalf("unexpected audience for %v %v; got %v; want %v", segs, ids, got, want)
		}
	}
	// Static: union, duplicates gone, sender removed; a target that names no user is pending: not
	// interned (no memory spent on it), not in the audience until it names a user.
	f([]string{"static1", "static2", "static1"}, nil, userOrds(t, e, "a", "c"))
	if _, ok := e.db.Users.Lookup("not-yet-a-user"); ok {
		t.Fatalf("a pending target was interned")
	}
	// Filters are evaluated now, over live users only; the sender is removed.
	f([]string{"usa"}, nil, userOrds(t, e, "a"))
	if err := e.UpsertUsers([]storage.User{{ID: "d", Custom: []byte(`{"country":"USA"}`)}}); err != nil {
		t.Fatalf("cannot upsert: %s", err)
	}
	f([]string{"usa"}, nil, userOrds(t, e, "a", "d"))
	f([]string{"usa", "admins"}, nil, userOrds(t, e, "a", "b", "d"))
	f([]string{"all"}, nil, userOrds(t, e, "a", "b", "c", "d"))
	f([]string{"all", "static1"}, nil, userOrds(t, e, "a", "b", "c", "d"))
	// Once the pending target is a user, the static segment's audience has it.
	if err := e.UpsertUsers([]storage.User{{ID: "not-yet-a-user"}}); err != nil {
		t.Fatalf("cannot upsert: %s", err)
	}
	f([]string{"static1"}, nil, userOrds(t, e, "a", "not-yet-a-user"))
	f([]string{"static1", "static2"}, nil, userOrds(t, e, "a", "c", "not-yet-a-user"))
	if _, err := e.DeleteUser("not-yet-a-user", false); err != nil {
		t.Fatalf("cannot delete user: %s", err)
	}
	// user_ids: never-seen ids are skipped, the sender removed.
	f(nil, []string{"b", "sender", "who", "b"}, userOrds(t, e, "b"))
	f([]string{"admins"}, []string{"c"}, userOrds(t, e, "b", "c"))

	g := func(segs, ids []string, substr string) {
		t.Helper()
		_, _, err := e.ResolveAudience(segs, ids, "sender")
		ee, ok := AsError(err)
		if !ok || ee.Code != CodeInput || !strings.Contains(ee.Msg, substr) {
			t.Fatalf("unexpected error for %v %v; got %v; want code 4 mentioning %q", segs, ids, err, substr)
		}
	}
	g([]string{"static1", "deleted"}, nil, `"deleted"`)
	g([]string{"nope"}, nil, `"nope"`)
	g([]string{"static1", "chans"}, nil, `"chans"`)
	g([]string{"chans"}, []string{"a"}, "user_ids")
	g(nil, nil, "segment_ids")
}

func TestResolveAudienceChannels(t *testing.T) {
	e, _ := newTestEngine(t)
	if err := e.UpsertUsers([]storage.User{{ID: "sender"}, {ID: "a"}, {ID: "b"}}); err != nil {
		t.Fatalf("cannot upsert: %s", err)
	}
	s, a, b := userOrds(t, e, "sender")[0], userOrds(t, e, "a")[0], userOrds(t, e, "b")[0]
	mk := func(id, team string, members ...uint32) {
		t.Helper()
		tx := e.NewTx()
		spec := &ChannelSpec{Type: "messaging", ID: id, CreatedBy: members[0], Team: team, NoEvent: true}
		for _, m := range members {
			spec.Members = append(spec.Members, MemberSpec{User: m})
		}
		if _, err := e.CreateChannelTx(tx, spec); err != nil {
			t.Fatalf("cannot create channel: %s", err)
		}
		if err := e.Commit(tx); err != nil {
			t.Fatalf("cannot commit: %s", err)
		}
	}
	mk("c1", "red", s, a)
	mk("c2", "blue", a, b)
	mk("c3", "red", b)
	mk("c4", "blue", s)

	mustCreateSegment(t, e, SegmentParams{ID: strPtr("mine"), Type: strPtr("channel"), AllSenderChannels: boolPtr(true)})
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("red"), Type: strPtr("channel"), Filter: []byte(`{"team":"red"}`)})
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("static"), Type: strPtr("channel")})
	if err := e.AddSegmentTargets("static", []string{"messaging:c2", "other:x"}); err != nil {
		t.Fatalf("cannot add targets: %s", err)
	}
	f := func(segs []string, sender string, want []uint32) {
		t.Helper()
		bm, kind, err := e.ResolveAudience(segs, nil, sender)
		if err != nil {
			t.Fatalf("cannot resolve %v: %s", segs, err)
		}
		if kind != storage.AudienceChannels {
			t.Fatalf("unexpected kind %s", kind)
		}
		if got := chunks(t, bm); !slices.Equal(got, want) {
			t.Fatalf("unexpected audience for %v; got %v; want %v", segs, got, want)
		}
	}
	f([]string{"mine"}, "sender", chanOrds(t, e, "messaging:c1", "messaging:c4"))
	f([]string{"mine"}, "b", chanOrds(t, e, "messaging:c2", "messaging:c3"))
	f([]string{"mine"}, "nobody", nil)
	f([]string{"red"}, "sender", chanOrds(t, e, "messaging:c1", "messaging:c3"))
	f([]string{"mine", "red", "static"}, "sender", chanOrds(t, e, "messaging:c1", "messaging:c2", "messaging:c3", "messaging:c4"))
	if _, ok := e.db.Channels.Lookup("other:x"); ok {
		t.Fatalf("a pending channel target was interned")
	}

	// Channel filter segments are sized asynchronously too.
	if err := e.Start(); err != nil {
		t.Fatalf("cannot start: %s", err)
	}
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		seg, err := e.GetSegment("red")
		if err != nil {
			return err
		}
		if seg.Size != 2 || seg.Computing {
			return fmt.Errorf("size %d computing %v", seg.Size, seg.Computing)
		}
		return nil
	})
}
