package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/campaignd/campaignd/storage"
)

// Campaign tests through the engine's API: create, update, validate, start, stop, delete, query
// and the users page. The fan-out itself is in fanout_test.go, the scheduler in scheduler_test.go.

func TestCampaignCreateAndGet(t *testing.T) {
	e, clock := newTestEngine(t)
	mustUpsertUsers(t, e, "admin", "u1", "u2")

	c := mustCreateCampaign(t, e, `{"id":null,"name":"c","sender_id":"admin","user_ids":["u1","u2"],
		"message_template":{"text":"hi {{ receiver.name }}","custom":{"promotional":true},"attachments":[{"type":"image"}]},
		"channel_template":{"type":"messaging","members":["admin"],"custom":{"k":1}},"create_channels":true}`)
	if len(c.ID) != 36 {
		t.Fatalf("unexpected generated id %q; want a UUID", c.ID)
	}
	created := clock.Now().Truncate(time.Microsecond).UnixNano()
	if c.Status != storage.CampaignDraft || c.Name != "c" || c.SenderID != "admin" || c.CreatedAt != created || c.UpdatedAt != created ||
		c.Audience != storage.AudienceUsers || !slices.Equal(c.UserIDs, []string{"u1", "u2"}) || !c.CreateChannels {
		t.Fatalf("unexpected campaign %+v", c.Campaign)
	}
	if m := c.Message; m.Text != "hi {{ receiver.name }}" || string(m.Custom) != `{"promotional":true}` || string(m.Attachments) != `[{"type":"image"}]` {
		t.Fatalf("unexpected message_template %+v", m)
	}
	if ch := c.Channel; !c.HasChannel || ch.Type != "messaging" || !slices.Equal(ch.Members, []string{"admin"}) || string(ch.Custom) != `{"k":1}` {
		t.Fatalf("unexpected channel_template %+v", ch)
	}
	got, err := e.GetCampaign(c.ID)
	if err != nil {
		t.Fatalf("cannot get campaign: %s", err)
	}
	if got.ID != c.ID || got.Status != storage.CampaignDraft || got.Name != "c" || got.Run != (storage.CampaignRun{}) {
		t.Fatalf("unexpected campaign from GetCampaign %+v", got)
	}

	// An explicit id; a used id; an unknown id.
	mustCreateCampaign(t, e, `{"id":"mine","sender_id":"admin","user_ids":["u1"],"message_template":{"text":"x"}}`)
	_, err = e.CreateCampaign(campaignInput(t, `{"id":"mine","sender_id":"admin","user_ids":["u2"],"message_template":{"text":"y"}}`))
	wantInputError(t, err, "id")
	if got, _ := e.GetCampaign("mine"); !slices.Equal(got.UserIDs, []string{"u1"}) {
		t.Fatalf("a refused create changed the stored campaign: %+v", got)
	}
	_, err = e.GetCampaign("nope")
	wantCode(t, err, CodeNotFound)
}

