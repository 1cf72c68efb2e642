package httpd

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
)

// mustCreateUsers stores users with the given ids (name "Name <id>").
func (ts *testServer) mustCreateUsers(ids ...string) {
	ts.t.Helper()
	users := make([]storage.User, len(ids))
	for i, id := range ids {
		users[i] = storage.User{ID: id, Name: "Name " + id, Custom: []byte(`{"city":"City ` + id + `"}`)}
	}
	if err := ts.E.UpsertUsers(users); err != nil {
		ts.t.Fatalf("cannot create users: %s", err)
	}
}

// mustCreateCampaign creates a campaign and returns its id.
func (ts *testServer) mustCreateCampaign(body map[string]any) string {
	ts.t.Helper()
	status, m := ts.do("POST", "/campaigns", body)
	if status != 201 {
		ts.t.Fatalf("cannot create campaign; status %d; body %v", status, m)
	}
	return m["campaign"].(map[string]any)["id"].(string)
}

func (ts *testServer) getCampaign(id string) map[string]any {
	ts.t.Helper()
	status, m := ts.do("GET", "/campaigns/"+escapePath(id), nil)
	if status != 200 {
		ts.t.Fatalf("cannot get campaign %q; status %d; body %v", id, status, m)
	}
	return m["campaign"].(map[string]any)
}

// waitCampaignStatus waits until campaign id has status want and returns it.
func (ts *testServer) waitCampaignStatus(id, want string) map[string]any {
	ts.t.Helper()
	var c map[string]any
	checkFor(ts.t, 20*time.Second, 20*time.Millisecond, func() error {
		c = ts.getCampaign(id)
		if c["status"] != want {
			return fmt.Errorf("campaign %q is %v; want %s", id, c["status"], want)
		}
		return nil
	})
	return c
}

// channelTexts returns the texts of the messages of channel cid, oldest first, and whether it exists.
func (ts *testServer) channelTexts(cid string) ([]string, bool) {
	ts.t.Helper()
	ord, _, ok, err := ts.E.ChannelByCID(cid)
	if err != nil {
		ts.t.Fatalf("cannot read channel %q: %s", cid, err)
	}
	if !ok {
		return nil, false
	}
	msgs, err := ts.E.ChannelMessages(ord, &engine.MessagePage{Limit: 100})
	if err != nil {
		ts.t.Fatalf("cannot read messages of %q: %s", cid, err)
	}
	var texts []string
	for i := range msgs {
		texts = append(texts, msgs[i].Text)
	}
	return texts, true
}

func escapePath(s string) string {
	return strings.NewReplacer("%", "%25", "/", "%2F", " ", "%20", "?", "%3F", "#", "%23").Replace(s)
}

func TestCampaignCreateGetShape(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("admin", "u1", "u2")
	// The SDK's campaign.create() body: "id": null, fixed key set.
	status, m := ts.do("POST", "/campaigns", `{"id":null,"message_template":{"text":"hi {{receiver.name}}","custom":{"promotional":true}},`+
		`"user_ids":["u1","u2"],"sender_id":"admin","channel_template":{"type":"messaging","members":["admin"]},"create_channels":true,"name":"c"}`)
	if status != 201 {
		t.Fatalf("unexpected status %d; body %v", status, m)
	}
	if _, ok := m["users"].(map[string]any); !ok {
		t.Fatalf("reply lacks the users pager object: %v", m)
	}
	c := m["campaign"].(map[string]any)
	id, _ := c["id"].(string)
	if len(id) != 36 {
		t.Fatalf("expected a generated UUID id; got %q", id)
	}
	for _, k := range []string{"id", "name", "description", "status", "sender_id", "sender", "sender_mode", "sender_visibility",
		"segment_ids", "segments", "user_ids", "users", "message_template", "channel_template", "create_channels",
		"show_channels", "skip_push", "skip_webhook", "created_at", "updated_at", "stats"} {
		if _, ok := c[k]; !ok {
			t.Fatalf("campaign lacks %q: %v", k, c)
		}
	}
	if c["status"] != "draft" || c["name"] != "c" || c["description"] != "" || c["sender_id"] != "admin" {
		t.Fatalf("unexpected campaign %v", c)
	}
	if c["sender"].(map[string]any)["id"] != "admin" {
		t.Fatalf("unexpected sender %v", c["sender"])
	}
	stats := c["stats"].(map[string]any)
	for _, k := range []string{"progress", "stats_channels_created", "stats_messages_sent", "stats_users_sent", "stats_users_read"} {
		if v, ok := stats[k].(float64); !ok || v != 0 {
			t.Fatalf("unexpected stats.%s = %v in %v", k, stats[k], stats)
		}
	}
	if mt := c["message_template"].(map[string]any); mt["text"] != "hi {{receiver.name}}" || mt["custom"].(map[string]any)["promotional"] != true {
		t.Fatalf("unexpected message_template %v", mt)
	}
	got := ts.getCampaign(id)
	if got["id"] != id || got["status"] != "draft" {
		t.Fatalf("unexpected campaign from GET %v", got)
	}
	// GET pages the target users.
	_, m = ts.do("GET", "/campaigns/"+id+"?limit=1", nil)
	users := m["campaign"].(map[string]any)["users"].([]any)
	next, _ := m["users"].(map[string]any)["next"].(string)
	if len(users) != 1 || users[0].(map[string]any)["id"] != "u1" || next == "" {
		t.Fatalf("unexpected first users page %v / %v", users, m["users"])
	}
	_, m = ts.do("GET", "/campaigns/"+id+"?limit=1&next="+next, nil)
	users = m["campaign"].(map[string]any)["users"].([]any)
	pager := m["users"].(map[string]any)
	if len(users) != 1 || users[0].(map[string]any)["id"] != "u2" || pager["next"] != nil || pager["prev"] == nil {
		t.Fatalf("unexpected second users page %v / %v", users, pager)
	}
	_, m = ts.do("GET", "/campaigns/"+id+"?limit=1&prev="+pager["prev"].(string), nil)
	users = m["campaign"].(map[string]any)["users"].([]any)
	if len(users) != 1 || users[0].(map[string]any)["id"] != "u1" {
		t.Fatalf("unexpected prev users page %v", users)
	}

	// A duplicate id, an unknown id.
	status, m = ts.do("POST", "/campaigns", map[string]any{"id": id, "sender_id": "admin", "user_ids": []string{"u1"},
		"message_template": map[string]any{"text": "x"}})
	wantError(t, status, m, 400, 4)
	status, m = ts.do("GET", "/campaigns/nope", nil)
	wantError(t, status, m, 404, 16)
	status, m = ts.do("POST", "/campaigns/nope/start", "{}")
	wantError(t, status, m, 404, 16)
}

