package httpd

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/engine/outbox"
	"github.com/campaignd/campaignd/storage"
)

// mustStartHeldTestServer starts a server whose only sink, a webhook, is down (503): its relay
// never passes the first event, so the outbox keeps every event for the test to read back.
func mustStartHeldTestServer(t *testing.T) *testServer {
	t.Helper()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	t.Cleanup(hook.Close)
	return mustStartTestServerWithOutbox(t, outbox.Options{WebhookURL: hook.URL, WebhookBackoff: time.Hour, WebhookMaxBackoff: time.Hour})
}

// mustUsers stores users with the given ids (custom field "n" = index) through the engine.
func (ts *testServer) mustUsers(ids ...string) {
	ts.t.Helper()
	us := make([]storage.User, len(ids))
	for i, id := range ids {
		us[i] = storage.User{ID: id, Name: "name of " + id, Custom: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	if err := ts.E.UpsertUsers(us); err != nil {
		ts.t.Fatalf("cannot upsert users: %s", err)
	}
}

// mustOK sends a request that must answer 201 and returns the body.
func (ts *testServer) mustOK(method, path string, body any) map[string]any {
	ts.t.Helper()
	status, m := ts.do(method, path, body)
	if status != 201 {
		ts.t.Fatalf("%s %s: unexpected status; got %d; want 201; body %v", method, path, status, m)
	}
	return m
}

// outboxEvents reads every stored outbox event, in seq order.
func outboxEvents(t *testing.T, db *storage.DB) []storage.OutboxEvent {
	t.Helper()
	it := db.NewIter([]byte{storage.PrefixOutbox}, []byte{storage.PrefixOutbox + 1})
	var evs []storage.OutboxEvent
	for ok := it.First(); ok; ok = it.Next() {
		var ev storage.OutboxEvent
		if err := ev.Unmarshal(append([]byte(nil), it.Value()...)); err != nil {
			t.Fatalf("cannot decode outbox event: %s", err)
		}
		evs = append(evs, ev)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("cannot iterate outbox: %s", err)
	}
	return evs
}

func eventsOfType(t *testing.T, db *storage.DB, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, ev := range outboxEvents(t, db) {
		if ev.Type != typ {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(ev.JSON, &m); err != nil {
			t.Fatalf("event %s is not JSON: %s: %s", ev.ID, err, ev.JSON)
		}
		m["_id"], m["_key"], m["_receivers"], m["_skip_push"] = ev.ID, ev.Key, ev.Receivers, ev.SkipPush
		out = append(out, m)
	}
	return out
}

func wantKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Fatalf("%s lacks %q: %v", what, k, m)
		}
	}
}

func wantArray(t *testing.T, what string, v any) []any {
	t.Helper()
	a, ok := v.([]any)
	if !ok {
		t.Fatalf("%s is not an array: %#v", what, v)
	}
	return a
}

func memberIDs(t *testing.T, state map[string]any) []string {
	t.Helper()
	var ids []string
	for _, m := range wantArray(t, "members", state["members"]) {
		mm := m.(map[string]any)
		u := mm["user"].(map[string]any)
		if u["id"] != mm["user_id"] {
			t.Fatalf("member user.id %v != user_id %v", u["id"], mm["user_id"])
		}
		ids = append(ids, mm["user_id"].(string))
	}
	sort.Strings(ids)
	return ids
}

