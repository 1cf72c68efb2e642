package httpd

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// upsert POSTs users (a map id → object) and returns the reply's users map.
func (ts *testServer) upsert(users map[string]map[string]any) map[string]any {
	ts.t.Helper()
	status, m := ts.do("POST", "/users", map[string]any{"users": users})
	if status != 201 {
		ts.t.Fatalf("unexpected upsert status %d: %v", status, m)
	}
	out, ok := m["users"].(map[string]any)
	if !ok {
		ts.t.Fatalf("upsert reply has no users map: %v", m)
	}
	return out
}

// query runs GET /users with payload p and returns the ids in reply order.
func (ts *testServer) query(p map[string]any) []string {
	ts.t.Helper()
	status, m := ts.queryRaw(p)
	if status != 200 {
		ts.t.Fatalf("unexpected query status %d: %v", status, m)
	}
	arr, ok := m["users"].([]any)
	if !ok {
		ts.t.Fatalf("query reply users is not an array: %v", m)
	}
	ids := []string{}
	for _, u := range arr {
		ids = append(ids, u.(map[string]any)["id"].(string))
	}
	return ids
}

func (ts *testServer) queryRaw(p map[string]any) (int, map[string]any) {
	ts.t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		ts.t.Fatal(err)
	}
	return ts.do("GET", "/users?payload="+url.QueryEscape(string(b)), nil)
}

func (ts *testServer) getUser(id string) map[string]any {
	ts.t.Helper()
	status, m := ts.queryRaw(map[string]any{"filter_conditions": map[string]any{"id": id}})
	if status != 200 {
		ts.t.Fatalf("unexpected status %d: %v", status, m)
	}
	arr := m["users"].([]any)
	if len(arr) == 0 {
		return nil
	}
	return arr[0].(map[string]any)
}

func TestUpsertUsers(t *testing.T) {
	ts := mustStartTestServer(t)
	out := ts.upsert(map[string]map[string]any{
		"u1": {"id": "u1", "name": "Ann", "color": "red", "teams": []string{"a", "b"}, "banned": true, "nested": map[string]any{"x": []any{1, "y", nil}}},
		"u2": {"id": "u2", "role": "admin"},
	})
	u1 := out["u1"].(map[string]any)
	for k, want := range map[string]any{
		"id": "u1", "name": "Ann", "role": "user", "color": "red", "banned": true, "online": false,
		"teams": []any{"a", "b"}, "devices": []any{}, "mutes": []any{}, "channel_mutes": []any{},
		"total_unread_count": 0.0, "unread_count": 0.0, "unread_channels": 0.0, "unread_threads": 0.0,
		"blocked_user_ids": []any{}, "language": "", "shadow_banned": false,
		"nested": map[string]any{"x": []any{1.0, "y", nil}},
	} {
		if !reflect.DeepEqual(u1[k], want) {
			t.Fatalf("unexpected %q; got %#v; want %#v", k, u1[k], want)
		}
	}
	if _, ok := u1["custom"]; ok {
		t.Fatalf("custom fields must be flattened: %v", u1)
	}
	created := u1["created_at"].(string)
	if _, err := time.Parse(time.RFC3339Nano, created); err != nil {
		t.Fatalf("bad created_at %q", created)
	}
	if out["u2"].(map[string]any)["role"] != "admin" {
		t.Fatalf("unexpected u2: %v", out["u2"])
	}

	// Replace semantics: fields not sent are dropped, created_at is kept, updated_at moves.
	time.Sleep(2 * time.Millisecond)
	out = ts.upsert(map[string]map[string]any{"u1": {"id": "u1", "size": 3}})
	u1 = out["u1"].(map[string]any)
	if u1["created_at"] != created {
		t.Fatalf("created_at changed; got %v; want %v", u1["created_at"], created)
	}
	if u1["updated_at"] == created {
		t.Fatalf("updated_at did not move")
	}
	for _, k := range []string{"name", "color", "nested"} {
		if _, ok := u1[k]; ok {
			t.Fatalf("replace kept %q: %v", k, u1)
		}
	}
	if u1["banned"] != false || u1["size"] != 3.0 || !reflect.DeepEqual(u1["teams"], []any{}) {
		t.Fatalf("unexpected replaced user: %v", u1)
	}
	got := ts.getUser("u1")
	if got["size"] != 3.0 || got["created_at"] != created {
		t.Fatalf("unexpected stored user: %v", got)
	}

	// Read-only keys sent back by a client are ignored, a nested "custom" object is flattened.
	out = ts.upsert(map[string]map[string]any{"u3": {"id": "u3", "online": true, "devices": []any{}, "updated_at": "2000-01-01T00:00:00Z", "custom": map[string]any{"k": "v"}}})
	u3 := out["u3"].(map[string]any)
	if u3["online"] != false || u3["k"] != "v" || u3["updated_at"] == "2000-01-01T00:00:00.000000Z" {
		t.Fatalf("unexpected u3: %v", u3)
	}
	// created_at of a new user may be given (migrations); it is kept afterwards.
	out = ts.upsert(map[string]map[string]any{"u4": {"id": "u4", "created_at": "2020-03-30T07:54:46.277381Z"}})
	if c := out["u4"].(map[string]any)["created_at"]; c != "2020-03-30T07:54:46.277381Z" {
		t.Fatalf("unexpected created_at %v", c)
	}
}