func TestCampaignValidation(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("admin", "u1")
	base := func() map[string]any {
		return map[string]any{
			"sender_id":        "admin",
			"user_ids":         []string{"u1"},
			"message_template": map[string]any{"text": "Hello {{ receiver.name }}"},
		}
	}
	f := func(field string, mutate func(m map[string]any)) {
		t.Helper()
		body := base()
		mutate(body)
		status, m := ts.do("POST", "/campaigns", body)
		wantError(t, status, m, 400, 4)
		fields, _ := m["exception_fields"].(map[string]any)
		if _, ok := fields[field]; !ok {
			t.Fatalf("unexpected exception_fields; got %v; want the field %q; message %v", fields, field, m["message"])
		}
	}
	many := func(n int, prefix string) []string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("%s%d", prefix, i)
		}
		return ids
	}
	f("sender_id", func(m map[string]any) { delete(m, "sender_id") })
	f("sender_id", func(m map[string]any) { m["sender_id"] = "ghost" })
	f("message_template.text", func(m map[string]any) { delete(m, "message_template") })
	f("message_template.text", func(m map[string]any) { m["message_template"] = map[string]any{"text": ""} })
	f("message_template.text", func(m map[string]any) { m["message_template"] = map[string]any{"text": "Hi {{ receiver.name"} })
	f("message_template.text", func(m map[string]any) { m["message_template"] = map[string]any{"text": "Hi {{ whoever.name }}"} })
	f("message_template.attachments", func(m map[string]any) {
		m["message_template"] = map[string]any{"text": "x", "attachments": make([]map[string]any, 31)}
	})
	f("message_template.custom", func(m map[string]any) { m["message_template"] = map[string]any{"text": "x", "custom": []int{1}} })
	f("segment_ids", func(m map[string]any) { m["segment_ids"] = many(26, "s") })
	f("segment_ids", func(m map[string]any) { m["segment_ids"] = []string{"nope"} })
	f("segment_ids", func(m map[string]any) { delete(m, "user_ids") })
	f("user_ids", func(m map[string]any) { m["user_ids"] = many(1001, "u") })
	f("channel_template.type", func(m map[string]any) { m["create_channels"] = true })
	f("channel_template.type", func(m map[string]any) {
		m["create_channels"] = true
		m["channel_template"] = map[string]any{"id": "x"}
	})
	f("channel_template.type", func(m map[string]any) { m["channel_template"] = map[string]any{"type": "bad type!"} })
	f("channel_template.id", func(m map[string]any) {
		m["channel_template"] = map[string]any{"type": "messaging", "id": "{{ channel.id }}"}
	})
	f("sender_mode", func(m map[string]any) { m["sender_mode"] = "sometimes" })
	f("sender_visibility", func(m map[string]any) { m["sender_visibility"] = "invisible" })
	f("channel_template.members", func(m map[string]any) {
		m["channel_template"] = map[string]any{"type": "messaging", "members": many(1001, "m")}
	})
	f("channel_template.members_template", func(m map[string]any) {
		mt := make([]map[string]any, 1001)
		for i := range mt {
			mt[i] = map[string]any{"user_id": fmt.Sprint("m", i)}
		}
		m["channel_template"] = map[string]any{"type": "messaging", "members_template": mt}
	})
	f("channel_template.members_template[0].user_id", func(m map[string]any) {
		m["channel_template"] = map[string]any{"type": "messaging", "members_template": []map[string]any{{"channel_role": "x"}}}
	})
	f("id", func(m map[string]any) { m["id"] = strings.Repeat("x", 256) })
	f("user_ids[0]", func(m map[string]any) { m["user_ids"] = []string{""} })
	f("sender_id", func(m map[string]any) { m["sender_id"] = 7 })

	// Valid sender modes and visibilities pass.
	for _, mode := range []any{"exclude", "include", nil} {
		body := base()
		body["sender_mode"] = mode
		body["sender_visibility"] = "archived"
		if status, m := ts.do("POST", "/campaigns", body); status != 201 {
			t.Fatalf("unexpected status %d for sender_mode %v; body %v", status, mode, m)
		}
	}

	// Start options.
	id := ts.mustCreateCampaign(base())
	g := func(field string, body string) {
		t.Helper()
		status, m := ts.do("POST", "/campaigns/"+id+"/start", body)
		wantError(t, status, m, 400, 4)
		if _, ok := m["exception_fields"].(map[string]any)[field]; !ok {
			t.Fatalf("unexpected error; want the field %q: %v", field, m)
		}
	}
	future := time.Now().Add(time.Hour).UTC()
	g("scheduled_for", `{"scheduled_for":"tomorrow"}`)
	g("stop_at", `{"stop_at":"2030-13-01"}`)
	g("stop_at", `{"scheduled_for":"`+future.Format(time.RFC3339)+`","stop_at":"`+future.Add(-time.Minute).Format(time.RFC3339)+`"}`)
	g("stop_at", `{"stop_at":"2001-01-01T00:00:00Z"}`)
	if c := ts.getCampaign(id); c["status"] != "draft" {
		t.Fatalf("a rejected start changed the campaign: %v", c)
	}
}