func TestGetOrCreateChannel(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustUsers("admin", "u1", "u2", "u3")

	// Create with an id, members as ids, creator in data, custom fields top level.
	m := ts.mustOK("POST", "/channels/messaging/general/query", map[string]any{
		"data":  map[string]any{"members": []string{"u1", "u2"}, "created_by_id": "admin", "color": "red", "meta": map[string]any{"a": 1}},
		"state": false, "watch": false, "presence": false,
	})
	wantKeys(t, "state", m, "channel", "messages", "members", "pinned_messages", "read", "threads", "watcher_count", "watchers", "duration")
	ch := m["channel"].(map[string]any)
	wantKeys(t, "channel", ch, "cid", "id", "type", "config", "own_capabilities", "created_by", "member_count", "frozen", "disabled", "created_at", "updated_at")
	if ch["cid"] != "messaging:general" || ch["id"] != "general" || ch["type"] != "messaging" {
		t.Fatalf("unexpected channel ids: %v", ch)
	}
	if ch["color"] != "red" || !reflect.DeepEqual(ch["meta"], map[string]any{"a": float64(1)}) {
		t.Fatalf("custom fields are not top-level: %v", ch)
	}
	if _, nested := ch["custom"]; nested {
		t.Fatalf("channel has a nested custom object: %v", ch)
	}
	if ch["created_by"].(map[string]any)["id"] != "admin" || ch["member_count"] != float64(2) {
		t.Fatalf("unexpected created_by/member_count: %v", ch)
	}
	if got := memberIDs(t, m); !reflect.DeepEqual(got, []string{"u1", "u2"}) {
		t.Fatalf("unexpected members; got %v", got)
	}
	if len(wantArray(t, "messages", m["messages"])) != 0 {
		t.Fatalf("a new channel has messages: %v", m["messages"])
	}

	// Asking again (even without a creator and with other members) returns it unchanged.
	m = ts.mustOK("POST", "/channels/messaging/general/query", map[string]any{"data": map[string]any{"members": []string{"u3"}}, "state": true})
	if got := memberIDs(t, m); !reflect.DeepEqual(got, []string{"u1", "u2"}) {
		t.Fatalf("get-or-create changed members; got %v", got)
	}

	// Creator at top level; members as objects with roles and custom fields.
	m = ts.mustOK("POST", "/channels/team/t1/query", map[string]any{
		"data":          map[string]any{"members": []any{map[string]any{"user_id": "u1", "channel_role": "channel_moderator", "nick": "x"}, "u2"}, "team": "red", "frozen": true},
		"created_by_id": "admin",
	})
	ch = m["channel"].(map[string]any)
	if ch["team"] != "red" || ch["frozen"] != true || ch["disabled"] != false {
		t.Fatalf("unexpected team/frozen/disabled: %v", ch)
	}
	for _, x := range m["members"].([]any) {
		mm := x.(map[string]any)
		switch mm["user_id"] {
		case "u1":
			if mm["channel_role"] != "channel_moderator" || mm["nick"] != "x" || mm["role"] != "moderator" {
				t.Fatalf("unexpected member u1: %v", mm)
			}
		case "u2":
			if mm["channel_role"] != "channel_member" || mm["role"] != "member" {
				t.Fatalf("unexpected member u2: %v", mm)
			}
		}
	}

	// created_by object inside data.
	m = ts.mustOK("POST", "/channels/messaging/c3/query", map[string]any{"data": map[string]any{"created_by": map[string]any{"id": "u3"}}})
	if m["channel"].(map[string]any)["created_by"].(map[string]any)["id"] != "u3" {
		t.Fatalf("created_by object ignored: %v", m["channel"])
	}
	// The SDK's create() with no data and the creator at top level.
	ts.mustOK("POST", "/channels/messaging/c4/query", map[string]any{"data": map[string]any{}, "state": false, "created_by_id": "admin", "watch": false})
}

func TestDistinctChannel(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustUsers("admin", "u1", "u2")
	m1 := ts.mustOK("POST", "/channels/messaging/query", map[string]any{"data": map[string]any{"members": []string{"u2", "u1"}, "created_by_id": "admin"}})
	m2 := ts.mustOK("POST", "/channels/messaging/query", map[string]any{"data": map[string]any{"members": []string{"u1", "u2", "u1"}, "created_by_id": "admin"}})
	id1 := m1["channel"].(map[string]any)["id"].(string)
	id2 := m2["channel"].(map[string]any)["id"].(string)
	if id1 != id2 || !strings.HasPrefix(id1, "!members-") {
		t.Fatalf("distinct ids differ or lack the prefix; got %q and %q", id1, id2)
	}
	if id1 != engine.DistinctChannelID([]string{"u1", "u2"}) {
		t.Fatalf("unexpected distinct id %q", id1)
	}
	if got := memberIDs(t, m2); !reflect.DeepEqual(got, []string{"u1", "u2"}) {
		t.Fatalf("unexpected members; got %v", got)
	}
	// The distinct id is a valid channel id: the channel is reachable by it.
	ts.mustOK("POST", "/channels/messaging/"+id1+"/query", map[string]any{})
	// Another member set gives another channel.
	m3 := ts.mustOK("POST", "/channels/messaging/query", map[string]any{"data": map[string]any{"members": []string{"u1", "admin"}, "created_by_id": "admin"}})
	if m3["channel"].(map[string]any)["id"] == id1 {
		t.Fatalf("different members gave the same distinct channel")
	}
	// No members, no id.
	status, m := ts.do("POST", "/channels/messaging/query", map[string]any{"data": map[string]any{"created_by_id": "admin"}})
	wantError(t, status, m, 400, 4)
}