func TestUpsertUsersBadInput(t *testing.T) {
	ts := mustStartTestServer(t)
	f := func(body any, field string) {
		t.Helper()
		status, m := ts.do("POST", "/users", body)
		wantError(t, status, m, 400, 4)
		if field != "" {
			ef, _ := m["exception_fields"].(map[string]any)
			if _, ok := ef[field]; !ok {
				t.Fatalf("error does not name field %q: %v", field, m)
			}
		}
		// Atomic: the good user in the same request was not written.
		if u := ts.getUser("good"); u != nil {
			t.Fatalf("a user was stored from a rejected request: %v", u)
		}
	}
	good := map[string]any{"id": "good"}
	long := strings.Repeat("x", 256)
	f(`{"users":`, "")
	f(`not json`, "")
	f(`[]`, "")
	f(`{}`, "users")
	f(`{"users":[]}`, "users")
	f(`{"users":{}}`, "users")
	f(map[string]any{"users": map[string]any{"good": good, "": map[string]any{"id": ""}}}, "id")
	f(map[string]any{"users": map[string]any{"good": good, long: map[string]any{"id": long}}}, "id")
	f(map[string]any{"users": map[string]any{"good": good, "a": map[string]any{"id": "b"}}}, "id")
	f(map[string]any{"users": map[string]any{"good": good, "a": map[string]any{"id": 5}}}, "id")
	f(map[string]any{"users": map[string]any{"good": good, "a": "x"}}, "a")
	f(map[string]any{"users": map[string]any{"good": good, "a": map[string]any{"id": "a", "banned": "yes"}}}, "banned")
	f(map[string]any{"users": map[string]any{"good": good, "a": map[string]any{"id": "a", "name": 3}}}, "name")
	f(map[string]any{"users": map[string]any{"good": good, "a": map[string]any{"id": "a", "teams": "red"}}}, "teams")
	f(map[string]any{"users": map[string]any{"good": good, "a": map[string]any{"id": "a", "teams": []any{1}}}}, "teams")
	f(map[string]any{"users": map[string]any{"good": good, "a": map[string]any{"id": "a", "created_at": "yesterday"}}}, "created_at")
	f(map[string]any{"users": map[string]any{"good": good, "a": map[string]any{"id": "a", "big": strings.Repeat("y", 6000)}}}, "big")
	f(`{"users":{"good":{"id":"good"},"a":{"id":"a","n":NaN}}}`, "")
	f(`{"users":{"good":{"id":"good"},"a":{"id":"a","n":01}}}`, "")
	f(`{"users":{"good":{"id":"good"},"a":{"id":"a","k":1,"k":2}}}`, "k")
	f(`{"users":{"good":{"id":"good"},"good":{"id":"good"}}}`, "users")

	// The message names the field and the type.
	status, m := ts.do("POST", "/users", map[string]any{"users": map[string]any{"a": map[string]any{"id": "a", "banned": "yes"}}})
	wantError(t, status, m, 400, 4)
	if msg := m["message"].(string); !strings.Contains(msg, `"banned"`) || !strings.Contains(msg, "boolean") || !strings.HasPrefix(msg, "UpdateUsers failed with error:") {
		t.Fatalf("unclear message: %q", msg)
	}

	// More than 100 users.
	many := map[string]any{}
	for i := 0; i < 101; i++ {
		id := fmt.Sprintf("m%d", i)
		many[id] = map[string]any{"id": id}
	}
	status, m = ts.do("POST", "/users", map[string]any{"users": many})
	wantError(t, status, m, 400, 4)
	delete(many, "m0")
	if status, m = ts.do("POST", "/users", map[string]any{"users": many}); status != 201 {
		t.Fatalf("100 users rejected: %d %v", status, m)
	}

	// A missing id takes the key; unicode and slashes are fine.
	out := ts.upsert(map[string]map[string]any{"é/x y": {"name": "n"}})
	if out["é/x y"].(map[string]any)["id"] != "é/x y" {
		t.Fatalf("unexpected reply %v", out)
	}
}

