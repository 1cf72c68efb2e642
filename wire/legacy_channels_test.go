package wire

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
)

func TestMessageJSONAllocs(t *testing.T) {
	ch := &storage.Channel{Type: "messaging", ID: "x", CreatedAt: 1, UpdatedAt: 2, Custom: []byte(`{"c":1}`)}
	m := &storage.Message{ID: "m", Type: "regular", Text: "hello <world>", User: 1, CreatedAt: 5, UpdatedAt: 5, Attachments: []byte(`[{"a":1}]`), Custom: []byte(`{"k":"v"}`)}
	user := []byte(`{"id":"u"}`)
	buf := make([]byte, 0, 8192)
	n := testing.AllocsPerRun(100, func() {
		buf = appendMessage(buf[:0], ch.Type, ch.ID, m, user, nil)
		buf = Legacy{}.AppendChannel(buf, ch, user)
		buf = appendMember(buf, "u", &storage.Member{ChannelRole: "channel_member"}, true, user)
	})
	if n != 0 {
		t.Fatalf("unexpected allocations; got %v; want 0", n)
	}
	var v map[string]any
	if err := json.Unmarshal(appendMessage(nil, "messaging", `a"b`, m, user, [][]byte{user}), &v); err != nil {
		t.Fatalf("invalid message JSON: %s", err)
	}
	if v["cid"] != `messaging:a"b` || v["html"] != "<p>hello &lt;world&gt;</p>\n" || v["k"] != "v" {
		t.Fatalf("unexpected message JSON: %v", v)
	}
}

// TestEventJSON checks the event bodies the engine renders through engine.Encoder: their shape
// and that rendering them allocates nothing (the relays render every campaign event).
func TestEventJSON(t *testing.T) {
	var enc engine.Encoder = Legacy{}
	ch := &storage.Channel{Type: "messaging", ID: "x", Team: "red", MemberCount: 2, MessageCount: 1, CreatedAt: 1000, UpdatedAt: 1000, Custom: []byte(`{"c":1}`)}
	m := &storage.Message{ID: "m", Type: "regular", Text: "hi", User: 1, CreatedAt: 2000, UpdatedAt: 2000, Custom: []byte(`{"campaign_id":"cp"}`)}
	sender, rcv := []byte(`{"id":"s","role":"user"}`), []byte(`{"id":"r","role":"user"}`)
	members := []engine.EventMember{
		{UserID: "r", Member: storage.Member{ChannelRole: "channel_member", CreatedAt: 1000, UpdatedAt: 1000}, User: rcv},
		{UserID: "s", Member: storage.Member{ChannelRole: "channel_moderator", CreatedAt: 1000, UpdatedAt: 1000, Custom: []byte(`{"k":2}`)}, Creator: true, User: sender},
	}
	created := &engine.ChannelCreated{Channel: ch, Creator: sender, Members: members, At: 1000}
	msgNew := &engine.MessageNew{Channel: ch, Message: m, Author: sender, Members: members}
	buf := make([]byte, 0, 8192)
	if n := testing.AllocsPerRun(100, func() {
		buf = enc.AppendChannelCreated(buf[:0], created)
		buf = enc.AppendMessageNew(buf, msgNew)
	}); n != 0 {
		t.Fatalf("unexpected allocations; got %v; want 0", n)
	}

	var cc struct {
		Channel   map[string]any   `json:"channel"`
		User      map[string]any   `json:"user"`
		Members   []map[string]any `json:"members"`
		Count     float64          `json:"channel_member_count"`
		Team      string           `json:"team"`
		CreatedAt string           `json:"created_at"`
	}
	b := enc.AppendChannelCreated(nil, created)
	var head map[string]any
	if err := json.Unmarshal(b, &head); err != nil {
		t.Fatalf("invalid channel.created %s: %s", b, err)
	}
	if err := json.Unmarshal(b, &cc); err != nil {
		t.Fatalf("invalid channel.created %s: %s", b, err)
	}
	if head["type"] != "channel.created" || head["cid"] != "messaging:x" || head["channel_id"] != "x" || head["channel_type"] != "messaging" ||
		cc.Channel["created_by"].(map[string]any)["id"] != "s" || cc.Channel["c"] != 1.0 || cc.User["id"] != "s" || cc.Count != 2 ||
		cc.Team != "red" || cc.CreatedAt != "1970-01-01T00:00:00.000001Z" || len(cc.Members) != 2 {
		t.Fatalf("unexpected channel.created %s", b)
	}
	if m0, m1 := cc.Members[0], cc.Members[1]; m0["role"] != "member" || m0["user"].(map[string]any)["id"] != "r" ||
		m1["role"] != "owner" || m1["is_moderator"] != true || m1["k"] != 2.0 {
		t.Fatalf("unexpected members of channel.created %s", b)
	}
	b = enc.AppendMessageNew(nil, msgNew)
	var mn map[string]any
	if err := json.Unmarshal(b, &mn); err != nil {
		t.Fatalf("invalid message.new %s: %s", b, err)
	}
	msg := mn["message"].(map[string]any)
	if mn["type"] != "message.new" || mn["message_id"] != "m" || msg["text"] != "hi" || msg["campaign_id"] != "cp" ||
		msg["user"].(map[string]any)["id"] != "s" || mn["watcher_count"] != 0.0 || mn["channel_message_count"] != 1.0 ||
		len(mn["members"].([]any)) != 2 || len(msg["mentioned_users"].([]any)) != 0 {
		t.Fatalf("unexpected message.new %s", b)
	}
	// No members: an empty array, never null.
	msgNew.Members = nil
	if b = enc.AppendMessageNew(nil, msgNew); !json.Valid(b) || !bytes.Contains(b, []byte(`"members":[]`)) {
		t.Fatalf("unexpected message.new without members %s", b)
	}
}

