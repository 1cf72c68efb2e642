package httpd

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/campaignd/campaignd/storage"
)

func wantStatus(t *testing.T, status int, m map[string]any, want int) {
	t.Helper()
	if status != want {
		t.Fatalf("unexpected status; got %d; want %d; body %v", status, want, m)
	}
	if _, ok := m["duration"]; !ok {
		t.Fatalf("reply lacks duration: %v", m)
	}
}

func wantErrorMsg(t *testing.T, status int, m map[string]any, wantStatus, wantCode int, substr string) {
	t.Helper()
	wantError(t, status, m, wantStatus, wantCode)
	if msg, _ := m["message"].(string); !strings.Contains(msg, substr) {
		t.Fatalf("error message %q does not mention %q", msg, substr)
	}
}

func (ts *testServer) mustCreateSegment(body map[string]any) map[string]any {
	ts.t.Helper()
	status, m := ts.do("POST", "/segments", body)
	wantStatus(ts.t, status, m, 201)
	seg, ok := m["segment"].(map[string]any)
	if !ok {
		ts.t.Fatalf("create reply lacks segment: %v", m)
	}
	return seg
}

func (ts *testServer) getSegment(id string) map[string]any {
	ts.t.Helper()
	status, m := ts.do("GET", "/segments/"+url.PathEscape(id), nil)
	wantStatus(ts.t, status, m, 200)
	return m["segment"].(map[string]any)
}

func (ts *testServer) mustAddTargets(id string, targets ...string) {
	ts.t.Helper()
	status, m := ts.do("POST", "/segments/"+url.PathEscape(id)+"/addtargets", map[string]any{"target_ids": targets})
	wantStatus(ts.t, status, m, 201)
}

// wantTarget checks GET /segments/{id}/target/{target}: 200 when in, else 404 code 16.
func (ts *testServer) wantTarget(id, target string, in bool) {
	ts.t.Helper()
	status, m := ts.do("GET", "/segments/"+url.PathEscape(id)+"/target/"+url.PathEscape(target), nil)
	if in {
		wantStatus(ts.t, status, m, 200)
	} else {
		wantError(ts.t, status, m, 404, 16)
	}
}

func (ts *testServer) mustUpsertUsers(users ...storage.User) {
	ts.t.Helper()
	for len(users) > 0 {
		n := min(len(users), 100)
		if err := ts.E.UpsertUsers(users[:n]); err != nil {
			ts.t.Fatalf("cannot upsert users: %s", err)
		}
		users = users[n:]
	}
}