func TestPartialUpdateUsers(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.upsert(map[string]map[string]any{
		"u1": {"id": "u1", "name": "Ann", "color": "red", "size": 1, "teams": []string{"a"}},
		"u2": {"id": "u2"},
	})
	created := ts.getUser("u1")["created_at"]
	status, m := ts.do("PATCH", "/users", map[string]any{"users": []any{
		map[string]any{"id": "u1", "set": map[string]any{"color": "blue", "role": "admin", "banned": true, "extra": map[string]any{"a": 1}}, "unset": []string{"name", "size", "teams"}},
		map[string]any{"id": "u2", "set": map[string]any{"name": "Bob"}},
	}})
	if status != 200 {
		t.Fatalf("unexpected status %d: %v", status, m)
	}
	u1 := m["users"].(map[string]any)["u1"].(map[string]any)
	want := map[string]any{"color": "blue", "role": "admin", "banned": true, "extra": map[string]any{"a": 1.0}, "teams": []any{}, "created_at": created}
	for k, v := range want {
		if !reflect.DeepEqual(u1[k], v) {
			t.Fatalf("unexpected %q; got %#v; want %#v", k, u1[k], v)
		}
	}
	for _, k := range []string{"name", "size"} {
		if _, ok := u1[k]; ok {
			t.Fatalf("unset kept %q: %v", k, u1)
		}
	}
	stored := ts.getUser("u1")
	for k, v := range want {
		if !reflect.DeepEqual(stored[k], v) {
			t.Fatalf("unexpected stored %q; got %#v; want %#v", k, stored[k], v)
		}
	}
	if ts.getUser("u2")["name"] != "Bob" {
		t.Fatalf("u2 not updated")
	}
	// Unsetting role restores the default.
	status, m = ts.do("PATCH", "/users", map[string]any{"users": []any{map[string]any{"id": "u1", "unset": []string{"role"}}}})
	if status != 200 || m["users"].(map[string]any)["u1"].(map[string]any)["role"] != "user" {
		t.Fatalf("unexpected reply %d %v", status, m)
	}

	f := func(body any, wantStatus, wantCode int) {
		t.Helper()
		status, m := ts.do("PATCH", "/users", body)
		wantError(t, status, m, wantStatus, wantCode)
		if ts.getUser("u2")["name"] != "Bob" {
			t.Fatalf("u2 changed by a rejected request")
		}
	}
	bob := map[string]any{"id": "u2", "set": map[string]any{"name": "Changed"}}
	f(map[string]any{"users": []any{bob, map[string]any{"id": "nobody", "set": map[string]any{"a": 1}}}}, 404, 16)
	f(map[string]any{"users": []any{bob, map[string]any{"id": "u1", "set": map[string]any{"id": "x"}}}}, 400, 4)
	f(map[string]any{"users": []any{bob, map[string]any{"id": "u1", "set": map[string]any{"created_at": "2020-01-01T00:00:00Z"}}}}, 400, 4)
	f(map[string]any{"users": []any{bob, map[string]any{"id": "u1", "unset": []string{"id"}}}}, 400, 4)
	f(map[string]any{"users": []any{bob, map[string]any{"id": "u1", "set": map[string]any{"banned": "yes"}}}}, 400, 4)
	f(map[string]any{"users": []any{bob, map[string]any{"id": "u1", "set": map[string]any{"x": 1}, "unset": []string{"x"}}}}, 400, 4)
	f(map[string]any{"users": []any{bob, map[string]any{"id": "u1", "set": "x"}}}, 400, 4)
	f(map[string]any{"users": []any{bob, map[string]any{"id": "u1", "unset": "x"}}}, 400, 4)
	f(map[string]any{"users": []any{bob, map[string]any{"set": map[string]any{"a": 1}}}}, 400, 4)
	f(map[string]any{"users": map[string]any{"u2": bob}}, 400, 4)
	f(`{"users":[`, 400, 4)
}