func TestAppendChannelState(t *testing.T) {
	u1 := &storage.User{ID: "u1", Name: "One", CreatedAt: 1000, UpdatedAt: 1000}
	st := &engine.ChannelState{
		Channel:   storage.Channel{Type: "messaging", ID: "c", MemberCount: 2, MessageCount: 1, CreatedAt: 1000, UpdatedAt: 1000, CreatedBy: 1},
		CreatedBy: &engine.UserRef{ID: "u1", User: u1},
		Messages: []engine.Message{{Message: storage.Message{ID: "m1", Type: "regular", Text: "a", CreatedAt: 2000, UpdatedAt: 2000},
			CID: "messaging:c", User: engine.UserRef{ID: "u1", User: u1}, Mentioned: []engine.UserRef{{ID: "gone"}}}},
		Members: []engine.Member{{Member: storage.Member{ChannelRole: "channel_member"}, User: engine.UserRef{ID: "gone"}}},
	}
	b := Legacy{}.AppendChannels(nil, []*engine.ChannelState{st})
	var v struct {
		Channels []struct {
			Channel  map[string]any   `json:"channel"`
			Messages []map[string]any `json:"messages"`
			Members  []map[string]any `json:"members"`
			Read     []any            `json:"read"`
		} `json:"channels"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %s", b, err)
	}
	c := v.Channels[0]
	if len(v.Channels) != 1 || c.Channel["created_by"].(map[string]any)["name"] != "One" || c.Messages[0]["user"].(map[string]any)["id"] != "u1" ||
		c.Messages[0]["mentioned_users"].([]any)[0].(map[string]any)["id"] != "gone" || c.Members[0]["user_id"] != "gone" || c.Read == nil {
		t.Fatalf("unexpected channels reply %s", b)
	}
	b = Legacy{}.AppendMessageReply(nil, &st.Messages[0])
	var r struct {
		Message map[string]any `json:"message"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Message["cid"] != "messaging:c" || r.Message["id"] != "m1" {
		t.Fatalf("unexpected message reply %s (%v)", b, err)
	}
}