func TestCampaignValidation(t *testing.T) {
	e, _ := newTestEngine(t)
	mustUpsertUsers(t, e, "admin", "u1")
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("users"), Type: strPtr("user")})
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("chans"), Type: strPtr("channel")})
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("gone"), Type: strPtr("user")})
	if err := e.DeleteSegment("gone"); err != nil {
		t.Fatalf("cannot delete segment: %s", err)
	}
	base := `"sender_id":"admin","message_template":{"text":"hi"}`
	many := func(n int, f func(i int) string) string {
		var parts []string
		for i := range n {
			parts = append(parts, f(i))
		}
		return strings.Join(parts, ",")
	}
	f := func(body, field string) {
		t.Helper()
		_, err := e.CreateCampaign(campaignInput(t, body))
		wantInputError(t, err, field)
	}
	f(`{"user_ids":["u1"],"message_template":{"text":"hi"}}`, "sender_id")
	f(`{"sender_id":"ghost","user_ids":["u1"],"message_template":{"text":"hi"}}`, "sender_id")
	f(`{`+base+`,"user_ids":["u1"],"sender_mode":"sometimes"}`, "sender_mode")
	f(`{`+base+`,"user_ids":["u1"],"sender_visibility":"shown"}`, "sender_visibility")
	f(`{`+base+`}`, "segment_ids")
	f(`{`+base+`,"user_ids":["u1"],"segment_ids":["users"]}`, "segment_ids")
	f(`{`+base+`,"segment_ids":[`+many(MaxCampaignSegments+1, func(int) string { return `"users"` })+`]}`, "segment_ids")
	f(`{`+base+`,"user_ids":[`+many(MaxCampaignUserIDs+1, func(i int) string { return fmt.Sprintf(`"u%d"`, i) })+`]}`, "user_ids")
	f(`{`+base+`,"user_ids":[""]}`, "user_ids[0]")
	f(`{`+base+`,"segment_ids":["nope"]}`, "segment_ids")
	f(`{`+base+`,"segment_ids":["gone"]}`, "segment_ids")
	f(`{`+base+`,"segment_ids":["users","chans"]}`, "segment_ids")
	f(`{"sender_id":"admin","user_ids":["u1"]}`, "message_template.text")
	f(`{"sender_id":"admin","user_ids":["u1"],"message_template":{"text":"hi {{ friend.name }}"}}`, "message_template.text")
	f(`{"sender_id":"admin","user_ids":["u1"],"message_template":{"text":"hi {{ receiver.name"}}`, "message_template.text")
	f(`{"sender_id":"admin","segment_ids":["chans"],"message_template":{"text":"hi {{ receiver.name }}"}}`, "message_template.text")
	f(`{"sender_id":"admin","user_ids":["u1"],"message_template":{"text":"hi","attachments":{}}}`, "message_template.attachments")
	f(`{"sender_id":"admin","user_ids":["u1"],"message_template":{"text":"hi","attachments":[1]}}`, "message_template.attachments")
	f(`{"sender_id":"admin","user_ids":["u1"],"message_template":{"text":"hi","attachments":[`+
		many(MaxCampaignAttachments+1, func(int) string { return `{}` })+`]}}`, "message_template.attachments")
	f(`{"sender_id":"admin","user_ids":["u1"],"message_template":{"text":"hi","custom":[1]}}`, "message_template.custom")
	f(`{`+base+`,"user_ids":["u1"],"create_channels":true}`, "channel_template.type")
	f(`{`+base+`,"user_ids":["u1"],"channel_template":{"id":"x"}}`, "channel_template.type")
	f(`{`+base+`,"user_ids":["u1"],"channel_template":{"type":"no spaces"}}`, "channel_template.type")
	f(`{`+base+`,"user_ids":["u1"],"channel_template":{"type":"messaging","id":"!members-{{ receiver.id }}"}}`, "channel_template.id")
	f(`{`+base+`,"user_ids":["u1"],"channel_template":{"type":"messaging","id":"{{ channel.id }}"}}`, "channel_template.id")
	f(`{`+base+`,"user_ids":["u1"],"channel_template":{"type":"messaging","custom":"x"}}`, "channel_template.custom")
	f(`{`+base+`,"user_ids":["u1"],"channel_template":{"type":"messaging","members":[`+
		many(MaxCampaignMembers+1, func(i int) string { return fmt.Sprintf(`"m%d"`, i) })+`]}}`, "channel_template.members")
	f(`{`+base+`,"user_ids":["u1"],"channel_template":{"type":"messaging","members":[""]}}`, "channel_template.members[0]")
	f(`{`+base+`,"user_ids":["u1"],"channel_template":{"type":"messaging","members_template":[{"user_id":"u1","custom":5}]}}`,
		"channel_template.members_template[0].custom")
	f(`{`+base+`,"user_ids":["u1"],"channel_template":{"type":"messaging","members_template":[{"user_id":""}]}}`,
		"channel_template.members_template[0].user_id")
	f(`{`+base+`,"user_ids":["u1"],"channel_template":{"type":"messaging","members":["u1"],"members_template":[{"user_id":"u1"}]}}`,
		"channel_template.members_template")
	f(`{"id":"`+strings.Repeat("x", MaxIDLength+1)+`",`+base+`,"user_ids":["u1"]}`, "id")

	// Valid: a channel segment without receiver tags, a templated channel id.
	mustCreateCampaign(t, e, `{"sender_id":"admin","segment_ids":["chans"],"message_template":{"text":"hi {{ channel.id }} from {{ sender.id }}"}}`)
	mustCreateCampaign(t, e, `{`+base+`,"user_ids":["u1"],"channel_template":{"type":"messaging","id":"c-{{ receiver.id }}"},"create_channels":true}`)
	page, err := e.QueryCampaigns(&QueryParams{})
	if err != nil {
		t.Fatalf("cannot query: %s", err)
	}
	if len(page.Campaigns) != 2 {
		t.Fatalf("refused campaigns were stored: %d campaigns", len(page.Campaigns))
	}
}