func TestCampaignUserIDsEndToEnd(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("admin", "u1", "u2", "u3")
	id := ts.mustCreateCampaign(map[string]any{
		"id":        "camp/1",
		"sender_id": "admin",
		"user_ids":  []string{"u1", "u2", "u3", "admin", "ghost"},
		"message_template": map[string]any{
			"text":        "Hi {{ receiver.name }} from {{sender.name}} in {{ receiver.city }}",
			"custom":      map[string]any{"promotional": true},
			"attachments": []map[string]any{{"type": "image", "url": "https://x/y.jpg"}},
		},
		"create_channels":  true,
		"channel_template": map[string]any{"type": "messaging", "custom": map[string]any{"promo": 1}},
	})
	status, m := ts.do("POST", "/campaigns/"+escapePath(id)+"/start", "{}")
	if status != 201 {
		t.Fatalf("cannot start; status %d; body %v", status, m)
	}
	c := ts.waitCampaignStatus(id, "completed")
	stats := c["stats"].(map[string]any)
	if stats["stats_messages_sent"] != 3.0 || stats["stats_users_sent"] != 3.0 || stats["stats_channels_created"] != 3.0 || stats["progress"] != 1.0 {
		t.Fatalf("unexpected stats %v", stats)
	}
	if stats["stats_started_at"] == nil || stats["stats_completed_at"] == nil {
		t.Fatalf("stats lack the timestamps: %v", stats)
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		cid := "messaging:" + engine.DistinctChannelID([]string{"admin", u})
		texts, ok := ts.channelTexts(cid)
		want := "Hi Name " + u + " from Name admin in City " + u
		if !ok || len(texts) != 1 || texts[0] != want {
			t.Fatalf("unexpected messages in %s; got %q (exists %v); want [%q]", cid, texts, ok, want)
		}
		ord, _, _, _ := ts.E.ChannelByCID(cid)
		msgs, _ := ts.E.ChannelMessages(ord, &engine.MessagePage{Limit: 10})
		msg := &msgs[0]
		if msg.Type != "regular" || ts.DB.Users.ID(msg.User) != "admin" || !strings.Contains(string(msg.Custom), `"campaign_id":"camp/1"`) ||
			!strings.Contains(string(msg.Custom), `"promotional":true`) || !strings.Contains(string(msg.Attachments), "y.jpg") {
			t.Fatalf("unexpected message %+v", msg)
		}
	}
	// A campaign is sent once.
	status, m = ts.do("POST", "/campaigns/"+escapePath(id)+"/start", "{}")
	wantError(t, status, m, 400, 4)
	if !strings.Contains(m["message"].(string), "create a new campaign") {
		t.Fatalf("unexpected message %v", m["message"])
	}
	status, m = ts.do("PUT", "/campaigns/"+escapePath(id), map[string]any{"name": "x"})
	wantError(t, status, m, 400, 4)
	status, m = ts.do("POST", "/campaigns/"+escapePath(id)+"/stop", nil)
	wantError(t, status, m, 400, 4)
}

func TestCampaignUpdateMerges(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("admin", "admin2", "u1")
	id := ts.mustCreateCampaign(map[string]any{
		"sender_id": "admin", "user_ids": []string{"u1"}, "name": "n", "description": "d",
		"message_template": map[string]any{"text": "one", "custom": map[string]any{"a": 1}},
	})
	status, m := ts.do("PUT", "/campaigns/"+id, map[string]any{"name": "n2", "sender_id": "admin2", "message_template": map[string]any{"text": "two"}})
	if status != 201 {
		t.Fatalf("cannot update; status %d; body %v", status, m)
	}
	c := m["campaign"].(map[string]any)
	mt := c["message_template"].(map[string]any)
	if c["name"] != "n2" || c["description"] != "d" || c["sender_id"] != "admin2" || mt["text"] != "two" || mt["custom"].(map[string]any)["a"] != 1.0 {
		t.Fatalf("unexpected merged campaign %v", c)
	}
	// Invalid updates are rejected and change nothing.
	status, m = ts.do("PUT", "/campaigns/"+id, map[string]any{"sender_id": "ghost"})
	wantError(t, status, m, 400, 4)
	status, m = ts.do("PUT", "/campaigns/"+id, map[string]any{"segment_ids": []string{"s"}})
	wantError(t, status, m, 400, 4)
	if c := ts.getCampaign(id); c["sender_id"] != "admin2" {
		t.Fatalf("a rejected update changed the campaign: %v", c)
	}
	status, m = ts.do("PUT", "/campaigns/nope", map[string]any{"name": "x"})
	wantError(t, status, m, 404, 16)
}