func TestSegmentCreateGet(t *testing.T) {
	ts := mustStartTestServer(t)

	// The SDK sends "id": null when none is given: a UUID is generated; name defaults to "".
	seg := ts.mustCreateSegment(map[string]any{"id": nil, "type": "user"})
	id, _ := seg["id"].(string)
	if _, err := uuid.Parse(id); err != nil {
		t.Fatalf("generated id %q is not a UUID", id)
	}
	want := map[string]any{"id": id, "type": "user", "name": "", "description": "", "filter": map[string]any{},
		"all_users": false, "all_sender_channels": false, "size": float64(0), "locked": false}
	for k, v := range want {
		if fmt.Sprint(seg[k]) != fmt.Sprint(v) {
			t.Fatalf("unexpected %s; got %v; want %v", k, seg[k], v)
		}
	}
	if _, ok := seg["deleted_at"]; ok {
		t.Fatalf("a live segment has deleted_at: %v", seg)
	}
	for _, k := range []string{"created_at", "updated_at"} {
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(seg[k])); err != nil {
			t.Fatalf("bad %s %v", k, seg[k])
		}
	}

	seg = ts.mustCreateSegment(map[string]any{"type": "user", "id": "seg/1 é", "name": "segment_name", "description": "segment_description",
		"filter": map[string]any{"team": "commonteam"}})
	got := ts.getSegment("seg/1 é")
	if got["name"] != "segment_name" || got["description"] != "segment_description" || fmt.Sprint(got["filter"]) != "map[team:commonteam]" {
		t.Fatalf("unexpected segment %v", got)
	}
	if seg["created_at"] != got["created_at"] {
		t.Fatalf("created_at changed between create and get: %v vs %v", seg["created_at"], got["created_at"])
	}

	f := func(body any, substr string) {
		t.Helper()
		status, m := ts.do("POST", "/segments", body)
		wantErrorMsg(t, status, m, 400, 4, substr)
	}
	f(map[string]any{"id": "x"}, "type")
	f(map[string]any{"type": "people"}, "type")
	f(map[string]any{"type": "user", "id": "seg/1 é"}, "already exists")
	f(map[string]any{"type": "user", "name": strings.Repeat("é", 129)}, "name")
	f(map[string]any{"type": "user", "description": strings.Repeat("d", 257)}, "description")
	f(map[string]any{"type": "user", "id": strings.Repeat("i", 256)}, "id")
	f(map[string]any{"type": "user", "filter": map[string]any{"team": "a"}, "all_users": true}, "filter and all_users")
	f(map[string]any{"type": "channel", "filter": map[string]any{"team": "a"}, "all_sender_channels": true}, "filter and all_sender_channels")
	f(map[string]any{"type": "channel", "all_users": true}, "all_users applies to user segments")
	f(map[string]any{"type": "user", "all_sender_channels": true}, "all_sender_channels applies to channel segments")
	f(map[string]any{"type": "user", "filter": map[string]any{"age": map[string]any{"$bogus": 1}}}, "filter")
	f(map[string]any{"type": "user", "filter": "team"}, "filter")
	f(`{"type":"user",`, "JSON")

	// 128 characters (not bytes) are fine; an empty filter is no filter.
	seg = ts.mustCreateSegment(map[string]any{"type": "user", "name": strings.Repeat("é", 128), "filter": map[string]any{}})
	if fmt.Sprint(seg["filter"]) != "map[]" {
		t.Fatalf("unexpected filter %v", seg["filter"])
	}

	status, m := ts.do("GET", "/segments/nope", nil)
	wantErrorMsg(t, status, m, 404, 16, "nope")
}

func TestSegmentUpdateDelete(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateSegment(map[string]any{"type": "user", "id": "s", "name": "n", "description": "d"})
	ts.mustCreateSegment(map[string]any{"type": "user", "id": "other"})

	status, m := ts.do("PUT", "/segments/s", map[string]any{"name": "n2"})
	wantStatus(t, status, m, 201)
	seg := m["segment"].(map[string]any)
	if seg["name"] != "n2" || seg["description"] != "d" {
		t.Fatalf("partial update lost a field: %v", seg)
	}
	status, m = ts.do("PUT", "/segments/s", map[string]any{"description": "d2", "filter": map[string]any{"role": "admin"}})
	wantStatus(t, status, m, 201)
	got := ts.getSegment("s")
	if got["name"] != "n2" || got["description"] != "d2" || fmt.Sprint(got["filter"]) != "map[role:admin]" {
		t.Fatalf("unexpected segment after update: %v", got)
	}
	status, m = ts.do("PUT", "/segments/s", map[string]any{"all_users": true})
	wantErrorMsg(t, status, m, 400, 4, "mutually exclusive")
	status, m = ts.do("PUT", "/segments/s", map[string]any{"name": strings.Repeat("x", 129)})
	wantErrorMsg(t, status, m, 400, 4, "name")
	status, m = ts.do("PUT", "/segments/nope", map[string]any{"name": "x"})
	wantError(t, status, m, 404, 16)

	status, m = ts.do("DELETE", "/segments/s", nil)
	wantStatus(t, status, m, 200)
	status, m = ts.do("GET", "/segments/s", nil)
	wantError(t, status, m, 404, 16)
	status, m = ts.do("DELETE", "/segments/s", nil)
	wantError(t, status, m, 404, 16)
	status, m = ts.do("PUT", "/segments/s", map[string]any{"name": "x"})
	wantError(t, status, m, 404, 16)
	status, m = ts.do("POST", "/segments/s/addtargets", map[string]any{"target_ids": []string{"a"}})
	wantError(t, status, m, 404, 16)
	// Deleted segments keep their id.
	status, m = ts.do("POST", "/segments", map[string]any{"type": "user", "id": "s"})
	wantError(t, status, m, 400, 4)

	status, m = ts.do("POST", "/segments/query", map[string]any{"filter": map[string]any{}})
	wantStatus(t, status, m, 201)
	segs := m["segments"].([]any)
	if len(segs) != 1 || segs[0].(map[string]any)["id"] != "other" {
		t.Fatalf("deleted segment still queried: %v", segs)
	}
}