func TestGetOrCreateChannelErrors(t *testing.T) {
	ts := mustStartHeldTestServer(t)
	ts.mustUsers("admin", "u1")
	f := func(path string, body any, wantMsg string) {
		t.Helper()
		status, m := ts.do("POST", path, body)
		wantError(t, status, m, 400, 4)
		if !strings.Contains(m["message"].(string), wantMsg) {
			t.Fatalf("unexpected message; got %q; want it to contain %q", m["message"], wantMsg)
		}
	}
	f("/channels/messaging/x/query", map[string]any{"data": map[string]any{"members": []string{"u1"}}},
		`GetOrCreateChannel failed with error: "either data.created_by or data.created_by_id must be provided when using server side auth."`)
	f("/channels/messaging/x/query", map[string]any{"data": map[string]any{"members": []string{"u1", "ghost", "ghost2"}, "created_by_id": "admin"}}, "don't exist: [ghost ghost2]")
	f("/channels/messaging/x/query", map[string]any{"data": map[string]any{"created_by_id": "nobody"}}, "don't exist: [nobody]")
	f("/channels/messaging/x/query", `{"data":`, "not valid JSON")
	f("/channels/messaging/x/query", `[1]`, "JSON object")
	f("/channels/messaging/x/query", map[string]any{"data": map[string]any{"members": "u1", "created_by_id": "admin"}}, "data.members must be an array")
	f("/channels/messaging/x/query", map[string]any{"data": map[string]any{"members": []any{1}, "created_by_id": "admin"}}, "data.members[0]")
	f("/channels/messaging/x/query", map[string]any{"data": map[string]any{"members": []any{map[string]any{"channel_role": "x"}}, "created_by_id": "admin"}}, "needs a user_id")
	f("/channels/messaging/x/query", map[string]any{"data": map[string]any{"frozen": "yes", "created_by_id": "admin"}}, `"data.frozen" must be a boolean`)
	f("/channels/messaging/x/query", map[string]any{"data": map[string]any{"team": 1, "created_by_id": "admin"}}, `"data.team" must be a string`)
	f("/channels/messaging/x/query", map[string]any{"data": map[string]any{"created_by_id": 5}}, `"data.created_by_id" must be a string`)
	f("/channels/messaging/x/query", map[string]any{"messages": map[string]any{"limit": "5"}}, "messages.limit")
	f("/channels/messaging/x/query", map[string]any{"messages": map[string]any{"limit": 301}, "created_by_id": "admin"}, "the maximum is 300")
	f("/channels/mess%20aging/x/query", map[string]any{"created_by_id": "admin"}, "a channel type may only contain")
	f("/channels/"+strings.Repeat("t", 65)+"/x/query", map[string]any{"created_by_id": "admin"}, "the maximum is 64")
	f("/channels/messaging/a%2Fb/query", map[string]any{"created_by_id": "admin"}, "a channel id may only contain")
	f("/channels/messaging/"+strings.Repeat("i", 256)+"/query", map[string]any{"created_by_id": "admin"}, "the maximum is 255")
	f("/channels/messaging/x/query", map[string]any{"data": map[string]any{"members": []string{strings.Repeat("u", 256)}, "created_by_id": "admin"}}, "data.members[0].user_id is 256 characters")

	// Nothing was partly written: no channel, no membership, no event.
	if ts.DB.Channels.Max() > 0 {
		for o := uint32(1); o <= ts.DB.Channels.Max(); o++ {
			if ok, _ := ts.DB.Has(storage.ChannelKey(nil, o)); ok {
				t.Fatalf("a failed request stored channel %q", ts.DB.Channels.ID(o))
			}
		}
	}
	if evs := outboxEvents(t, ts.DB); len(evs) != 0 {
		t.Fatalf("failed requests emitted %d events", len(evs))
	}
	// 255 characters is fine.
	ts.mustOK("POST", "/channels/messaging/"+strings.Repeat("i", 255)+"/query", map[string]any{"created_by_id": "admin"})
}