func TestQueryUsers(t *testing.T) {
	ts := mustStartTestServer(t)
	users := map[string]map[string]any{}
	add := func(id string, fields map[string]any) {
		fields["id"] = id
		users[id] = fields
	}
	add("alice", map[string]any{"name": "Alice Smith", "role": "admin", "teams": []string{"red", "blue"}, "age": 31, "city": "Oslo", "created_at": "2021-01-01T00:00:00Z"})
	add("bob", map[string]any{"name": "Bob Jones", "teams": []string{"blue"}, "age": 25, "banned": true, "created_at": "2022-01-01T00:00:00Z"})
	add("carol", map[string]any{"name": "Carol", "age": 40, "tags": []string{"vip"}, "created_at": "2023-01-01T00:00:00Z", "last_active": "2024-05-01T00:00:00Z"})
	add("dave", map[string]any{"created_at": "2024-01-01T00:00:00Z"})
	ts.upsert(users)

	f := func(p map[string]any, want ...string) {
		t.Helper()
		got := ts.query(p)
		if want == nil {
			want = []string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("unexpected result for %v; got %v; want %v", p, got, want)
		}
	}
	fc := func(filter map[string]any, want ...string) {
		t.Helper()
		f(map[string]any{"filter_conditions": filter, "sort": []any{}, "presence": false}, want...)
	}
	// Default order: created_at ascending.
	fc(map[string]any{}, "alice", "bob", "carol", "dave")
	fc(map[string]any{"id": "bob"}, "bob")
	fc(map[string]any{"id": map[string]any{"$eq": "bob"}}, "bob")
	fc(map[string]any{"id": map[string]any{"$in": []string{"dave", "alice", "nobody"}}}, "alice", "dave")
	fc(map[string]any{"id": map[string]any{"$ne": "bob"}}, "alice", "carol", "dave")
	fc(map[string]any{"id": map[string]any{"$nin": []string{"bob", "carol"}}}, "alice", "dave")
	fc(map[string]any{"id": map[string]any{"$gt": "bob"}}, "carol", "dave")
	fc(map[string]any{"id": map[string]any{"$autocomplete": "ca"}}, "carol")
	fc(map[string]any{"name": map[string]any{"$autocomplete": "jon"}}, "bob")
	fc(map[string]any{"name": map[string]any{"$exists": false}}, "dave")
	fc(map[string]any{"name": map[string]any{"$contains": "o"}}, "bob", "carol")
	fc(map[string]any{"role": "admin"}, "alice")
	fc(map[string]any{"team": "blue"}, "alice", "bob")
	fc(map[string]any{"teams": map[string]any{"$in": []string{"red"}}}, "alice")
	fc(map[string]any{"teams": map[string]any{"$contains": "blue"}}, "alice", "bob")
	fc(map[string]any{"banned": true}, "bob")
	fc(map[string]any{"banned": false}, "alice", "carol", "dave")
	fc(map[string]any{"created_at": map[string]any{"$gte": "2022-01-01T00:00:00Z"}}, "bob", "carol", "dave")
	fc(map[string]any{"created_at": map[string]any{"$lt": "2022-01-01T00:00:00Z"}}, "alice")
	fc(map[string]any{"created_at": map[string]any{"$lte": "2022-01-01T00:00:00.000Z"}}, "alice", "bob")
	fc(map[string]any{"last_active": map[string]any{"$exists": true}}, "carol")
	fc(map[string]any{"updated_at": map[string]any{"$gt": "2000-01-01T00:00:00Z"}}, "alice", "bob", "carol", "dave")
	fc(map[string]any{"age": map[string]any{"$gt": 30}}, "alice", "carol")
	fc(map[string]any{"city": "Oslo"}, "alice")
	fc(map[string]any{"tags": "vip"}, "carol")
	fc(map[string]any{"$or": []any{map[string]any{"age": 25}, map[string]any{"city": "Oslo"}}}, "alice", "bob")
	fc(map[string]any{"$and": []any{map[string]any{"team": "blue"}, map[string]any{"banned": false}}}, "alice")
	fc(map[string]any{"$nor": []any{map[string]any{"age": map[string]any{"$exists": true}}}}, "dave")
	fc(map[string]any{"id": "bob", "banned": false})

	// Sort, limit, offset.
	f(map[string]any{"filter_conditions": map[string]any{}, "sort": []any{map[string]any{"field": "created_at", "direction": -1}}}, "dave", "carol", "bob", "alice")
	f(map[string]any{"filter_conditions": map[string]any{}, "sort": []any{map[string]any{"field": "age", "direction": -1}}}, "carol", "alice", "bob", "dave")
	f(map[string]any{"filter_conditions": map[string]any{}, "sort": []any{map[string]any{"field": "name", "direction": 1}}}, "dave", "alice", "bob", "carol")
	f(map[string]any{"filter_conditions": map[string]any{}, "limit": 2}, "alice", "bob")
	f(map[string]any{"filter_conditions": map[string]any{}, "limit": 2, "offset": 3}, "dave")
	f(map[string]any{"filter_conditions": map[string]any{}, "offset": 10})
	f(map[string]any{"filter_conditions": map[string]any{}, "limit": 100, "offset": 1000})

	bad := func(p map[string]any, field string) {
		t.Helper()
		status, m := ts.queryRaw(p)
		wantError(t, status, m, 400, 4)
		if field != "" && !strings.Contains(m["message"].(string), field) {
			t.Fatalf("message does not name %q: %v", field, m["message"])
		}
	}
	bad(map[string]any{"filter_conditions": map[string]any{"teams": map[string]any{"$gt": "a"}}}, "teams")
	bad(map[string]any{"filter_conditions": map[string]any{"name": map[string]any{"$bogus": "a"}}}, "$bogus")
	bad(map[string]any{"filter_conditions": map[string]any{"banned": "yes"}}, "banned")
	bad(map[string]any{"filter_conditions": map[string]any{"created_at": map[string]any{"$gt": "soon"}}}, "created_at")
	bad(map[string]any{"filter_conditions": map[string]any{}, "limit": 101}, "limit")
	bad(map[string]any{"filter_conditions": map[string]any{}, "limit": -1}, "limit")
	bad(map[string]any{"filter_conditions": map[string]any{}, "offset": 1001}, "offset")
	bad(map[string]any{"filter_conditions": map[string]any{}, "limit": "x"}, "limit")
	bad(map[string]any{"filter_conditions": map[string]any{}, "sort": []any{map[string]any{"field": "teams"}}}, "teams")
	status, m := ts.do("GET", "/users?payload="+url.QueryEscape("{nope"), nil)
	wantError(t, status, m, 400, 4)
	status, m = ts.do("GET", "/users", nil)
	wantError(t, status, m, 400, 4)
}

