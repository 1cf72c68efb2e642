package httpd

import (
	"strings"
	"testing"

	"github.com/campaignd/campaignd/engine"
)

// TestMessageLimits: message text (Stream's max_message_length, 5,000 characters by default),
// html, attachments (30), mentioned users and ids are bounded; an 8 MB text or 10,000 attachments
// were accepted before. Refused messages are not stored.
func TestMessageLimits(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustUsers("admin", "u1")
	ts.mustOK("POST", "/channels/messaging/m/query", map[string]any{"data": map[string]any{"members": []string{"admin", "u1"}, "created_by_id": "admin"}})
	send := func(msg map[string]any) (int, map[string]any) {
		t.Helper()
		msg["user_id"] = "admin"
		return ts.do("POST", "/channels/messaging/m/message", map[string]any{"message": msg})
	}
	f := func(msg map[string]any, wantCode int, field, wantMsg string) {
		t.Helper()
		status, m := send(msg)
		wantErrorMsg(t, status, m, 400, wantCode, wantMsg)
		if fields, _ := m["exception_fields"].(map[string]any); fields[field] == nil {
			t.Fatalf("exception_fields %v lack %q", m["exception_fields"], field)
		}
	}
	atts := func(n int, each string) []any {
		a := make([]any, n)
		for i := range a {
			a[i] = map[string]any{"type": "file", "title": each}
		}
		return a
	}
	f(map[string]any{"text": strings.Repeat("x", 5001)}, 20, "message.text", "message.text is 5001 characters long; the maximum is 5000")
	f(map[string]any{"text": strings.Repeat("é", 5001)}, 20, "message.text", "5001 characters")
	f(map[string]any{"text": "x", "html": strings.Repeat("h", 64<<10+1)}, 20, "message.html", "the maximum is 65536")
	f(map[string]any{"text": "x", "attachments": atts(31, "")}, 4, "message.attachments", "holds 31 attachments; the maximum is 30")
	f(map[string]any{"text": "x", "attachments": atts(10000, "")}, 4, "message.attachments", "the maximum is 65536")
	f(map[string]any{"text": "x", "attachments": atts(30, strings.Repeat("t", 3000))}, 4, "message.attachments", "the maximum is 65536")
	mentioned := make([]string, 101)
	for i := range mentioned {
		mentioned[i] = "u1"
	}
	f(map[string]any{"text": "x", "mentioned_users": mentioned}, 4, "message.mentioned_users", "the maximum is 100")
	f(map[string]any{"text": "x", "poll_id": strings.Repeat("p", 256)}, 4, "message.poll_id", "the maximum is 255")
	if texts, _ := ts.channelTexts("messaging:m"); len(texts) != 0 {
		t.Fatalf("refused messages were stored: %d", len(texts))
	}

	// At the limits: 5,000 characters (10,000 bytes), 30 attachments, 100 mentions.
	for _, msg := range []map[string]any{
		{"text": strings.Repeat("é", 5000)},
		{"text": "x", "attachments": atts(30, strings.Repeat("t", 2000))},
		{"text": "x", "mentioned_users": mentioned[:100]},
	} {
		if status, m := send(msg); status != 201 {
			t.Fatalf("a message at the limits was refused: %d %v", status, m)
		}
	}
}

// TestMaxMessageLengthIsConfigurable: engine.Options.MaxMessageLength (-message.maxLength) bounds
// messages and campaign templates alike.
func TestMaxMessageLengthIsConfigurable(t *testing.T) {
	ts := mustStartTestServerWith(t, t.TempDir(), engine.Options{MaxMessageLength: 10}, Options{})
	ts.mustUsers("admin", "u1")
	ts.mustOK("POST", "/channels/messaging/m/query", map[string]any{"data": map[string]any{"members": []string{"admin", "u1"}, "created_by_id": "admin"}})
	status, m := ts.do("POST", "/channels/messaging/m/message", map[string]any{"message": map[string]any{"user_id": "admin", "text": "eleven char"}})
	wantErrorMsg(t, status, m, 400, 20, "the maximum is 10")
	ts.mustOK("POST", "/channels/messaging/m/message", map[string]any{"message": map[string]any{"user_id": "admin", "text": "ten chars!"}})

	body := map[string]any{"sender_id": "admin", "user_ids": []string{"u1"}, "message_template": map[string]any{"text": "Hi {{ receiver.name }}, news!!"}}
	status, m = ts.do("POST", "/campaigns", body)
	wantErrorMsg(t, status, m, 400, 4, "message_template.text has 11 characters outside its {{ }} tags, so every message would be longer than the maximum of 10 characters")
	ts.mustCreateCampaign(map[string]any{"sender_id": "admin", "user_ids": []string{"u1"}, "message_template": map[string]any{"text": "Hi {{ receiver.name }}, news!"}})
}