func TestCampaignUpdate(t *testing.T) {
	e, clock := newTestEngine(t)
	mustUpsertUsers(t, e, "admin", "other", "u1", "u2")
	mustStart(t, e)
	c := mustCreateCampaign(t, e, `{"id":"c","name":"first","description":"d","sender_id":"admin","user_ids":["u1"],
		"message_template":{"text":"hi","custom":{"a":1}},"channel_template":{"type":"messaging"},"create_channels":true}`)

	// A partial body is merged: absent fields keep their value.
	clock.Add(time.Minute)
	got, err := e.UpdateCampaign("c", campaignInput(t, `{"name":"second","user_ids":["u1","u2"],"message_template":{"text":"hello"}}`))
	if err != nil {
		t.Fatalf("cannot update: %s", err)
	}
	if got.Name != "second" || got.Description != "d" || !slices.Equal(got.UserIDs, []string{"u1", "u2"}) || got.Message.Text != "hello" ||
		string(got.Message.Custom) != `{"a":1}` || got.Channel.Type != "messaging" || !got.CreateChannels ||
		got.CreatedAt != c.CreatedAt || got.UpdatedAt != clock.Now().Truncate(time.Microsecond).UnixNano() {
		t.Fatalf("unexpected merged campaign %+v", got.Campaign)
	}
	// Null removes a JSON value; the result is validated; a refused update stores nothing.
	if got, err = e.UpdateCampaign("c", campaignInput(t, `{"message_template":{"custom":null}}`)); err != nil || got.Message.Custom != nil {
		t.Fatalf("unexpected update removing custom: %v %+v", err, got)
	}
	_, err = e.UpdateCampaign("c", campaignInput(t, `{"segment_ids":["x"]}`))
	wantInputError(t, err, "segment_ids")
	_, err = e.UpdateCampaign("c", campaignInput(t, `{"sender_id":"ghost"}`))
	wantInputError(t, err, "sender_id")
	_, err = e.UpdateCampaign("c", campaignInput(t, `{"id":"d"}`))
	wantInputError(t, err, "id")
	if got, _ := e.GetCampaign("c"); got.SenderID != "admin" || len(got.SegmentIDs) != 0 || got.Name != "second" {
		t.Fatalf("a refused update changed the campaign: %+v", got.Campaign)
	}
	_, err = e.UpdateCampaign("nope", campaignInput(t, `{"name":"x"}`))
	wantCode(t, err, CodeNotFound)

	// Scheduled campaigns can be updated, running and finished ones cannot.
	mustStartCampaign(t, e, "c", `{"scheduled_for":"2030-01-01T00:00:00Z"}`)
	if _, err := e.UpdateCampaign("c", campaignInput(t, `{"sender_id":"other"}`)); err != nil {
		t.Fatalf("cannot update a scheduled campaign: %s", err)
	}
	mustStartCampaign(t, e, "c", `{}`)
	waitStatus(t, e, "c", storage.CampaignCompleted)
	_, err = e.UpdateCampaign("c", campaignInput(t, `{"name":"late"}`))
	wantInputError(t, err, "status")
}