func TestCampaignScheduleStopDelete(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("admin", "u1", "u2")
	body := map[string]any{"sender_id": "admin", "user_ids": []string{"u1", "u2"}, "message_template": map[string]any{"text": "hi"},
		"create_channels": true, "channel_template": map[string]any{"type": "messaging"}}

	// Scheduled a few seconds ahead: scheduled now, completed later, without anyone asking.
	id := ts.mustCreateCampaign(body)
	at := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	status, m := ts.do("POST", "/campaigns/"+id+"/start", map[string]any{"scheduled_for": at})
	if status != 201 || m["campaign"].(map[string]any)["status"] != "scheduled" || m["campaign"].(map[string]any)["scheduled_for"] == nil {
		t.Fatalf("unexpected start reply %d %v", status, m)
	}
	// Updating a scheduled campaign is allowed.
	if status, m := ts.do("PUT", "/campaigns/"+id, map[string]any{"name": "later"}); status != 201 {
		t.Fatalf("cannot update a scheduled campaign: %d %v", status, m)
	}
	c := ts.waitCampaignStatus(id, "completed")
	if c["stats"].(map[string]any)["stats_messages_sent"] != 2.0 || c["name"] != "later" {
		t.Fatalf("unexpected completed campaign %v", c)
	}

	// Stop a scheduled campaign with the SDK's empty form-encoded body.
	id2 := ts.mustCreateCampaign(body)
	at = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if status, m := ts.do("POST", "/campaigns/"+id2+"/start", map[string]any{"scheduled_for": at}); status != 201 {
		t.Fatalf("cannot schedule: %d %v", status, m)
	}
	req, _ := http.NewRequest("POST", ts.URL+"/campaigns/"+id2+"/stop?api_key="+testKey, nil)
	req.Header.Set("Authorization", ts.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.ContentLength = 0
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("unexpected stop status %d", resp.StatusCode)
	}
	if c := ts.getCampaign(id2); c["status"] != "stopped" {
		t.Fatalf("unexpected status after stop: %v", c["status"])
	}
	// Stopping again is harmless; starting a stopped campaign is not.
	if status, _ := ts.do("POST", "/campaigns/"+id2+"/stop", nil); status != 201 {
		t.Fatalf("unexpected status stopping a stopped campaign: %d", status)
	}
	status, m = ts.do("POST", "/campaigns/"+id2+"/start", "{}")
	wantError(t, status, m, 400, 4)
	// Stopping a draft is an error.
	id3 := ts.mustCreateCampaign(body)
	status, m = ts.do("POST", "/campaigns/"+id3+"/stop", nil)
	wantError(t, status, m, 400, 4)

	// Delete removes it.
	if status, m := ts.do("DELETE", "/campaigns/"+id2, nil); status != 200 {
		t.Fatalf("cannot delete: %d %v", status, m)
	}
	status, m = ts.do("GET", "/campaigns/"+id2, nil)
	wantError(t, status, m, 404, 16)
	status, m = ts.do("DELETE", "/campaigns/"+id2, nil)
	wantError(t, status, m, 404, 16)

	// stop_at a few seconds ahead stops a scheduled campaign that never got to start.
	id4 := ts.mustCreateCampaign(body)
	start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	stop := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	status, m = ts.do("POST", "/campaigns/"+id4+"/start", map[string]any{"scheduled_for": start, "stop_at": stop})
	wantError(t, status, m, 400, 4) // stop_at before scheduled_for
	if status, m := ts.do("POST", "/campaigns/"+id4+"/start", map[string]any{"stop_at": stop}); status != 201 {
		t.Fatalf("cannot start with stop_at: %d %v", status, m)
	}
	ts.waitCampaignStatus(id4, "completed") // two users finish long before stop_at
}

func TestCampaignScheduleSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ts := mustStartTestServerAt(t, dir)
	ts.mustCreateUsers("admin", "u1")
	body := map[string]any{"sender_id": "admin", "user_ids": []string{"u1"}, "message_template": map[string]any{"text": "hi"},
		"create_channels": true, "channel_template": map[string]any{"type": "messaging"}}
	due := ts.mustCreateCampaign(body)
	stopped := ts.mustCreateCampaign(body)
	later := ts.mustCreateCampaign(body)
	in := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339Nano) }
	for _, x := range []struct {
		id   string
		body map[string]any
	}{
		{due, map[string]any{"scheduled_for": in(1500 * time.Millisecond)}},
		{stopped, map[string]any{"scheduled_for": in(1500 * time.Millisecond), "stop_at": in(1700 * time.Millisecond)}},
		{later, map[string]any{"scheduled_for": in(time.Hour)}},
	} {
		if status, m := ts.do("POST", "/campaigns/"+x.id+"/start", x.body); status != 201 {
			t.Fatalf("cannot schedule: %d %v", status, m)
		}
	}
	ts.Stop()
	time.Sleep(2 * time.Second) // NB: the start and stop times must pass while campaignd is down
	ts = mustStartTestServerAt(t, dir)
	c := ts.waitCampaignStatus(due, "completed")
	if c["stats"].(map[string]any)["stats_messages_sent"] != 1.0 {
		t.Fatalf("unexpected stats %v", c["stats"])
	}
	ts.waitCampaignStatus(stopped, "stopped")
	if c := ts.getCampaign(later); c["status"] != "scheduled" {
		t.Fatalf("unexpected status of the campaign scheduled later: %v", c["status"])
	}
}

