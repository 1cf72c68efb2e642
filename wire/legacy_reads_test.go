package wire

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
)

func TestDecodeMarkRead(t *testing.T) {
	f := func(body string, want engine.MarkReadRequest) {
		t.Helper()
		got, err := Legacy{}.DecodeMarkRead([]byte(body), "messaging", "x")
		if err != nil {
			t.Fatalf("unexpected error for %s: %s", body, err)
		}
		want.Type, want.ID = "messaging", "x"
		if *got != want {
			t.Fatalf("unexpected request of %s; got %+v; want %+v", body, *got, want)
		}
	}
	f(`{"user_id":"u"}`, engine.MarkReadRequest{UserID: "u"})
	f(`{"user":{"id":"u"},"message_id":"m"}`, engine.MarkReadRequest{UserID: "u", MessageID: "m"})
	f(``, engine.MarkReadRequest{})
	if _, err := (Legacy{}).DecodeMarkRead([]byte(`{"user_id":"u","thread_id":"t"}`), "messaging", "x"); err == nil {
		t.Fatal("thread_id accepted")
	}
	got, err := Legacy{}.DecodeMarkChannelsRead([]byte(`{"user_id":"u","read_by_channel":{"messaging:x":"m"}}`))
	if err != nil || got.UserID != "u" || !reflect.DeepEqual(got.ReadByChannel, map[string]string{"messaging:x": "m"}) {
		t.Fatalf("unexpected mark channels read; got %+v, %v", got, err)
	}
}

func TestReadJSON(t *testing.T) {
	l := Legacy{}
	ch := storage.Channel{Type: "messaging", ID: "x", MemberCount: 2, MessageCount: 3, LastMessageAt: 5000, Team: "t"}
	r := &engine.ChannelRead{Channel: ch, User: engine.UserRef{ID: "u", User: &storage.User{ID: "u", Role: "user"}}, LastReadMessageID: "m3", At: 6000}
	var reply struct {
		Event map[string]any `json:"event"`
	}
	b := l.AppendMarkReadReply(nil, r)
	if err := json.Unmarshal(b, &reply); err != nil {
		t.Fatalf("invalid JSON %s: %s", b, err)
	}
	ev := reply.Event
	if ev["type"] != "message.read" || ev["cid"] != "messaging:x" || ev["channel_id"] != "x" || ev["channel_type"] != "messaging" ||
		ev["last_read_message_id"] != "m3" || ev["team"] != "t" || ev["user"].(map[string]any)["id"] != "u" ||
		ev["channel_last_message_at"] == nil || ev["created_at"] == nil || ev["channel_member_count"] != 2.0 {
		t.Fatalf("unexpected event %s", b)
	}

	u := &engine.UnreadCounts{Total: 3, Channels: []engine.UnreadChannel{{CID: "messaging:x", LastRead: 1000, Unread: 3}},
		ByType: []engine.UnreadByType{{Type: "messaging", Channels: 1, Unread: 3}}, ByTeam: map[string]int{"t": 3}}
	var counts map[string]any
	b = l.AppendUnreadCounts(nil, u)
	if err := json.Unmarshal(b, &counts); err != nil {
		t.Fatalf("invalid JSON %s: %s", b, err)
	}
	want := `{"channel_type":[{"channel_count":1,"channel_type":"messaging","unread_count":3}],"channels":[{"channel_id":"messaging:x","last_read":"1970-01-01T00:00:00.000001Z","unread_count":3}],"threads":[],"total_unread_count":3,"total_unread_count_by_team":{"t":3},"total_unread_threads_count":0}`
	if j, _ := json.Marshal(counts); string(j) != want {
		t.Fatalf("unexpected unread counts;\ngot  %s\nwant %s", j, want)
	}
	b = l.AppendUnreadCounts(nil, &engine.UnreadCounts{})
	if err := json.Unmarshal(b, &counts); err != nil || counts["channels"] == nil || counts["channel_type"] == nil {
		t.Fatalf("empty unread counts must have their arrays: %s (%v)", b, err)
	}
}

// FuzzDecodeMarkRead feeds arbitrary bodies to the mark-read decoders.
func FuzzDecodeMarkRead(f *testing.F) {
	f.Add([]byte(`{"user_id":"u","message_id":"m"}`))
	f.Add([]byte(`{"user":{"id":"u"}}`))
	f.Add([]byte(`{"user_id":"u","read_by_channel":{"messaging:x":"m","a:b":""}}`))
	f.Add([]byte(`{"read_by_channel":[1],"user":5}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := Legacy{}.DecodeMarkRead(body, "messaging", "x")
		checkDecoded(t, err)
		_, err = Legacy{}.DecodeMarkChannelsRead(body)
		checkDecoded(t, err)
	})
}