func TestChannelCreatedEvent(t *testing.T) {
	ts := mustStartHeldTestServer(t)
	ts.mustUsers("admin", "u1")
	ts.mustOK("POST", "/channels/messaging/ev/query", map[string]any{"data": map[string]any{"members": []string{"admin", "u1"}, "created_by_id": "admin", "color": "blue"}})
	ts.mustOK("POST", "/channels/messaging/ev/query", map[string]any{"created_by_id": "admin"}) // no second event
	evs := eventsOfType(t, ts.DB, "channel.created")
	if len(evs) != 1 {
		t.Fatalf("unexpected channel.created count; got %d; want 1", len(evs))
	}
	ev := evs[0]
	wantKeys(t, "channel.created", ev, "type", "cid", "channel_id", "channel_type", "channel", "user", "members", "created_at")
	if ev["cid"] != "messaging:ev" || ev["channel_id"] != "ev" || ev["channel_type"] != "messaging" || ev["_key"] != "messaging:ev" {
		t.Fatalf("unexpected event ids: %v", ev)
	}
	if ev["user"].(map[string]any)["id"] != "admin" || ev["channel"].(map[string]any)["color"] != "blue" {
		t.Fatalf("unexpected user/channel: %v", ev)
	}
	if got := memberIDs(t, ev); !reflect.DeepEqual(got, []string{"admin", "u1"}) {
		t.Fatalf("unexpected event members; got %v", got)
	}
	if len(ev["_id"].(string)) != 36 {
		t.Fatalf("event id is not a UUID: %q", ev["_id"])
	}
}