func TestCampaignQuery(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("admin", "admin2", "u1")
	mk := func(id, name, sender string) {
		ts.mustCreateCampaign(map[string]any{"id": id, "name": name, "sender_id": sender, "user_ids": []string{"u1"},
			"message_template": map[string]any{"text": "x"}})
		time.Sleep(2 * time.Millisecond) // distinct created_at
	}
	mk("c1", "alpha", "admin")
	mk("c2", "beta", "admin2")
	mk("c3", "gamma", "admin")
	mid := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(2 * time.Millisecond)
	mk("c4", "delta", "admin")
	// c4 becomes scheduled.
	if status, m := ts.do("POST", "/campaigns/c4/start", map[string]any{"scheduled_for": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}); status != 201 {
		t.Fatalf("cannot schedule: %d %v", status, m)
	}
	f := func(body string, want ...string) {
		t.Helper()
		status, m := ts.do("POST", "/campaigns/query", body)
		if status != 201 {
			t.Fatalf("unexpected status %d for %s; body %v", status, body, m)
		}
		var got []string
		for _, c := range m["campaigns"].([]any) {
			got = append(got, c.(map[string]any)["id"].(string))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("unexpected campaigns for %s; got %v; want %v", body, got, want)
		}
	}
	f(`{"filter":{}}`, "c4", "c3", "c2", "c1")
	f(`{"filter":{},"sort":[{"field":"created_at","direction":1}]}`, "c1", "c2", "c3", "c4")
	f(`{"filter":{},"sort":[{"field":"name","direction":1}]}`, "c1", "c2", "c4", "c3")
	f(`{"filter":{"status":{"$in":["scheduled","in_progress"]}}}`, "c4")
	f(`{"filter":{"status":"draft"},"sort":[{"field":"created_at","direction":1}]}`, "c1", "c2", "c3")
	f(`{"filter":{"id":{"$in":["c1","c3"]}},"sort":[{"field":"created_at","direction":1}]}`, "c1", "c3")
	f(`{"filter":{"name":{"$in":["beta","delta"]}},"sort":[{"field":"created_at","direction":1}]}`, "c2", "c4")
	f(`{"filter":{"sender_id":{"$in":["admin2"]}}}`, "c2")
	f(`{"filter":{"created_at":{"$gte":"`+mid+`"}}}`, "c4")
	f(`{"filter":{"updated_at":{"$gte":"`+mid+`"}}}`, "c4")
	f(`{"filter":{"segments":{"$in":["s1"]}}}`)

	// Paging with next/prev and user_limit.
	status, m := ts.do("POST", "/campaigns/query", `{"filter":{},"limit":3,"user_limit":1}`)
	if status != 201 || len(m["campaigns"].([]any)) != 3 || m["next"] == nil || m["prev"] != nil {
		t.Fatalf("unexpected first page %d %v", status, m)
	}
	if users := m["campaigns"].([]any)[0].(map[string]any)["users"].([]any); len(users) != 1 || users[0].(map[string]any)["id"] != "u1" {
		t.Fatalf("unexpected users with user_limit 1: %v", users)
	}
	status, m = ts.do("POST", "/campaigns/query", `{"filter":{},"limit":3,"next":"`+m["next"].(string)+`"}`)
	if status != 201 || len(m["campaigns"].([]any)) != 1 || m["campaigns"].([]any)[0].(map[string]any)["id"] != "c1" || m["prev"] == nil || m["next"] != nil {
		t.Fatalf("unexpected second page %d %v", status, m)
	}
	if users := m["campaigns"].([]any)[0].(map[string]any)["users"].([]any); len(users) != 0 {
		t.Fatalf("unexpected users without user_limit: %v", users)
	}

	// Mistakes.
	for _, body := range []string{`{"filter":{"color":"red"}}`, `{"filter":{},"limit":101}`, `{"filter":{},"next":"garbage"}`,
		`{"filter":{},"sort":[{"field":"segments","direction":1}]}`, `{"filter":{},"user_limit":1001}`} {
		status, m := ts.do("POST", "/campaigns/query", body)
		wantError(t, status, m, 400, 4)
	}
}