func TestSegmentTargets(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateSegment(map[string]any{"type": "user", "id": "s"})

	f := func(path string, body any, substr string) {
		t.Helper()
		status, m := ts.do("POST", path, body)
		wantErrorMsg(t, status, m, 400, 4, substr)
	}
	f("/segments/s/addtargets", map[string]any{"target_ids": []string{}}, "target_ids")
	f("/segments/s/addtargets", map[string]any{}, "target_ids")
	many := make([]string, 10001)
	for i := range many {
		many[i] = fmt.Sprintf("u%d", i)
	}
	f("/segments/s/addtargets", map[string]any{"target_ids": many}, "10000")
	f("/segments/s/addtargets", map[string]any{"target_ids": []string{""}}, "target_ids")

	// Exactly 10,000 ids (unknown users) are accepted and counted in place.
	ts.mustAddTargets("s", many[:10000]...)
	if size := ts.getSegment("s")["size"]; size != float64(10000) {
		t.Fatalf("unexpected size; got %v; want 10000", size)
	}
	ts.wantTarget("s", "u9999", true)
	ts.wantTarget("s", "u10000", false)
	ts.wantTarget("nope", "u1", false)

	// Re-adding present targets changes nothing, not even their created_at.
	before := ts.queryTargets("s", map[string]any{"filter": map[string]any{"target_id": "u5"}})
	time.Sleep(2 * time.Millisecond)
	ts.mustAddTargets("s", "u5", "u5", "new")
	after := ts.queryTargets("s", map[string]any{"filter": map[string]any{"target_id": "u5"}})
	if fmt.Sprint(before["targets"]) != fmt.Sprint(after["targets"]) {
		t.Fatalf("re-adding changed a target: %v vs %v", before, after)
	}
	if size := ts.getSegment("s")["size"]; size != float64(10001) {
		t.Fatalf("unexpected size; got %v; want 10001", size)
	}

	// deletetargets ignores absent ids, including never-seen ones.
	status, m := ts.do("POST", "/segments/s/deletetargets", map[string]any{"target_ids": []string{"u1", "u2", "absent-never-seen", "u1"}})
	wantStatus(t, status, m, 201)
	if size := ts.getSegment("s")["size"]; size != float64(9999) {
		t.Fatalf("unexpected size; got %v; want 9999", size)
	}
	ts.wantTarget("s", "u1", false)
	f("/segments/s/deletetargets", map[string]any{"target_ids": []string{}}, "target_ids")

	// Only static segments take targets.
	ts.mustCreateSegment(map[string]any{"type": "user", "id": "dyn", "filter": map[string]any{"role": "admin"}})
	ts.mustCreateSegment(map[string]any{"type": "user", "id": "all", "all_users": true})
	f("/segments/dyn/addtargets", map[string]any{"target_ids": []string{"a"}}, "static")
	f("/segments/all/addtargets", map[string]any{"target_ids": []string{"a"}}, "static")
	f("/segments/all/deletetargets", map[string]any{"target_ids": []string{"a"}}, "static")
	// A static segment with targets cannot become dynamic.
	status, m = ts.do("PUT", "/segments/s", map[string]any{"filter": map[string]any{"role": "admin"}})
	wantErrorMsg(t, status, m, 400, 4, "targets")

	// Channel segments take cids.
	ts.mustCreateSegment(map[string]any{"type": "channel", "id": "c"})
	ts.mustAddTargets("c", "messaging:general", "team:a:b")
	f("/segments/c/addtargets", map[string]any{"target_ids": []string{"general"}}, "cid")
	f("/segments/c/addtargets", map[string]any{"target_ids": []string{"messaging:"}}, "cid")
	ts.wantTarget("c", "messaging:general", true)
	// A cid that names no channel is a pending target: counted and listed, not interned.
	ts.wantTarget("c", "team:a:b", true)
	if _, ok := ts.DB.Channels.Lookup("team:a:b"); ok {
		t.Fatalf("a pending channel target was interned")
	}
	if size := ts.getSegment("c")["size"]; size != float64(2) {
		t.Fatalf("unexpected channel segment size %v", size)
	}
}