func TestDeleteUser(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.upsert(map[string]map[string]any{"a/b": {"id": "a/b", "name": "A"}, "c": {"id": "c"}, "d": {"id": "d"}})
	status, m := ts.do("DELETE", "/users/"+url.PathEscape("a/b")+"?mark_messages_deleted=true", nil)
	if status != 200 {
		t.Fatalf("unexpected status %d: %v", status, m)
	}
	u := m["user"].(map[string]any)
	if u["id"] != "a/b" || u["name"] != "A" || u["deleted_at"] == nil {
		t.Fatalf("unexpected user %v", u)
	}
	if tid, _ := m["task_id"].(string); len(tid) != 36 {
		t.Fatalf("unexpected task_id %v", m["task_id"])
	}
	// Hidden from queries, a second soft delete is 404, a hard delete still purges it.
	if ids := ts.query(map[string]any{"filter_conditions": map[string]any{}}); !reflect.DeepEqual(ids, []string{"c", "d"}) {
		t.Fatalf("soft-deleted user still listed: %v", ids)
	}
	status, m = ts.do("DELETE", "/users/"+url.PathEscape("a/b"), nil)
	wantError(t, status, m, 404, 16)
	status, _ = ts.do("DELETE", "/users/"+url.PathEscape("a/b")+"?hard_delete=true", nil)
	if status != 200 {
		t.Fatalf("hard delete of a soft-deleted user failed: %d", status)
	}
	status, m = ts.do("DELETE", "/users/c?hard_delete=true", nil)
	if status != 200 {
		t.Fatalf("unexpected status %d: %v", status, m)
	}
	status, m = ts.do("DELETE", "/users/c", nil)
	wantError(t, status, m, 404, 16)
	status, m = ts.do("DELETE", "/users/nobody", nil)
	wantError(t, status, m, 404, 16)
	status, m = ts.do("DELETE", "/users/d?hard_delete=maybe", nil)
	wantError(t, status, m, 400, 4)
	// PATCH of a deleted user is 404; an upsert brings it back as a new user with the same ordinal.
	status, m = ts.do("PATCH", "/users", map[string]any{"users": []any{map[string]any{"id": "c", "set": map[string]any{"x": 1}}}})
	wantError(t, status, m, 404, 16)
	ord, _ := ts.DB.Users.Lookup("c")
	ts.upsert(map[string]map[string]any{"c": {"id": "c"}})
	if ord2, _ := ts.DB.Users.Lookup("c"); ord2 != ord {
		t.Fatalf("ordinal changed; got %d; want %d", ord2, ord)
	}
	if ids := ts.query(map[string]any{"filter_conditions": map[string]any{}}); !reflect.DeepEqual(ids, []string{"d", "c"}) {
		t.Fatalf("unexpected users %v", ids)
	}
}