func TestCampaignSenderModeAndChannelTemplate(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("admin", "mod", "u1", "u2", "u3")
	members := func(cid string) []string {
		t.Helper()
		ord, _, ok, err := ts.E.ChannelByCID(cid)
		if err != nil || !ok {
			t.Fatalf("channel %q: exists %v, err %v", cid, ok, err)
		}
		var ids []string
		lower := storage.NewKey(nil, storage.PrefixMember).U32(ord)
		it := ts.DB.NewIter(lower, storage.PrefixEnd(nil, lower))
		for ok := it.First(); ok; ok = it.Next() {
			k := it.Key()
			ids = append(ids, ts.DB.Users.ID(uint32(k[5])<<24|uint32(k[6])<<16|uint32(k[7])<<8|uint32(k[8])))
		}
		_ = it.Close()
		slices.Sort(ids)
		return ids
	}
	run := func(body map[string]any) map[string]any {
		t.Helper()
		id := ts.mustCreateCampaign(body)
		if status, m := ts.do("POST", "/campaigns/"+id+"/start", "{}"); status != 201 {
			t.Fatalf("cannot start: %d %v", status, m)
		}
		return ts.waitCampaignStatus(id, "completed")
	}
	// channel_template.id templating, sender_mode exclude, template members.
	run(map[string]any{
		"sender_id": "admin", "user_ids": []string{"u1"}, "sender_mode": "exclude",
		"message_template": map[string]any{"text": "to {{ channel.id }}"}, "create_channels": true,
		"channel_template": map[string]any{"type": "messaging", "id": "{{receiver.id}}-{{ sender.id }}", "members": []string{"mod"}, "team": "red"},
	})
	if got := members("messaging:u1-admin"); !slices.Equal(got, []string{"mod", "u1"}) {
		t.Fatalf("unexpected members with sender_mode exclude: %v", got)
	}
	if texts, _ := ts.channelTexts("messaging:u1-admin"); !slices.Equal(texts, []string{"to u1-admin"}) {
		t.Fatalf("unexpected texts %q", texts)
	}
	// Omitted sender_mode: sender added to new channels only.
	run(map[string]any{
		"sender_id": "admin", "user_ids": []string{"u1", "u2"},
		"message_template": map[string]any{"text": "second"}, "create_channels": true,
		"channel_template": map[string]any{"type": "messaging", "id": "{{receiver.id}}-{{ sender.id }}"},
	})
	if got := members("messaging:u1-admin"); !slices.Equal(got, []string{"mod", "u1"}) {
		t.Fatalf("omitted sender_mode added the sender to an existing channel: %v", got)
	}
	if got := members("messaging:u2-admin"); !slices.Equal(got, []string{"admin", "u2"}) {
		t.Fatalf("omitted sender_mode did not add the sender to a new channel: %v", got)
	}
	// include: added to existing channels too.
	c := run(map[string]any{
		"sender_id": "admin", "user_ids": []string{"u1"}, "sender_mode": "include",
		"message_template": map[string]any{"text": "third"}, "create_channels": true,
		"channel_template": map[string]any{"type": "messaging", "id": "{{receiver.id}}-{{ sender.id }}"},
	})
	if got := members("messaging:u1-admin"); !slices.Equal(got, []string{"admin", "mod", "u1"}) {
		t.Fatalf("sender_mode include did not add the sender to an existing channel: %v", got)
	}
	if texts, _ := ts.channelTexts("messaging:u1-admin"); !slices.Equal(texts, []string{"to u1-admin", "second", "third"}) {
		t.Fatalf("unexpected texts %q", texts)
	}
	if st := c["stats"].(map[string]any); st["stats_channels_created"] != 0.0 || st["stats_messages_sent"] != 1.0 {
		t.Fatalf("unexpected stats %v", st)
	}
	// create_channels false: targets without a channel are skipped and counted.
	c = run(map[string]any{
		"sender_id": "admin", "user_ids": []string{"u1", "u2", "u3"},
		"message_template": map[string]any{"text": "fourth"},
		"channel_template": map[string]any{"type": "messaging", "id": "{{receiver.id}}-{{ sender.id }}"},
	})
	st := c["stats"].(map[string]any)
	if st["stats_messages_sent"] != 2.0 || st["stats_channels_created"] != 0.0 || st["stats_targets_skipped"] != 1.0 || st["progress"] != 1.0 {
		t.Fatalf("unexpected stats with create_channels false: %v", st)
	}
	if _, ok := ts.channelTexts("messaging:u3-admin"); ok {
		t.Fatalf("create_channels false created a channel")
	}
}