func TestSendMessage(t *testing.T) {
	ts := mustStartHeldTestServer(t)
	ts.mustUsers("admin", "u1", "u2")
	ts.mustOK("POST", "/channels/messaging/m/query", map[string]any{"data": map[string]any{"members": []string{"u1", "u2"}, "created_by_id": "admin"}})

	m := ts.mustOK("POST", "/channels/messaging/m/message", map[string]any{
		"message":   map[string]any{"text": "hello <b>", "user_id": "u1", "custom_field": 1, "attachments": []any{map[string]any{"type": "image", "asset_url": "http://x"}}, "mentioned_users": []string{"u2"}},
		"skip_push": true,
	})
	msg := m["message"].(map[string]any)
	wantKeys(t, "message", msg, "id", "text", "html", "type", "user", "cid", "created_at", "updated_at", "attachments", "latest_reactions",
		"own_reactions", "mentioned_users", "reaction_counts", "reaction_scores", "reply_count", "deleted_reply_count", "silent", "pinned",
		"shadowed", "mentioned_channel", "mentioned_here", "restricted_visibility")
	if msg["text"] != "hello <b>" || msg["html"] != "<p>hello &lt;b&gt;</p>\n" || msg["type"] != "regular" || msg["cid"] != "messaging:m" {
		t.Fatalf("unexpected message: %v", msg)
	}
	if msg["custom_field"] != float64(1) || msg["user"].(map[string]any)["id"] != "u1" || len(msg["id"].(string)) != 36 {
		t.Fatalf("unexpected custom/user/id: %v", msg)
	}
	if a := wantArray(t, "attachments", msg["attachments"]); len(a) != 1 || a[0].(map[string]any)["asset_url"] != "http://x" {
		t.Fatalf("unexpected attachments: %v", msg["attachments"])
	}
	if a := wantArray(t, "mentioned_users", msg["mentioned_users"]); len(a) != 1 || a[0].(map[string]any)["id"] != "u2" {
		t.Fatalf("unexpected mentioned_users: %v", msg["mentioned_users"])
	}

	// Client id, author as user object.
	m = ts.mustOK("POST", "/channels/messaging/m/message", map[string]any{"message": map[string]any{"id": "my-id", "text": "two", "user": map[string]any{"id": "u2"}}})
	if m["message"].(map[string]any)["id"] != "my-id" {
		t.Fatalf("client id not kept: %v", m)
	}
	// Reply to a message of the channel.
	m = ts.mustOK("POST", "/channels/messaging/m/message", map[string]any{"message": map[string]any{"text": "re", "user_id": "u1", "parent_id": "my-id"}})
	if mm := m["message"].(map[string]any); mm["type"] != "reply" || mm["parent_id"] != "my-id" {
		t.Fatalf("unexpected reply: %v", mm)
	}

	f := func(path string, body any, wantStatus, wantCode int, wantMsg string) {
		t.Helper()
		status, m := ts.do("POST", path, body)
		wantError(t, status, m, wantStatus, wantCode)
		if !strings.Contains(m["message"].(string), wantMsg) {
			t.Fatalf("unexpected message; got %q; want it to contain %q", m["message"], wantMsg)
		}
	}
	f("/channels/messaging/m/message", map[string]any{"message": map[string]any{"text": "x"}}, 400, 4, "message.user or message.user_id is required")
	f("/channels/messaging/m/message", map[string]any{"message": map[string]any{"text": "x", "user_id": "ghost"}}, 400, 4, `user "ghost" doesn't exist`)
	f("/channels/messaging/m/message", map[string]any{"message": map[string]any{"text": "x", "user_id": "u1", "id": "my-id"}}, 400, 4, `a message with id "my-id" already exists`)
	f("/channels/messaging/m/message", map[string]any{"message": map[string]any{"text": "x", "user_id": "u1", "parent_id": "nope"}}, 400, 4, "message.parent_id")
	f("/channels/messaging/m/message", map[string]any{"message": map[string]any{"text": "x", "user_id": "u1", "mentioned_users": []string{"ghost"}}}, 400, 4, "[ghost] don't exist")
	f("/channels/messaging/m/message", map[string]any{"message": map[string]any{"text": 5, "user_id": "u1"}}, 400, 4, `"message.text" must be a string`)
	f("/channels/messaging/m/message", map[string]any{"message": map[string]any{"text": "x", "user_id": "u1", "attachments": map[string]any{}}}, 400, 4, "message.attachments must be an array")
	f("/channels/messaging/m/message", map[string]any{"message": map[string]any{"text": "x", "user_id": "u1", "type": "deleted"}}, 400, 4, "message.type")
	f("/channels/messaging/m/message", map[string]any{"message": map[string]any{"text": "x", "user_id": "u1", "id": strings.Repeat("m", 256)}}, 400, 4, "message.id is 256 characters")
	f("/channels/messaging/m/message", map[string]any{"text": "x"}, 400, 4, "message is required")
	f("/channels/messaging/m/message", `{"message":{"text":"x",}}`, 400, 4, "not valid JSON")
	f("/channels/messaging/nochan/message", map[string]any{"message": map[string]any{"text": "x", "user_id": "u1"}}, 404, 16, "Can't find channel")

	// Only the three good messages are stored and announced.
	evs := eventsOfType(t, ts.DB, "message.new")
	if len(evs) != 3 {
		t.Fatalf("unexpected message.new count; got %d; want 3", len(evs))
	}
	ev := evs[0]
	wantKeys(t, "message.new", ev, "type", "cid", "channel_id", "channel_type", "message_id", "message", "user", "members", "watcher_count", "channel_member_count", "created_at")
	if ev["message_id"] != msg["id"] || ev["message"].(map[string]any)["custom_field"] != float64(1) || ev["user"].(map[string]any)["id"] != "u1" {
		t.Fatalf("unexpected message.new: %v", ev)
	}
	if ev["_key"] != "messaging:m" || !reflect.DeepEqual(ev["_receivers"], []string{"u2"}) || ev["_skip_push"] != true {
		t.Fatalf("unexpected key/receivers/skip_push: %v %v %v", ev["_key"], ev["_receivers"], ev["_skip_push"])
	}
	if ev["watcher_count"] != float64(0) || ev["channel_member_count"] != float64(2) {
		t.Fatalf("unexpected counts: %v", ev)
	}
	if got := memberIDs(t, ev); !reflect.DeepEqual(got, []string{"u1", "u2"}) {
		t.Fatalf("unexpected event members; got %v", got)
	}
	if r := evs[1]["_receivers"]; !reflect.DeepEqual(r, []string{"u1"}) || evs[1]["_skip_push"] != false {
		t.Fatalf("unexpected second receivers: %v", r)
	}
}