func (ts *testServer) queryTargets(id string, body map[string]any) map[string]any {
	ts.t.Helper()
	status, m := ts.do("POST", "/segments/"+url.PathEscape(id)+"/targets/query", body)
	wantStatus(ts.t, status, m, 201)
	return m
}

func targetIDs(t *testing.T, m map[string]any, segID string) []string {
	t.Helper()
	var ids []string
	for _, x := range m["targets"].([]any) {
		tg := x.(map[string]any)
		if tg["segment_id"] != segID {
			t.Fatalf("unexpected segment_id in %v", tg)
		}
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(tg["created_at"])); err != nil {
			t.Fatalf("bad created_at in %v", tg)
		}
		ids = append(ids, tg["target_id"].(string))
	}
	return ids
}

func TestSegmentTargetsQuery(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateSegment(map[string]any{"type": "user", "id": "s"})
	var all []string
	for i := 0; i < 25; i++ {
		all = append(all, fmt.Sprintf("t%02d", i))
	}
	ts.mustAddTargets("s", all...)

	f := func(body map[string]any, want []string) map[string]any {
		t.Helper()
		m := ts.queryTargets("s", body)
		if got := targetIDs(t, m, "s"); !slices.Equal(got, want) {
			t.Fatalf("unexpected targets for %v;\ngot  %v\nwant %v", body, got, want)
		}
		return m
	}
	// The SDK always sends filter {} and sort [].
	f(map[string]any{"filter": map[string]any{}, "sort": []any{}}, all)
	f(map[string]any{}, all)
	f(map[string]any{"filter": map[string]any{"target_id": map[string]any{"$gte": "t20"}}, "sort": []any{}}, all[20:])
	f(map[string]any{"filter": map[string]any{"target_id": map[string]any{"$gt": "t20", "$lte": "t22"}}}, all[21:23])
	f(map[string]any{"filter": map[string]any{"target_id": map[string]any{"$lt": "t02"}}}, all[:2])
	f(map[string]any{"filter": map[string]any{"target_id": map[string]any{"$eq": "t07"}}}, all[7:8])
	f(map[string]any{"filter": map[string]any{"target_id": "t07"}}, all[7:8])
	f(map[string]any{"filter": map[string]any{"target_id": map[string]any{"$in": []string{"t09", "t01", "zz"}}}}, []string{"t01", "t09"})
	f(map[string]any{"filter": map[string]any{"target_id": map[string]any{"$in": []string{"t09", "t01"}}},
		"sort": []any{map[string]any{"field": "target_id", "direction": -1}}}, []string{"t09", "t01"})
	rev := slices.Clone(all)
	slices.Reverse(rev)
	f(map[string]any{"filter": map[string]any{"target_id": map[string]any{"$gte": "t10"}},
		"sort": []any{map[string]any{"field": "target_id", "direction": -1}}}, rev[:15])
	// OpenAPI capitals decode too.
	f(map[string]any{"Filter": map[string]any{"target_id": "t03"}}, all[3:4])

	// Paging forward then back, both directions.
	for _, dir := range []int{1, -1} {
		want := all
		if dir == -1 {
			want = rev
		}
		sort := []any{map[string]any{"field": "target_id", "direction": dir}}
		m := f(map[string]any{"filter": map[string]any{}, "sort": sort, "limit": 10}, want[:10])
		if _, ok := m["prev"]; ok {
			t.Fatalf("first page has prev: %v", m["prev"])
		}
		m = f(map[string]any{"filter": map[string]any{}, "sort": sort, "limit": 10, "next": m["next"]}, want[10:20])
		next, prev := m["next"], m["prev"]
		m = f(map[string]any{"filter": map[string]any{}, "sort": sort, "limit": 10, "next": next}, want[20:])
		if _, ok := m["next"]; ok {
			t.Fatalf("last page has next: %v", m["next"])
		}
		m = f(map[string]any{"filter": map[string]any{}, "sort": sort, "limit": 10, "prev": m["prev"]}, want[10:20])
		if m["next"] == nil || m["prev"] == nil {
			t.Fatalf("middle page lacks a cursor: %v", m)
		}
		m = f(map[string]any{"filter": map[string]any{}, "sort": sort, "limit": 10, "prev": prev}, want[:10])
		if _, ok := m["prev"]; ok {
			t.Fatalf("first page reached by prev has prev: %v", m["prev"])
		}
		// A cursor made for one direction is refused for the other.
		status, mm := ts.do("POST", "/segments/s/targets/query", map[string]any{"sort": []any{map[string]any{"field": "target_id", "direction": -dir}}, "next": next})
		wantError(t, status, mm, 400, 4)
	}
	// A filtered walk keeps the filter.
	m := f(map[string]any{"filter": map[string]any{"target_id": map[string]any{"$gte": "t05", "$lt": "t12"}}, "limit": 4}, all[5:9])
	f(map[string]any{"filter": map[string]any{"target_id": map[string]any{"$gte": "t05", "$lt": "t12"}}, "limit": 4, "next": m["next"]}, all[9:12])

	bad := func(body map[string]any, substr string) {
		t.Helper()
		status, m := ts.do("POST", "/segments/s/targets/query", body)
		wantErrorMsg(t, status, m, 400, 4, substr)
	}
	bad(map[string]any{"limit": 10001}, "limit")
	bad(map[string]any{"limit": -1}, "limit")
	bad(map[string]any{"next": "garbage!"}, "next")
	bad(map[string]any{"prev": "bmF0MQ"}, "prev")
	bad(map[string]any{"next": "x", "prev": "y"}, "either")
	bad(map[string]any{"filter": map[string]any{"name": "x"}}, "filter")
	bad(map[string]any{"sort": []any{map[string]any{"field": "created_at", "direction": 1}}}, "target_id")
	status, mm := ts.do("POST", "/segments/nope/targets/query", map[string]any{})
	wantError(t, status, mm, 404, 16)
}