func TestCampaignLifecycle(t *testing.T) {
	e, _ := newTestEngine(t)
	mustUpsertUsers(t, e, "admin", "u1", "u2", "u3")
	mustStart(t, e)
	mustCreateCampaign(t, e, `{"id":"c","sender_id":"admin","user_ids":["u1","u2","u3","admin"],
		"message_template":{"text":"hi {{ receiver.id }}"},"channel_template":{"type":"messaging"},"create_channels":true}`)

	started := mustStartCampaign(t, e, "c", `{}`)
	if started.Status != storage.CampaignInProgress || started.Run.StartedAt == 0 {
		t.Fatalf("unexpected started campaign %+v %+v", started.Campaign, started.Run)
	}
	c := waitStatus(t, e, "c", storage.CampaignCompleted)
	// The sender is never its own receiver.
	want := storage.CampaignRun{Frozen: true, Kind: storage.AudienceUsers, Total: 3, Done: 3, MessagesSent: 3, ChannelsCreated: 3,
		UsersSent: 3, StartedAt: started.Run.StartedAt, CompletedAt: c.Run.CompletedAt, Cursor: c.Run.Cursor}
	if c.Run != want || c.Run.CompletedAt == 0 {
		t.Fatalf("unexpected run %+v; want %+v", c.Run, want)
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		if texts := campaignTexts(t, e, "admin", u); !slices.Equal(texts, []string{"hi " + u}) {
			t.Fatalf("unexpected messages to %s: %q", u, texts)
		}
	}

	// A campaign is sent once; a completed campaign cannot be stopped or updated.
	_, err := e.StartCampaign("c", &StartOptions{})
	wantInputError(t, err, "status")
	_, err = e.StopCampaign("c")
	wantInputError(t, err, "status")
	_, err = e.StartCampaign("nope", &StartOptions{})
	wantCode(t, err, CodeNotFound)

	// Start validates again: the sender may be gone since the campaign was stored.
	mustCreateCampaign(t, e, `{"id":"orphan","sender_id":"u3","user_ids":["u1"],"message_template":{"text":"x"}}`)
	if _, err := e.DeleteUser("u3", false); err != nil {
		t.Fatalf("cannot delete user: %s", err)
	}
	_, err = e.StartCampaign("orphan", &StartOptions{})
	wantInputError(t, err, "sender_id")
	if got, _ := e.GetCampaign("orphan"); got.Status != storage.CampaignDraft {
		t.Fatalf("a refused start changed the status to %s", got.Status)
	}
}