func TestChannelMessagesPaging(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustUsers("admin", "u1")
	ts.mustOK("POST", "/channels/messaging/p/query", map[string]any{"data": map[string]any{"members": []string{"u1"}, "created_by_id": "admin"}})
	for i := 1; i <= 40; i++ {
		ts.mustOK("POST", "/channels/messaging/p/message", map[string]any{"message": map[string]any{"id": fmt.Sprintf("m%02d", i), "text": fmt.Sprint(i), "user_id": "u1"}})
	}
	f := func(page map[string]any, want ...int) {
		t.Helper()
		body := map[string]any{"state": true}
		if page != nil {
			body["messages"] = page
		}
		m := ts.mustOK("POST", "/channels/messaging/p/query", body)
		var got []int
		for _, x := range wantArray(t, "messages", m["messages"]) {
			var n int
			fmt.Sscan(x.(map[string]any)["text"].(string), &n)
			got = append(got, n)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("unexpected page for %v; got %v; want %v", page, got, want)
		}
	}
	seq := func(from, to int) []int {
		var s []int
		for i := from; i <= to; i++ {
			s = append(s, i)
		}
		return s
	}
	f(nil, seq(16, 40)...) // default 25, newest page oldest-first
	f(map[string]any{"limit": 5}, seq(36, 40)...)
	f(map[string]any{"limit": 5, "id_lt": "m36"}, seq(31, 35)...)
	f(map[string]any{"limit": 5, "id_lte": "m36"}, seq(32, 36)...)
	f(map[string]any{"limit": 3, "id_lt": "m03"}, 1, 2)
	f(map[string]any{"limit": 5, "id_gt": "m10"}, seq(11, 15)...)
	f(map[string]any{"limit": 5, "id_gte": "m10"}, seq(10, 14)...)
	f(map[string]any{"limit": 50, "id_gt": "m10", "id_lt": "m14"}, 11, 12, 13)
	f(map[string]any{"limit": 0})
	m := ts.mustOK("POST", "/channels/messaging/p/query", map[string]any{})
	if c := m["channel"].(map[string]any); c["message_count"] != float64(40) || c["last_message_at"] == nil {
		t.Fatalf("unexpected counts: %v", c)
	}
	status, em := ts.do("POST", "/channels/messaging/p/query", map[string]any{"messages": map[string]any{"id_lt": "nope"}})
	wantError(t, status, em, 400, 4)
}