func TestSegmentsQuery(t *testing.T) {
	ts := mustStartTestServer(t)
	for i := 0; i < 7; i++ {
		typ := "user"
		if i%2 == 1 {
			typ = "channel"
		}
		ts.mustCreateSegment(map[string]any{"type": typ, "id": fmt.Sprintf("s%d", i), "name": fmt.Sprintf("name %d", i), "all_users": i == 4})
		time.Sleep(time.Millisecond)
	}
	f := func(body map[string]any, want ...string) map[string]any {
		t.Helper()
		status, m := ts.do("POST", "/segments/query", body)
		wantStatus(t, status, m, 201)
		var got []string
		for _, x := range m["segments"].([]any) {
			got = append(got, x.(map[string]any)["id"].(string))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("unexpected segments for %v; got %v; want %v", body, got, want)
		}
		return m
	}
	f(map[string]any{"filter": map[string]any{}}, "s6", "s5", "s4", "s3", "s2", "s1", "s0")
	f(map[string]any{"filter": map[string]any{"type": "channel"}, "sort": []any{map[string]any{"field": "created_at", "direction": 1}}}, "s1", "s3", "s5")
	f(map[string]any{"filter": map[string]any{"id": map[string]any{"$in": []string{"s2", "s0", "zz"}}}, "sort": []any{map[string]any{"field": "id", "direction": 1}}}, "s0", "s2")
	f(map[string]any{"filter": map[string]any{"name": "name 3"}}, "s3")
	f(map[string]any{"filter": map[string]any{"all_users": true}}, "s4")
	m := f(map[string]any{"filter": map[string]any{"type": "user"}, "sort": []any{map[string]any{"field": "name", "direction": -1}}, "limit": 3}, "s6", "s4", "s2")
	m = f(map[string]any{"filter": map[string]any{"type": "user"}, "sort": []any{map[string]any{"field": "name", "direction": -1}}, "limit": 3, "next": m["next"]}, "s0")
	if _, ok := m["next"]; ok {
		t.Fatalf("last page has next")
	}
	f(map[string]any{"filter": map[string]any{"type": "user"}, "sort": []any{map[string]any{"field": "name", "direction": -1}}, "limit": 3, "prev": m["prev"]}, "s6", "s4", "s2")

	bad := func(body map[string]any, substr string) {
		t.Helper()
		status, m := ts.do("POST", "/segments/query", body)
		wantErrorMsg(t, status, m, 400, 4, substr)
	}
	bad(map[string]any{"limit": 101}, "limit")
	bad(map[string]any{"filter": map[string]any{"color": "red"}}, "color")
	bad(map[string]any{"sort": []any{map[string]any{"field": "color"}}}, "sort")
	bad(map[string]any{"next": "zzz"}, "next")
}