func TestCampaignStopAndDelete(t *testing.T) {
	e, _ := newTestEngine(t)
	mustUpsertUsers(t, e, "admin", "u1")
	mustStart(t, e)
	body := `{"sender_id":"admin","user_ids":["u1"],"message_template":{"text":"hi"}}`

	// A draft cannot be stopped; a scheduled campaign can, once or twice; then it cannot start.
	c := mustCreateCampaign(t, e, body)
	_, err := e.StopCampaign(c.ID)
	wantInputError(t, err, "status")
	mustStartCampaign(t, e, c.ID, `{"scheduled_for":"2030-01-01T00:00:00Z"}`)
	for range 2 {
		got, err := e.StopCampaign(c.ID)
		if err != nil || got.Status != storage.CampaignStopped {
			t.Fatalf("unexpected stop: %v %+v", err, got)
		}
	}
	_, err = e.StartCampaign(c.ID, &StartOptions{})
	wantInputError(t, err, "status")
	if got, _ := e.GetCampaign(c.ID); got.Status != storage.CampaignStopped || got.Run.Total != 0 || got.Run.MessagesSent != 0 {
		t.Fatalf("unexpected stopped campaign %+v %+v", got.Campaign, got.Run)
	}

	// Delete removes a campaign whatever its status; then it is unknown.
	for _, start := range []string{"", `{"scheduled_for":"2030-01-01T00:00:00Z"}`} {
		c := mustCreateCampaign(t, e, body)
		if start != "" {
			mustStartCampaign(t, e, c.ID, start)
		}
		if err := e.DeleteCampaign(c.ID); err != nil {
			t.Fatalf("cannot delete: %s", err)
		}
		_, err = e.GetCampaign(c.ID)
		wantCode(t, err, CodeNotFound)
		wantCode(t, e.DeleteCampaign(c.ID), CodeNotFound)
		_, err = e.StopCampaign(c.ID)
		wantCode(t, err, CodeNotFound)
	}
	if err := e.DeleteCampaign(c.ID); err != nil {
		t.Fatalf("cannot delete a stopped campaign: %s", err)
	}
	page, err := e.QueryCampaigns(&QueryParams{})
	if err != nil || len(page.Campaigns) != 0 {
		t.Fatalf("deleted campaigns are still listed: %v %d", err, len(page.Campaigns))
	}
}