func TestQueryChannels(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustUsers("admin", "u1", "u2", "u3")
	mk := func(typ, id string, members []string, extra map[string]any) {
		t.Helper()
		data := map[string]any{"members": members, "created_by_id": "admin"}
		for k, v := range extra {
			data[k] = v
		}
		ts.mustOK("POST", "/channels/"+typ+"/"+id+"/query", map[string]any{"data": data})
	}
	mk("messaging", "a", []string{"u1", "u2"}, map[string]any{"color": "red", "rank": 3})
	mk("messaging", "b", []string{"u2"}, map[string]any{"color": "blue", "rank": 1})
	mk("team", "c", []string{"u3"}, map[string]any{"color": "red", "team": "x", "rank": 2})
	status, sm := ts.do("POST", "/channels/team/d/query", map[string]any{"data": map[string]any{"created_by_id": "u1"}})
	if status != 201 {
		t.Fatalf("cannot create d: %v", sm)
	}
	for i := 0; i < 3; i++ {
		ts.mustOK("POST", "/channels/messaging/b/message", map[string]any{"message": map[string]any{"text": fmt.Sprint(i), "user_id": "u2"}})
	}

	f := func(body map[string]any, want ...string) map[string]any {
		t.Helper()
		m := ts.mustOK("POST", "/channels", body)
		var got []string
		for _, x := range wantArray(t, "channels", m["channels"]) {
			st := x.(map[string]any)
			wantKeys(t, "channel state", st, "channel", "messages", "members", "pinned_messages", "read")
			got = append(got, st["channel"].(map[string]any)["cid"].(string))
		}
		if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("unexpected channels for %v; got %v; want %v", body, got, want)
		}
		return m
	}
	byRank := []map[string]any{{"field": "rank", "direction": 1}}
	f(map[string]any{"filter_conditions": map[string]any{}, "sort": byRank}, "team:d", "messaging:b", "team:c", "messaging:a") // missing rank first
	f(map[string]any{"filter_conditions": map[string]any{"cid": "messaging:a"}}, "messaging:a")
	f(map[string]any{"filter_conditions": map[string]any{"cid": map[string]any{"$in": []string{"messaging:a", "team:c", "nope:x"}}}, "sort": byRank}, "team:c", "messaging:a")
	f(map[string]any{"filter_conditions": map[string]any{"type": "team"}, "sort": byRank}, "team:d", "team:c")
	f(map[string]any{"filter_conditions": map[string]any{"type": "messaging", "id": "b"}}, "messaging:b")
	f(map[string]any{"filter_conditions": map[string]any{"id": map[string]any{"$in": []string{"a", "c"}}}, "sort": byRank}, "team:c", "messaging:a")
	f(map[string]any{"filter_conditions": map[string]any{"members": map[string]any{"$in": []string{"u2"}}}, "sort": byRank}, "messaging:b", "messaging:a")
	f(map[string]any{"filter_conditions": map[string]any{"members": map[string]any{"$in": []string{"u1", "u3"}}}, "sort": byRank}, "team:c", "messaging:a")
	f(map[string]any{"filter_conditions": map[string]any{"members": map[string]any{"$eq": []string{"u2", "u1"}}}}, "messaging:a")
	f(map[string]any{"filter_conditions": map[string]any{"color": "red"}, "sort": byRank}, "team:c", "messaging:a")
	f(map[string]any{"filter_conditions": map[string]any{"created_by_id": "u1"}}, "team:d")
	f(map[string]any{"filter_conditions": map[string]any{"team": "x"}}, "team:c")
	f(map[string]any{"filter_conditions": map[string]any{"$or": []any{map[string]any{"rank": map[string]any{"$gte": 3}}, map[string]any{"type": "team", "color": "red"}}}, "sort": byRank}, "team:c", "messaging:a")
	f(map[string]any{"filter_conditions": map[string]any{"color": "green"}})
	// Sorts: last_message_at desc puts b first; created_at asc/desc; default (last_updated desc).
	f(map[string]any{"sort": []map[string]any{{"field": "last_message_at", "direction": -1}, {"field": "created_at", "direction": 1}}}, "messaging:b", "messaging:a", "team:c", "team:d")
	f(map[string]any{"sort": []map[string]any{{"field": "created_at", "direction": -1}}}, "team:d", "team:c", "messaging:b", "messaging:a")
	f(map[string]any{}, "messaging:b", "team:d", "team:c", "messaging:a")
	// limit / offset.
	f(map[string]any{"sort": byRank, "limit": 2}, "team:d", "messaging:b")
	f(map[string]any{"sort": byRank, "limit": 2, "offset": 3}, "messaging:a")
	// message_limit and member_limit.
	m := f(map[string]any{"filter_conditions": map[string]any{"cid": "messaging:b"}, "message_limit": 2}, "messaging:b")
	st := m["channels"].([]any)[0].(map[string]any)
	msgs := wantArray(t, "messages", st["messages"])
	if len(msgs) != 2 || msgs[0].(map[string]any)["text"] != "1" || msgs[1].(map[string]any)["text"] != "2" {
		t.Fatalf("unexpected message_limit page: %v", msgs)
	}
	m = f(map[string]any{"filter_conditions": map[string]any{"cid": "messaging:a"}, "member_limit": 1}, "messaging:a")
	if n := len(wantArray(t, "members", m["channels"].([]any)[0].(map[string]any)["members"])); n != 1 {
		t.Fatalf("unexpected member_limit page size %d", n)
	}

	g := func(body any, wantMsg string) {
		t.Helper()
		status, m := ts.do("POST", "/channels", body)
		wantError(t, status, m, 400, 4)
		if !strings.Contains(m["message"].(string), wantMsg) {
			t.Fatalf("unexpected message; got %q; want it to contain %q", m["message"], wantMsg)
		}
	}
	g(map[string]any{"filter_conditions": map[string]any{"cid": map[string]any{"$bogus": 1}}}, "$bogus")
	g(map[string]any{"filter_conditions": []any{}}, "filter")
	g(map[string]any{"sort": []map[string]any{{"field": "members", "direction": 1}}}, "cannot sort by a list field")
	g(map[string]any{"limit": 31}, "the maximum is 30")
	g(map[string]any{"limit": "x"}, `"limit"`)
	g(map[string]any{"offset": -1}, "offset")
	g(map[string]any{"message_limit": 301}, "the maximum is 300")
}