func TestSegmentSizeComputed(t *testing.T) {
	ts := mustStartTestServer(t)
	var users []storage.User
	for i := 0; i < 250; i++ {
		u := storage.User{ID: fmt.Sprintf("u%03d", i), Custom: []byte(`{"country":"FR"}`)}
		if i%5 == 0 {
			u.Custom = []byte(`{"country":"USA"}`)
			u.Teams = []string{"commonteam"}
		}
		users = append(users, u)
	}
	ts.mustUpsertUsers(users...)

	seg := ts.mustCreateSegment(map[string]any{"type": "user", "id": "usa", "name": "People in the USA", "filter": map[string]any{"country": "USA"}})
	if seg["size"] != float64(0) {
		t.Fatalf("size is known before it is computed: %v", seg["size"])
	}
	ts.mustCreateSegment(map[string]any{"type": "user", "id": "everyone", "all_users": true})
	ts.mustCreateSegment(map[string]any{"type": "channel", "id": "mine", "all_sender_channels": true})
	waitSize := func(id string, want float64) {
		t.Helper()
		checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
			if got := ts.getSegment(id)["size"]; got != want {
				return fmt.Errorf("size of %s is %v; want %v", id, got, want)
			}
			return nil
		})
	}
	waitSize("usa", 50)
	waitSize("everyone", 250)
	if got := ts.getSegment("mine")["size"]; got != float64(0) {
		t.Fatalf("all_sender_channels segment has size %v", got)
	}
	ts.wantTarget("usa", "u005", true)
	ts.wantTarget("usa", "u001", false)
	ts.wantTarget("everyone", "u001", true)

	// An update of the filter is sized again.
	status, m := ts.do("PUT", "/segments/usa", map[string]any{"filter": map[string]any{"country": "FR"}})
	wantStatus(t, status, m, 201)
	waitSize("usa", 200)
	status, m = ts.do("PUT", "/segments/usa", map[string]any{"filter": map[string]any{"team": "commonteam"}})
	wantStatus(t, status, m, 201)
	waitSize("usa", 50)
	// Removing the filter makes it static and empty.
	status, m = ts.do("PUT", "/segments/usa", map[string]any{"filter": nil})
	wantStatus(t, status, m, 201)
	if got := ts.getSegment("usa"); got["size"] != float64(0) || fmt.Sprint(got["filter"]) != "map[]" {
		t.Fatalf("unexpected segment after removing its filter: %v", got)
	}
	ts.mustAddTargets("usa", "x")
}