func TestCampaignQuery(t *testing.T) {
	e, clock := newTestEngine(t)
	mustUpsertUsers(t, e, "admin", "u1")
	var ids []string
	for i := range 7 {
		clock.Add(time.Second)
		id := fmt.Sprintf("c%d", i)
		mustCreateCampaign(t, e, fmt.Sprintf(`{"id":%q,"name":"n%d","sender_id":"admin","user_ids":["u1"],"message_template":{"text":"x"}}`, id, 6-i))
		ids = append(ids, id)
	}
	mustStart(t, e)
	mustStartCampaign(t, e, "c2", `{"scheduled_for":"2030-01-01T00:00:00Z"}`)
	mustStartCampaign(t, e, "c5", `{"scheduled_for":"2030-01-01T00:00:00Z"}`)

	query := func(body string) (*CampaignsPage, error) {
		t.Helper()
		var q QueryParams
		mustDecodeJSON(t, body, &q)
		return e.QueryCampaigns(&q)
	}
	f := func(body string, want []string) *CampaignsPage {
		t.Helper()
		page, err := query(body)
		if err != nil {
			t.Fatalf("cannot query %s: %s", body, err)
		}
		var got []string
		for _, c := range page.Campaigns {
			got = append(got, c.ID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("unexpected campaigns of %s; got %v; want %v", body, got, want)
		}
		return page
	}
	// Default order: created_at descending; default limit 10.
	all := slices.Clone(ids)
	slices.Reverse(all)
	f(`{}`, all)
	f(`{"filter":{"status":"scheduled"}}`, []string{"c5", "c2"})
	f(`{"filter":{"id":{"$in":["c1","c3","zz"]}}}`, []string{"c3", "c1"})
	f(`{"filter":{"status":"draft"},"sort":[{"field":"name","direction":1}],"limit":2}`, []string{"c6", "c4"})
	f(`{"sort":[{"field":"created_at","direction":1}]}`, ids)

	// Paging: next then prev walk the same pages.
	p1 := f(`{"limit":3}`, []string{"c6", "c5", "c4"})
	if p1.Prev != "" || p1.Next == "" {
		t.Fatalf("unexpected cursors of the first page: %+v", p1)
	}
	p2 := f(`{"limit":3,"next":"`+p1.Next+`"}`, []string{"c3", "c2", "c1"})
	p3 := f(`{"limit":3,"next":"`+p2.Next+`"}`, []string{"c0"})
	if p3.Next != "" || p3.Prev == "" {
		t.Fatalf("unexpected cursors of the last page: %+v", p3)
	}
	f(`{"limit":3,"prev":"`+p3.Prev+`"}`, []string{"c3", "c2", "c1"})
	back := f(`{"limit":3,"prev":"`+p2.Prev+`"}`, []string{"c6", "c5", "c4"})
	if back.Prev != "" {
		t.Fatalf("the first page reached backwards has a prev cursor: %+v", back)
	}

	// Mistakes name the field.
	g := func(body, field string) {
		t.Helper()
		_, err := query(body)
		wantInputError(t, err, field)
	}
	g(`{"next":"bm90IGEgY3Vyc29y"}`, "next")
	g(`{"prev":"!"}`, "prev")
	g(`{"next":"`+p1.Next+`","prev":"`+p1.Next+`"}`, "next")
	g(`{"limit":101}`, "limit")
	g(`{"limit":-1}`, "limit")
	g(`{"filter":{"colour":"red"}}`, "colour")
	g(`{"filter":[]}`, "filter")
	g(`{"sort":[{"field":"colour","direction":1}]}`, "colour")
}

func TestCampaignUsersPage(t *testing.T) {
	e, _ := newTestEngine(t)
	mustUpsertUsers(t, e, "admin", "u1", "u2", "u3", "u4", "u5")
	mustStart(t, e)
	mustCreateCampaign(t, e, `{"id":"c","sender_id":"admin","user_ids":["u3","u1","ghost","u2"],"message_template":{"text":"x"}}`)

	page := func(limit int, next, prev string, want ...string) (string, string) {
		t.Helper()
		c, err := e.GetCampaign("c")
		if err != nil {
			t.Fatal(err)
		}
		page, err := e.CampaignUsersPage(c, limit, next, prev)
		if err != nil {
			t.Fatalf("cannot page users: %s", err)
		}
		var got []string
		for _, u := range page.Users {
			got = append(got, u.ID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("unexpected users page (limit %d, next %q, prev %q); got %v; want %v", limit, next, prev, got, want)
		}
		return page.Next, page.Prev
	}
	// A draft shows its user_ids (known ones), in their order.
	next, prev := page(2, "", "", "u3", "u1")
	if prev != "" || next == "" {
		t.Fatalf("unexpected cursors %q %q", next, prev)
	}
	next2, prev2 := page(2, next, "", "u2")
	if next2 != "" || prev2 == "" {
		t.Fatalf("unexpected cursors of the last page %q %q", next2, prev2)
	}
	page(2, "", prev2, "u3", "u1")
	page(0, "", "")

	// Once started, the frozen audience in ordinal order.
	mustStartCampaign(t, e, "c", `{}`)
	waitStatus(t, e, "c", storage.CampaignCompleted)
	next, _ = page(2, "", "", "u1", "u2")
	page(2, next, "", "u3")

	c, _ := e.GetCampaign("c")
	_, err := e.CampaignUsersPage(c, MaxCampaignUsersPerPage+1, "", "")
	wantInputError(t, err, "limit")
	_, err = e.CampaignUsersPage(c, 2, "bad", "")
	wantInputError(t, err, "next")
}

// campaignTexts returns the texts sender's campaign messages in the distinct messaging channel of
// sender and receiver, oldest first (nil when the channel does not exist).
func campaignTexts(t testing.TB, e *Engine, sender, receiver string) []string {
	t.Helper()
	cid := DefaultCampaignChannelType + ":" + DistinctChannelID([]string{sender, receiver})
	ord, _, ok, err := e.ChannelByCID(cid)
	if err != nil {
		t.Fatalf("cannot read channel %s: %s", cid, err)
	}
	if !ok {
		return nil
	}
	msgs, err := e.ChannelMessages(ord, &MessagePage{Limit: MaxMessageLimit})
	if err != nil {
		t.Fatalf("cannot read the messages of %s: %s", cid, err)
	}
	var texts []string
	for _, m := range msgs {
		if !strings.Contains(string(m.Custom), `"campaign_id"`) {
			t.Fatalf("message %q to %s has no campaign_id: %s", m.ID, receiver, m.Custom)
		}
		texts = append(texts, m.Text)
	}
	return texts
}