func TestChannelConcurrency(t *testing.T) {
	ts := mustStartHeldTestServer(t)
	ts.mustUsers("admin", "u1", "u2")
	// Concurrent get-or-create of one new channel: one channel, one event.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			status, m := ts.do("POST", "/channels/messaging/query", map[string]any{"data": map[string]any{"members": []string{"u1", "u2"}, "created_by_id": "admin"}})
			if status == 201 {
				ids[i] = m["channel"].(map[string]any)["id"].(string)
			}
		}(i)
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("concurrent creates disagree: %v", ids)
		}
	}
	if n := len(eventsOfType(t, ts.DB, "channel.created")); n != 1 {
		t.Fatalf("unexpected channel.created count; got %d; want 1", n)
	}
	// Concurrent sends: distinct seqs, all stored, count right; concurrent duplicate ids: one wins.
	const n = 40
	dupOK := make([]bool, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ts.mustOK("POST", "/channels/messaging/"+ids[0]+"/message", map[string]any{"message": map[string]any{"text": fmt.Sprint(i), "user_id": "u1"}})
			status, _ := ts.do("POST", "/channels/messaging/"+ids[0]+"/message", map[string]any{"message": map[string]any{"id": "same", "text": "dup", "user_id": "u2"}})
			dupOK[i] = status == 201
		}(i)
	}
	wg.Wait()
	wins := 0
	for _, ok := range dupOK {
		if ok {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("unexpected successful sends of a duplicate id; got %d; want 1", wins)
	}
	m := ts.mustOK("POST", "/channels/messaging/"+ids[0]+"/query", map[string]any{"messages": map[string]any{"limit": 300}})
	msgs := wantArray(t, "messages", m["messages"])
	if len(msgs) != n+1 || m["channel"].(map[string]any)["message_count"] != float64(n+1) {
		t.Fatalf("unexpected stored messages; got %d (count %v); want %d", len(msgs), m["channel"].(map[string]any)["message_count"], n+1)
	}
}

func TestChannelsRestart(t *testing.T) {
	dir := t.TempDir()
	ts := mustStartTestServerAt(t, dir)
	ts.mustUsers("admin", "u1")
	ts.mustOK("POST", "/channels/messaging/r/query", map[string]any{"data": map[string]any{"members": []string{"u1"}, "created_by_id": "admin", "color": "red"}})
	ts.mustOK("POST", "/channels/messaging/r/message", map[string]any{"message": map[string]any{"id": "r1", "text": "one", "user_id": "u1"}})
	ts.Stop()

	ts = mustStartTestServerAt(t, dir)
	m := ts.mustOK("POST", "/channels/messaging/r/query", map[string]any{})
	if m["channel"].(map[string]any)["color"] != "red" || len(m["messages"].([]any)) != 1 || len(m["members"].([]any)) != 1 {
		t.Fatalf("state lost across restart: %v", m)
	}
	// The seq continues and the id index survived.
	status, em := ts.do("POST", "/channels/messaging/r/message", map[string]any{"message": map[string]any{"id": "r1", "text": "again", "user_id": "u1"}})
	wantError(t, status, em, 400, 4)
	ts.mustOK("POST", "/channels/messaging/r/message", map[string]any{"message": map[string]any{"id": "r2", "text": "two", "user_id": "u1"}})
	m = ts.mustOK("POST", "/channels/messaging/r/query", map[string]any{})
	msgs := m["messages"].([]any)
	if len(msgs) != 2 || msgs[0].(map[string]any)["id"] != "r1" || msgs[1].(map[string]any)["id"] != "r2" {
		t.Fatalf("unexpected messages after restart: %v", msgs)
	}
}

// TestChannelEventsDelivered follows channel.created and message.new to a real webhook receiver.
func TestChannelEventsDelivered(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies = map[string]map[string]any{}
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		bodies[m["type"].(string)] = m
		mu.Unlock()
	}))
	defer hook.Close()
	ts := mustStartTestServerWithOutbox(t, outbox.Options{WebhookURL: hook.URL, Poll: 10 * time.Millisecond})
	ts.mustUsers("admin", "u1")
	ts.mustOK("POST", "/channels/messaging/hooked/query", map[string]any{"data": map[string]any{"members": []string{"admin", "u1"}, "created_by_id": "admin"}})
	ts.mustOK("POST", "/channels/messaging/hooked/message", map[string]any{"message": map[string]any{"id": "h1", "text": "hi", "user_id": "u1", "promo": true}})
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(bodies) != 2 {
			return fmt.Errorf("received %d event types", len(bodies))
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if c := bodies["channel.created"]; c["cid"] != "messaging:hooked" || c["channel"].(map[string]any)["created_by"].(map[string]any)["id"] != "admin" {
		t.Fatalf("unexpected channel.created: %v", c)
	}
	m := bodies["message.new"]
	if m["message_id"] != "h1" || m["message"].(map[string]any)["promo"] != true || m["user"].(map[string]any)["id"] != "u1" || m["channel_member_count"] != float64(2) {
		t.Fatalf("unexpected message.new: %v", m)
	}
}