func TestSegmentLocked(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateSegment(map[string]any{"type": "user", "id": "s"})
	ts.mustAddTargets("s", "a")
	tx := ts.E.NewTx()
	if err := ts.E.LockSegments(tx, []string{"s"}, "camp1"); err != nil {
		t.Fatalf("cannot lock: %s", err)
	}
	if err := ts.E.LockSegments(tx, []string{"nope"}, "camp1"); err == nil {
		t.Fatalf("locking a missing segment succeeded")
	}
	if err := ts.E.Commit(tx); err != nil {
		t.Fatalf("cannot commit: %s", err)
	}
	if got := ts.getSegment("s")["locked"]; got != true {
		t.Fatalf("unexpected locked; got %v; want true", got)
	}
	f := func(method, path string, body any) {
		t.Helper()
		status, m := ts.do(method, path, body)
		wantErrorMsg(t, status, m, 400, 4, "running campaign")
	}
	f("PUT", "/segments/s", map[string]any{"name": "x"})
	f("DELETE", "/segments/s", nil)
	f("POST", "/segments/s/addtargets", map[string]any{"target_ids": []string{"b"}})
	f("POST", "/segments/s/deletetargets", map[string]any{"target_ids": []string{"a"}})
	// Reads still work.
	ts.wantTarget("s", "a", true)

	tx = ts.E.NewTx()
	ts.E.UnlockSegments(tx, []string{"s", "nope"}, "camp1")
	if err := ts.E.Commit(tx); err != nil {
		t.Fatalf("cannot commit: %s", err)
	}
	if got := ts.getSegment("s")["locked"]; got != false {
		t.Fatalf("unexpected locked; got %v; want false", got)
	}
	status, m := ts.do("PUT", "/segments/s", map[string]any{"name": "x"})
	wantStatus(t, status, m, 201)
}

func TestSegmentRestart(t *testing.T) {
	dir := t.TempDir()
	ts := mustStartTestServerAt(t, dir)
	ts.mustCreateSegment(map[string]any{"type": "user", "id": "s"})
	ts.mustAddTargets("s", "a", "b", "c")
	ts.mustUpsertUsers(storage.User{ID: "a", Role: "admin"}, storage.User{ID: "b"})
	// A filter segment whose computation was pending at the stop (written as the engine stores
	// it, since a live engine would size it right away).
	rec := storage.Segment{ID: "pending", Type: "user", Filter: []byte(`{"role":"admin"}`), Computing: true, Generation: 1,
		CreatedAt: time.Now().UnixNano(), UpdatedAt: time.Now().UnixNano()}
	b := ts.DB.NewBatch()
	b.PutSegment(&rec)
	if err := b.Commit(true); err != nil {
		t.Fatalf("cannot commit: %s", err)
	}
	ts.Stop()

	ts = mustStartTestServerAt(t, dir)
	if got := ts.getSegment("s")["size"]; got != float64(3) {
		t.Fatalf("unexpected size after restart; got %v; want 3", got)
	}
	m := ts.queryTargets("s", map[string]any{})
	if got := targetIDs(t, m, "s"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("unexpected targets after restart: %v", got)
	}
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := ts.getSegment("pending")["size"]; got != float64(1) {
			return fmt.Errorf("pending size is %v; want 1", got)
		}
		return nil
	})
	ts.mustAddTargets("s", "d")
	if got := ts.getSegment("s")["size"]; got != float64(4) {
		t.Fatalf("unexpected size; got %v; want 4", got)
	}
}