func TestCampaignUserSegments(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("admin", "u1", "u2", "u3", "u4")
	ts.mustCreateSegment(map[string]any{"id": "static", "type": "user"})
	ts.mustAddTargets("static", "u1", "u2", "admin", "not-a-user-yet")
	ts.mustCreateSegment(map[string]any{"id": "everyone", "type": "user", "all_users": true})
	id := ts.mustCreateCampaign(map[string]any{
		"sender_id": "admin", "segment_ids": []string{"static", "everyone"},
		"message_template": map[string]any{"text": "Hi {{ receiver.name }}"},
		"create_channels":  true, "channel_template": map[string]any{"type": "messaging"},
	})
	c := ts.getCampaign(id)
	if segs := c["segments"].([]any); len(segs) != 2 || segs[0].(map[string]any)["id"] != "static" {
		t.Fatalf("unexpected segments %v", c["segments"])
	}
	if status, m := ts.do("POST", "/campaigns/"+id+"/start", "{}"); status != 201 {
		t.Fatalf("cannot start: %d %v", status, m)
	}
	c = ts.waitCampaignStatus(id, "completed")
	// Duplicates across segments removed, the sender left out, a target that is no user skipped.
	if st := c["stats"].(map[string]any); st["stats_messages_sent"] != 4.0 || st["stats_users_sent"] != 4.0 ||
		st["stats_targets_skipped"] != 1.0 || st["progress"] != 1.0 {
		t.Fatalf("unexpected stats %v", st)
	}
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		if texts, _ := ts.channelTexts("messaging:" + engine.DistinctChannelID([]string{"admin", u})); !slices.Equal(texts, []string{"Hi Name " + u}) {
			t.Fatalf("unexpected texts for %s: %q", u, texts)
		}
	}
	// The users page of a started campaign is its frozen audience.
	_, m := ts.do("GET", "/campaigns/"+id+"?limit=10", nil)
	if users := m["campaign"].(map[string]any)["users"].([]any); len(users) != 4 {
		t.Fatalf("unexpected users page %v", users)
	}
	_, m = ts.do("GET", "/campaigns/"+id+"?limit=3", nil)
	page1 := m["campaign"].(map[string]any)["users"].([]any)
	next, _ := m["users"].(map[string]any)["next"].(string)
	if len(page1) != 3 || page1[0].(map[string]any)["id"] != "u1" || next == "" {
		t.Fatalf("unexpected first page of the frozen audience %v / %v", page1, m["users"])
	}
	_, m = ts.do("GET", "/campaigns/"+id+"?limit=3&next="+next, nil)
	page2 := m["campaign"].(map[string]any)["users"].([]any)
	if len(page2) != 1 || page2[0].(map[string]any)["id"] != "u4" || m["users"].(map[string]any)["prev"] == nil || m["users"].(map[string]any)["next"] != nil {
		t.Fatalf("unexpected second page of the frozen audience %v / %v", page2, m["users"])
	}
	// A deleted segment cannot be used.
	if status, m := ts.do("DELETE", "/segments/static", nil); status != 200 {
		t.Fatalf("cannot delete segment: %d %v", status, m)
	}
	status, m := ts.do("POST", "/campaigns", map[string]any{"sender_id": "admin", "segment_ids": []string{"static"},
		"message_template": map[string]any{"text": "x"}})
	wantError(t, status, m, 400, 4)
}

func TestCampaignChannelSegment(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("admin", "u1", "u2", "u3")
	for _, ch := range []string{"c1", "c2"} {
		status, m := ts.do("POST", "/channels/team/"+ch+"/query", map[string]any{
			"data": map[string]any{"created_by_id": "u1", "members": []string{"u1", "u2", "u3"}, "color": "blue-" + ch}})
		if status != 201 {
			t.Fatalf("cannot create channel: %d %v", status, m)
		}
	}
	ts.mustCreateSegment(map[string]any{"id": "chans", "type": "channel"})
	ts.mustAddTargets("chans", "team:c1", "team:c2")
	// receiver is not available for channel segments.
	status, m := ts.do("POST", "/campaigns", map[string]any{"sender_id": "admin", "segment_ids": []string{"chans"},
		"message_template": map[string]any{"text": "Hi {{ receiver.name }}"}})
	wantError(t, status, m, 400, 4)
	if _, ok := m["exception_fields"].(map[string]any)["message_template.text"]; !ok {
		t.Fatalf("unexpected error %v", m)
	}
	// user_ids and channel segments do not mix; user and channel segments do not mix.
	ts.mustCreateSegment(map[string]any{"id": "users", "type": "user"})
	status, m = ts.do("POST", "/campaigns", map[string]any{"sender_id": "admin", "segment_ids": []string{"chans", "users"},
		"message_template": map[string]any{"text": "x"}})
	wantError(t, status, m, 400, 4)

	id := ts.mustCreateCampaign(map[string]any{"sender_id": "admin", "segment_ids": []string{"chans"}, "sender_mode": "include",
		"message_template": map[string]any{"text": "News for {{ channel.id }} ({{channel.color}}) from {{ sender.name }}"}})
	if status, m := ts.do("POST", "/campaigns/"+id+"/start", "{}"); status != 201 {
		t.Fatalf("cannot start: %d %v", status, m)
	}
	c := ts.waitCampaignStatus(id, "completed")
	if st := c["stats"].(map[string]any); st["stats_messages_sent"] != 2.0 || st["stats_channels_created"] != 0.0 {
		t.Fatalf("unexpected stats %v", st)
	}
	for _, ch := range []string{"c1", "c2"} {
		texts, _ := ts.channelTexts("team:" + ch)
		if want := "News for " + ch + " (blue-" + ch + ") from Name admin"; !slices.Equal(texts, []string{want}) {
			t.Fatalf("unexpected texts in %s; got %q; want %q", ch, texts, want)
		}
		_, chRec, _, _ := ts.E.ChannelByCID("team:" + ch)
		if chRec.MemberCount != 4 { // sender_mode include added admin
			t.Fatalf("unexpected member count of %s: %d", ch, chRec.MemberCount)
		}
	}
}