// TestUserLimits: names and images of at most 2 KiB, role, language and teams of at most 255
// bytes, through upsert, partial update and the import (a 100 KB name was stored before).
func TestUserLimits(t *testing.T) {
	ts := mustStartTestServer(t)
	upsert := func(u map[string]any) (int, map[string]any) {
		u["id"] = "x"
		return ts.do("POST", "/users", map[string]any{"users": map[string]any{"x": u}})
	}
	f := func(u map[string]any, field, wantMsg string) {
		t.Helper()
		status, m := upsert(u)
		wantErrorMsg(t, status, m, 400, 4, wantMsg)
		if fields, _ := m["exception_fields"].(map[string]any); fields[field] == nil {
			t.Fatalf("exception_fields %v lack %q", m["exception_fields"], field)
		}
	}
	f(map[string]any{"name": strings.Repeat("n", 100<<10)}, "name", "name is 102400 bytes long; the maximum is 2048")
	f(map[string]any{"image": strings.Repeat("i", 2049)}, "image", "the maximum is 2048")
	f(map[string]any{"role": strings.Repeat("r", 256)}, "role", "the maximum is 255")
	f(map[string]any{"language": strings.Repeat("l", 256)}, "language", "the maximum is 255")
	f(map[string]any{"teams": []string{"red", strings.Repeat("t", 256)}}, "teams", "the maximum is 255")
	if status, _ := ts.do("GET", "/users/x", nil); status == 200 {
		t.Fatal("a refused user was stored")
	}
	if status, m := upsert(map[string]any{"name": strings.Repeat("n", 2048), "image": strings.Repeat("i", 2048), "role": strings.Repeat("r", 255)}); status != 201 {
		t.Fatalf("a user at the limits was refused: %d %v", status, m)
	}
	status, m := ts.do("PATCH", "/users", map[string]any{"users": []any{map[string]any{"id": "x", "set": map[string]any{"name": strings.Repeat("n", 2049)}}}})
	wantErrorMsg(t, status, m, 400, 4, "the maximum is 2048")

	status, raw := ts.doRaw(ts.token, "POST", "/users/import", `{"id":"y","name":"`+strings.Repeat("n", 3000)+`"}`+"\n"+`{"id":"z","name":"ok"}`+"\n")
	if status != 201 || !strings.Contains(string(raw), `"imported":1`) || !strings.Contains(string(raw), "the maximum is 2048") {
		t.Fatalf("unexpected import reply %d %s", status, raw)
	}
}

// TestCampaignLimits: message_template.custom and channel_template.custom follow the 5 KiB rule of
// messages and channels (1 MiB was accepted and copied into every message before), the template's
// literal text must fit a message, and names and descriptions are bounded; on create and update.
func TestCampaignLimits(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("admin", "u1")
	custom := func(n int) map[string]any { return map[string]any{"k": strings.Repeat("c", n)} }
	base := func() map[string]any {
		return map[string]any{"sender_id": "admin", "user_ids": []string{"u1"}, "create_channels": true,
			"message_template": map[string]any{"text": "Hi {{ receiver.name }}"}, "channel_template": map[string]any{"type": "messaging"}}
	}
	f := func(edit func(b map[string]any), field, wantMsg string) {
		t.Helper()
		b := base()
		edit(b)
		status, m := ts.do("POST", "/campaigns", b)
		wantErrorMsg(t, status, m, 400, 4, wantMsg)
		if fields, _ := m["exception_fields"].(map[string]any); fields[field] == nil {
			t.Fatalf("exception_fields %v lack %q", m["exception_fields"], field)
		}
	}
	mt := func(b map[string]any) map[string]any { return b["message_template"].(map[string]any) }
	ct := func(b map[string]any) map[string]any { return b["channel_template"].(map[string]any) }
	f(func(b map[string]any) { mt(b)["custom"] = custom(6 << 10) }, "message_template.custom", "the maximum is")
	f(func(b map[string]any) { mt(b)["custom"] = custom(5<<10 - 10) }, "message_template.custom", "campaign_id included")
	f(func(b map[string]any) { ct(b)["custom"] = custom(6 << 10) }, "channel_template.custom", "the maximum is 5120")
	f(func(b map[string]any) {
		ct(b)["members_template"] = []any{map[string]any{"user_id": "u1", "custom": custom(6 << 10)}}
	}, "channel_template.members_template[0].custom", "the maximum is 5120")
	f(func(b map[string]any) { mt(b)["text"] = strings.Repeat("x", 5001) + "{{ receiver.name }}" }, "message_template.text", "5001 characters outside")
	f(func(b map[string]any) { mt(b)["attachments"] = make([]any, 31) }, "message_template.attachments", "the maximum is 30")
	f(func(b map[string]any) { ct(b)["id"] = strings.Repeat("{{ receiver.id }}", 100) }, "channel_template.id", "the maximum is 1024")
	f(func(b map[string]any) { ct(b)["team"] = strings.Repeat("t", 256) }, "channel_template.team", "the maximum is 255")
	f(func(b map[string]any) { b["name"] = strings.Repeat("n", 1025) }, "name", "the maximum is 1024")
	f(func(b map[string]any) { b["description"] = strings.Repeat("d", 5121) }, "description", "the maximum is 5120")

	// At the limits: accepted; an update cannot go past them.
	b := base()
	mt(b)["custom"] = custom(4 << 10)
	mt(b)["text"] = strings.Repeat("x", 4990) + "{{ receiver.name }}"
	ct(b)["custom"] = custom(5<<10 - 10)
	id := ts.mustCreateCampaign(b)
	status, m := ts.do("PUT", "/campaigns/"+id, map[string]any{"message_template": map[string]any{"text": "x", "custom": custom(6 << 10)}})
	wantErrorMsg(t, status, m, 400, 4, "message_template.custom")
	if c := ts.getCampaign(id); len(c["message_template"].(map[string]any)["text"].(string)) < 4990 {
		t.Fatalf("a refused update changed the campaign: %v", c["message_template"])
	}
}

// TestChannelTeamLimit: a channel's team is an id (at most 255 bytes).
func TestChannelTeamLimit(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustUsers("admin")
	status, m := ts.do("POST", "/channels/messaging/t/query", map[string]any{"data": map[string]any{"created_by_id": "admin", "team": strings.Repeat("t", 256)}})
	wantErrorMsg(t, status, m, 400, 4, "data.team is 256 bytes long; the maximum is 255")
}