func TestImportUsers(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.upsert(map[string]map[string]any{"old": {"id": "old", "name": "x", "created_at": "2020-01-01T00:00:00Z"}})
	lines := []string{
		`{"id":"i1","name":"One","team":"x","teams":["red"]}`,
		``,
		`{"id":"i2","banned":"yes"}`,
		`not json`,
		`   `,
		`{"id":"old","age":5}`,
		`{"name":"no id"}`,
		`{"id":"` + strings.Repeat("z", 256) + `"}`,
		`{"id":"i3","big":"` + strings.Repeat("q", 2<<20) + `"}`,
		`{"id":"i4"}` + "\r",
		`{"id":"i5","age":1}`, // last line without a newline
	}
	status, raw := ts.doRaw(ts.token, "POST", "/users/import", strings.Join(lines, "\n"))
	if status != 201 {
		t.Fatalf("unexpected status %d: %s", status, raw)
	}
	var res struct {
		Imported        int  `json:"imported"`
		Failed          int  `json:"failed"`
		ErrorsTruncated bool `json:"errors_truncated"`
		Errors          []struct {
			Line   int    `json:"line"`
			Reason string `json:"reason"`
		} `json:"errors"`
		Duration string `json:"duration"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("bad reply %s: %s", raw, err)
	}
	if res.Imported != 4 || res.Failed != 5 || res.ErrorsTruncated || res.Duration == "" {
		t.Fatalf("unexpected result %s", raw)
	}
	wantLines := []int{3, 4, 7, 8, 9}
	for i, e := range res.Errors {
		if e.Line != wantLines[i] || e.Reason == "" {
			t.Fatalf("unexpected error %d: %+v; want line %d", i, e, wantLines[i])
		}
	}
	if !strings.Contains(res.Errors[0].Reason, "banned") || !strings.Contains(res.Errors[4].Reason, "longer than") {
		t.Fatalf("unclear reasons: %+v", res.Errors)
	}
	ids := ts.query(map[string]any{"filter_conditions": map[string]any{}, "sort": []any{map[string]any{"field": "id", "direction": 1}}})
	if !reflect.DeepEqual(ids, []string{"i1", "i4", "i5", "old"}) {
		t.Fatalf("unexpected users %v", ids)
	}
	old := ts.getUser("old")
	if old["created_at"] != "2020-01-01T00:00:00.000000Z" || old["age"] != 5.0 || old["name"] != nil {
		t.Fatalf("import did not replace with created_at kept: %v", old)
	}
	if u := ts.getUser("i1"); u["team"] != "x" || !reflect.DeepEqual(u["teams"], []any{"red"}) {
		t.Fatalf("unexpected i1 %v", u)
	}

	// Empty body: nothing imported, no error.
	status, raw = ts.doRaw(ts.token, "POST", "/users/import", "")
	if status != 201 || !strings.Contains(string(raw), `"imported":0,"failed":0`) {
		t.Fatalf("unexpected reply %d %s", status, raw)
	}
}

func TestImportUsersErrorsTruncated(t *testing.T) {
	ts := mustStartTestServer(t)
	var sb strings.Builder
	for i := 0; i < 1500; i++ {
		sb.WriteString("{bad\n")
		fmt.Fprintf(&sb, `{"id":"u%d"}`+"\n", i)
	}
	status, raw := ts.doRaw(ts.token, "POST", "/users/import", sb.String())
	var res map[string]any
	_ = json.Unmarshal(raw, &res)
	if status != 201 || res["imported"] != 1500.0 || res["failed"] != 1500.0 || res["errors_truncated"] != true || len(res["errors"].([]any)) != 1000 {
		t.Fatalf("unexpected reply %d imported=%v failed=%v truncated=%v", status, res["imported"], res["failed"], res["errors_truncated"])
	}
}

func TestUsersPersistAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ts := mustStartTestServerAt(t, dir)
	ts.upsert(map[string]map[string]any{"p1": {"id": "p1", "name": "P", "k": []any{1}}})
	status, _ := ts.doRaw(ts.token, "POST", "/users/import", "{\"id\":\"p2\"}\n{\"id\":\"p3\"}\n")
	if status != 201 {
		t.Fatalf("import failed: %d", status)
	}
	before := ts.getUser("p1")
	ts.Stop()

	ts = mustStartTestServerAt(t, dir)
	after := ts.getUser("p1")
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("user changed across restart;\nbefore %v\nafter  %v", before, after)
	}
	if ids := ts.query(map[string]any{"filter_conditions": map[string]any{}}); len(ids) != 3 {
		t.Fatalf("unexpected users after restart: %v", ids)
	}
}

func TestUsersMetrics(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.upsert(map[string]map[string]any{"m": {"id": "m"}})
	status, raw := ts.doRaw("", "GET", "/metrics", nil)
	if status != 200 {
		t.Fatalf("unexpected status %d", status)
	}
	for _, name := range []string{"campaignd_users_upserted_total", "campaignd_users_imported_total", "campaignd_users_deleted_total"} {
		if !strings.Contains(string(raw), name) {
			t.Fatalf("metrics lack %s", name)
		}
	}
}

func TestImportUsersChunkedBody(t *testing.T) {
	ts := mustStartTestServer(t)
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 30000; i++ {
			fmt.Fprintf(pw, `{"id":"c%d","n":%d}`+"\n", i, i)
		}
		pw.Close()
	}()
	req, err := http.NewRequest("POST", ts.URL+"/users/import?api_key="+testKey, pr) // no length: chunked
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", ts.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || !strings.Contains(string(raw), `"imported":30000,"failed":0`) {
		t.Fatalf("unexpected reply %d %s", resp.StatusCode, raw)
	}
	if u := ts.getUser("c29999"); u == nil || u["n"] != 29999.0 {
		t.Fatalf("last user missing: %v", u)
	}
}