func TestCampaignDeleteRunning(t *testing.T) {
	ts := mustStartTestServer(t)
	const n = 30000
	users := make([]storage.User, 0, 1000)
	for i := 0; i <= n; i += len(users) {
		users = users[:0]
		for j := i; j < min(i+1000, n+1); j++ {
			users = append(users, storage.User{ID: fmt.Sprintf("u%06d", j)})
		}
		if err := ts.E.UpsertUsers(users); err != nil {
			t.Fatal(err)
		}
	}
	ts.mustCreateSegment(map[string]any{"id": "all", "type": "user", "all_users": true})
	body := map[string]any{"sender_id": "u000000", "segment_ids": []string{"all"}, "message_template": map[string]any{"text": "x"},
		"create_channels": true, "channel_template": map[string]any{"type": "messaging"}}
	stopped := ts.mustCreateCampaign(body)
	deleted := ts.mustCreateCampaign(body)
	for _, id := range []string{stopped, deleted} {
		if status, m := ts.do("POST", "/campaigns/"+id+"/start", "{}"); status != 201 {
			t.Fatalf("cannot start: %d %v", status, m)
		}
	}
	if c := ts.getCampaign(stopped); c["status"] != "in_progress" {
		t.Fatalf("unexpected status right after start: %v", c["status"])
	}
	// Running campaigns lock their segments.
	if seg := ts.getSegment("all"); seg["locked"] != true {
		t.Fatalf("the segment of a running campaign is not locked: %v", seg)
	}
	status, m := ts.do("POST", "/campaigns/"+stopped+"/stop", nil)
	if status != 201 || m["campaign"].(map[string]any)["status"] != "stopped" {
		t.Fatalf("cannot stop: %d %v", status, m)
	}
	sent := m["campaign"].(map[string]any)["stats"].(map[string]any)["stats_messages_sent"].(float64)
	if status, m := ts.do("DELETE", "/campaigns/"+deleted, nil); status != 200 {
		t.Fatalf("cannot delete a running campaign: %d %v", status, m)
	}
	status, m = ts.do("GET", "/campaigns/"+deleted, nil)
	wantError(t, status, m, 404, 16)
	// Nothing is sent after stop returned.
	time.Sleep(300 * time.Millisecond)
	c := ts.getCampaign(stopped)
	if c["status"] != "stopped" || c["stats"].(map[string]any)["stats_messages_sent"].(float64) != sent || sent >= n {
		t.Fatalf("the campaign went on after stop: sent %v at stop; now %v", sent, c)
	}
	if seg := ts.getSegment("all"); seg["locked"] != false {
		t.Fatalf("the segment stays locked after stop and delete: %v", seg)
	}
}

func TestCampaignInvalidRenderedChannelIDIsSkipped(t *testing.T) {
	ts := mustStartTestServer(t)
	if err := ts.E.UpsertUsers([]storage.User{{ID: "admin"}, {ID: "ok", Custom: []byte(`{"handle":"fine_1"}`)},
		{ID: "bad", Custom: []byte(`{"handle":"not ok!?"}`)}, {ID: "none"}}); err != nil {
		t.Fatal(err)
	}
	id := ts.mustCreateCampaign(map[string]any{"sender_id": "admin", "user_ids": []string{"ok", "bad", "none"},
		"message_template": map[string]any{"text": "hi"}, "create_channels": true,
		"channel_template": map[string]any{"type": "messaging", "id": "{{ receiver.handle }}"}})
	if status, m := ts.do("POST", "/campaigns/"+id+"/start", "{}"); status != 201 {
		t.Fatalf("cannot start: %d %v", status, m)
	}
	c := ts.waitCampaignStatus(id, "completed")
	// "bad" renders an id with invalid characters, "none" an empty id: both are skipped.
	if st := c["stats"].(map[string]any); st["stats_messages_sent"] != 1.0 || st["stats_targets_skipped"] != 2.0 {
		t.Fatalf("unexpected stats %v", st)
	}
	if texts, _ := ts.channelTexts("messaging:fine_1"); !slices.Equal(texts, []string{"hi"}) {
		t.Fatalf("unexpected texts %q", texts)
	}
}

func TestCampaignWithoutChannelTemplateUsesExistingMessagingChannels(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("sender", "u1", "u2")
	status, m := ts.do("POST", "/channels/messaging/query", map[string]any{"data": map[string]any{"members": []string{"sender", "u1"}, "created_by_id": "sender"}})
	if status != 201 {
		t.Fatalf("cannot create the distinct channel: %d %v", status, m)
	}
	cid := m["channel"].(map[string]any)["cid"].(string)
	// The seed's minimal campaign: no channel_template, no create_channels.
	id := ts.mustCreateCampaign(map[string]any{"sender_id": "sender", "user_ids": []string{"u1", "u2"},
		"message_template": map[string]any{"text": "Hi {{ receiver.name }} I'm {{ sender.name }}!"}})
	if status, m := ts.do("POST", "/campaigns/"+id+"/start", "{}"); status != 201 {
		t.Fatalf("cannot start: %d %v", status, m)
	}
	c := ts.waitCampaignStatus(id, "completed")
	if st := c["stats"].(map[string]any); st["stats_messages_sent"] != 1.0 || st["stats_targets_skipped"] != 1.0 || st["stats_channels_created"] != 0.0 {
		t.Fatalf("unexpected stats %v", st)
	}
	if texts, _ := ts.channelTexts(cid); !slices.Equal(texts, []string{"Hi Name u1 I'm Name sender!"}) {
		t.Fatalf("unexpected texts in %s: %q", cid, texts)
	}
}
