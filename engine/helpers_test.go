package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/campaignd/campaignd/internal/eventually"
	"github.com/campaignd/campaignd/storage"
)

// testClock is a test's engine clock (Options.Now). It stands still until the test moves it (Set,
// Add) or lets it run with real time (Run). It is safe for concurrent use.
type testClock struct {
	mu      sync.Mutex
	base    time.Time
	running bool
	since   time.Time // real time at which base was read, when running
}

func newTestClock() *testClock {
	return &testClock{base: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)}
}

// Now is the engine's clock.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return c.base.Add(time.Since(c.since))
	}
	return c.base
}

// Set moves the clock to t (it keeps running if it ran).
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.base, c.since = t, time.Now()
	c.mu.Unlock()
}

// Add moves the clock by d.
func (c *testClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// Run lets the clock advance with real time from its current value.
func (c *testClock) Run() {
	now := c.Now()
	c.mu.Lock()
	c.base, c.since, c.running = now, time.Now(), true
	c.mu.Unlock()
}

// newTestEngine opens an engine (not started) over a fresh store in t.TempDir(), on a test clock.
// Cleanup stops it and closes its store.
func newTestEngine(t testing.TB) (*Engine, *testClock) {
	t.Helper()
	clock := newTestClock()
	return openTestEngine(t, t.TempDir(), Options{Now: clock.Now}), clock
}

// testEngineClosers holds closeTestEngine's function of every open test engine.
var testEngineClosers sync.Map // *Engine -> func()

// openTestEngine opens an engine (not started) over the store in dir, with testEncoder unless
// opts has an Encoder. Opening the directory of an engine closed with closeTestEngine is a
// restart. Cleanup closes the engine if the test did not.
func openTestEngine(t testing.TB, dir string, opts Options) *Engine {
	t.Helper()
	if opts.Encoder == nil {
		opts.Encoder = testEncoder{}
	}
	db, err := storage.Open(storage.Options{Path: dir})
	if err != nil {
		t.Fatalf("cannot open storage: %s", err)
	}
	e, err := Open(db, opts)
	if err != nil {
		_ = db.Close()
		t.Fatalf("cannot open engine: %s", err)
	}
	closeFn := sync.OnceFunc(func() {
		e.Stop()
		if err := db.Close(); err != nil {
			t.Errorf("cannot close storage: %s", err)
		}
		testEngineClosers.Delete(e)
	})
	testEngineClosers.Store(e, closeFn)
	t.Cleanup(closeFn)
	return e
}

// closeTestEngine stops e (background work ends, running campaigns stop between chunks) and closes
// its store, as a shutdown does.
func closeTestEngine(e *Engine) {
	if f, ok := testEngineClosers.Load(e); ok {
		f.(func())()
	}
}

// mustStart starts e's background work.
func mustStart(t testing.TB, e *Engine) {
	t.Helper()
	if err := e.Start(); err != nil {
		t.Fatalf("cannot start the engine: %s", err)
	}
}

// checkFor waits for fn to return nil (eventually.Check).
func checkFor(t testing.TB, timeout, every time.Duration, fn func() error) {
	t.Helper()
	eventually.Check(t, timeout, every, fn)
}

func strPtr(s string) *string { return &s }
func boolPtr(b bool) *bool    { return &b }
func intPtr(n int) *int       { return &n }

// mustUpsertUsers stores users with ids (and nothing else).
func mustUpsertUsers(t testing.TB, e *Engine, ids ...string) {
	t.Helper()
	us := make([]storage.User, len(ids))
	for i, id := range ids {
		us[i] = storage.User{ID: id}
	}
	if err := e.UpsertUsers(us); err != nil {
		t.Fatalf("cannot upsert users: %s", err)
	}
}

func mustCreateSegment(t *testing.T, e *Engine, p SegmentParams) {
	t.Helper()
	if _, err := e.CreateSegment(&p); err != nil {
		t.Fatalf("cannot create segment: %s", err)
	}
}

// mustDecodeJSON decodes body, a request body in the API's JSON, into v.
func mustDecodeJSON(t testing.TB, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("cannot decode %s: %s", body, err)
	}
}

// campaignInput decodes a POST /campaigns body as wire does (the engine cannot import wire): a
// null or absent key leaves its field nil; a raw JSON field keeps "null".
func campaignInput(t testing.TB, body string) *CampaignInput {
	t.Helper()
	obj := func(raw []byte) func(key string, dst any) {
		var m map[string]json.RawMessage
		mustDecodeJSON(t, string(raw), &m)
		return func(key string, dst any) {
			if v, ok := m[key]; ok {
				mustDecodeJSON(t, string(v), dst)
			}
		}
	}
	in := &CampaignInput{}
	set := obj([]byte(body))
	for key, dst := range map[string]any{
		"id": &in.ID, "name": &in.Name, "description": &in.Description, "sender_id": &in.SenderID,
		"sender_mode": &in.SenderMode, "sender_visibility": &in.SenderVisibility, "segment_ids": &in.SegmentIDs,
		"user_ids": &in.UserIDs, "create_channels": &in.CreateChannels, "show_channels": &in.ShowChannels,
		"skip_push": &in.SkipPush, "skip_webhook": &in.SkipWebhook, "max_messages_per_second": &in.MaxMessagesPerSecond,
	} {
		set(key, dst)
	}
	var mt, ct json.RawMessage
	set("message_template", &mt)
	if len(mt) > 0 && string(mt) != "null" {
		m, set := &MessageTemplateInput{}, obj(mt)
		set("text", &m.Text)
		set("attachments", &m.Attachments)
		set("custom", &m.Custom)
		set("poll_id", &m.PollID)
		set("searchable", &m.Searchable)
		in.MessageTemplate = m
	}
	set("channel_template", &ct)
	if len(ct) > 0 && string(ct) != "null" {
		c, set := &ChannelTemplateInput{}, obj(ct)
		set("type", &c.Type)
		set("id", &c.ID)
		set("team", &c.Team)
		set("members", &c.Members)
		set("custom", &c.Custom)
		var mts []json.RawMessage
		set("members_template", &mts)
		if mts != nil {
			list := []MemberTemplateInput{}
			for _, raw := range mts {
				var mti MemberTemplateInput
				set := obj(raw)
				set("user_id", &mti.UserID)
				set("channel_role", &mti.ChannelRole)
				set("custom", &mti.Custom)
				list = append(list, mti)
			}
			c.MembersTemplate = &list
		}
		in.ChannelTemplate = c
	}
	return in
}

// startOptions decodes a POST /campaigns/{id}/start body ({"scheduled_for"?, "stop_at"?}, RFC
// 3339 times).
func startOptions(t testing.TB, body string) *StartOptions {
	t.Helper()
	var b struct {
		ScheduledFor string `json:"scheduled_for"`
		StopAt       string `json:"stop_at"`
	}
	mustDecodeJSON(t, body, &b)
	opts := &StartOptions{}
	for _, f := range []struct {
		v   string
		dst *int64
	}{{b.ScheduledFor, &opts.ScheduledFor}, {b.StopAt, &opts.StopAt}} {
		if f.v == "" {
			continue
		}
		tm, err := time.Parse(time.RFC3339Nano, f.v)
		if err != nil {
			t.Fatalf("cannot parse the time %q of %s: %s", f.v, body, err)
		}
		*f.dst = tm.UnixNano()
	}
	return opts
}

func mustCreateCampaign(t testing.TB, e *Engine, body string) *Campaign {
	t.Helper()
	c, err := e.CreateCampaign(campaignInput(t, body))
	if err != nil {
		t.Fatalf("cannot create campaign %s: %s", body, err)
	}
	return c
}

// mustStartCampaign starts campaign id with a POST /campaigns/{id}/start body.
func mustStartCampaign(t testing.TB, e *Engine, id, body string) *Campaign {
	t.Helper()
	c, err := e.StartCampaign(id, startOptions(t, body))
	if err != nil {
		t.Fatalf("cannot start campaign %q with %s: %s", id, body, err)
	}
	return c
}

// waitCampaign waits until campaign id satisfies cond and returns it.
func waitCampaign(t testing.TB, e *Engine, id string, cond func(c *Campaign) error) *Campaign {
	t.Helper()
	var c *Campaign
	checkFor(t, 60*time.Second, time.Millisecond, func() error {
		var err error
		if c, err = e.GetCampaign(id); err != nil {
			return err
		}
		return cond(c)
	})
	return c
}

// waitStatus waits until campaign id has the given status.
func waitStatus(t testing.TB, e *Engine, id, status string) *Campaign {
	t.Helper()
	return waitCampaign(t, e, id, func(c *Campaign) error {
		if c.Status != status {
			return fmt.Errorf("campaign %q is %s (%d of %d done); want %s", id, c.Status, c.Run.Done, c.Run.Total, status)
		}
		return nil
	})
}

// wantInputError checks that err is a code-4 error naming field.
func wantInputError(t testing.TB, err error, field string) {
	t.Helper()
	ae, ok := AsError(err)
	if !ok || ae.Code != CodeInput {
		t.Fatalf("unexpected error; got %v; want a code-4 error naming %q", err, field)
	}
	if _, ok := ae.Fields[field]; !ok {
		t.Fatalf("unexpected fields of %q; got %v; want %q", ae.Msg, ae.Fields, field)
	}
}

// wantCode checks that err is an *Error with code.
func wantCode(t testing.TB, err error, code int) {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("unexpected error; got %v; want code %d", err, code)
	}
}

// testEncoder is the engine tests' Encoder (the engine cannot import wire, which imports it): JSON
// objects with a record's fields under their wire names and custom fields at the top level, all
// that templates read and what the tests look at. Stream's exact shapes are tested in package
// wire and, end to end, in httpd.
type testEncoder struct{}

var _ Encoder = testEncoder{}

func (testEncoder) AppendUser(dst []byte, u *storage.User) []byte {
	m := map[string]any{}
	if len(u.Custom) > 0 {
		if err := json.Unmarshal(u.Custom, &m); err != nil {
			panic(fmt.Sprintf("BUG: custom data of user %q is not JSON: %s", u.ID, err))
		}
	}
	m["id"], m["role"], m["teams"], m["banned"] = u.ID, u.Role, u.Teams, u.Banned
	if u.Name != "" {
		m["name"] = u.Name
	}
	if u.Image != "" {
		m["image"] = u.Image
	}
	if u.Language != "" {
		m["language"] = u.Language
	}
	return appendTestJSON(dst, m)
}

func (testEncoder) AppendGoneUser(dst []byte, id string) []byte {
	return appendTestJSON(dst, map[string]any{"id": id})
}

func (testEncoder) AppendChannel(dst []byte, ch *storage.Channel, creator []byte) []byte {
	return appendTestJSON(dst, testChannel(ch, creator))
}

func testChannel(ch *storage.Channel, creator []byte) map[string]any {
	m := map[string]any{}
	if len(ch.Custom) > 0 {
		if err := json.Unmarshal(ch.Custom, &m); err != nil {
			panic(fmt.Sprintf("BUG: custom data of channel %s:%s is not JSON: %s", ch.Type, ch.ID, err))
		}
	}
	m["id"], m["type"], m["cid"], m["member_count"], m["message_count"] = ch.ID, ch.Type, ch.Type+":"+ch.ID, ch.MemberCount, ch.MessageCount
	if creator != nil {
		m["created_by"] = json.RawMessage(creator)
	}
	return m
}

func testMembers(members []EventMember) []map[string]any {
	out := []map[string]any{}
	for _, m := range members {
		out = append(out, map[string]any{"user_id": m.UserID, "channel_role": m.Member.ChannelRole, "user": json.RawMessage(m.User)})
	}
	return out
}

func (testEncoder) AppendChannelCreated(dst []byte, ev *ChannelCreated) []byte {
	return appendTestJSON(dst, map[string]any{"type": "channel.created", "channel": testChannel(ev.Channel, ev.Creator),
		"user": json.RawMessage(ev.Creator), "members": testMembers(ev.Members), "created_at": ev.At})
}

func (testEncoder) AppendMessageNew(dst []byte, ev *MessageNew) []byte {
	m := ev.Message
	custom := json.RawMessage(m.Custom)
	if len(custom) == 0 {
		custom = json.RawMessage("{}")
	}
	mentioned := []json.RawMessage{}
	for _, u := range ev.Mentioned {
		mentioned = append(mentioned, u)
	}
	return appendTestJSON(dst, map[string]any{"type": "message.new", "channel": testChannel(ev.Channel, nil),
		"message": map[string]any{"id": m.ID, "text": m.Text, "user": json.RawMessage(ev.Author), "mentioned_users": mentioned, "custom": custom},
		"members": testMembers(ev.Members)})
}

func (testEncoder) AppendCampaignEvent(dst []byte, typ string, at time.Time, c *Campaign) []byte {
	return appendTestJSON(dst, map[string]any{"type": typ, "created_at": at,
		"campaign": map[string]any{"id": c.ID, "status": c.Status, "progress": c.Progress(), "messages_sent": c.Run.MessagesSent}})
}

func (testEncoder) AppendChannelEvent(dst []byte, ev *ChannelEvent) []byte {
	m := map[string]any{"type": ev.Type, "cid": ev.Channel.Type + ":" + ev.Channel.ID, "created_at": ev.At}
	if ev.WithChannel {
		m["channel"] = testChannel(ev.Channel, ev.Creator)
	}
	if ev.User != nil {
		m["user"] = json.RawMessage(ev.User)
	}
	if ev.Member != nil {
		m["member"] = testMembers([]EventMember{*ev.Member})[0]
	}
	if ev.Message != nil {
		m["message"] = map[string]any{"id": ev.Message.ID, "text": ev.Message.Text, "type": ev.Message.Type}
	}
	if ev.LastReadMessageID != "" {
		m["last_read_message_id"] = ev.LastReadMessageID
	}
	if ev.Type == "message.deleted" {
		m["hard_delete"] = ev.HardDelete
	}
	if ev.Type == "channel.hidden" {
		m["clear_history"] = ev.ClearHistory
	}
	return appendTestJSON(dst, m)
}

func appendTestJSON(dst []byte, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("BUG: cannot encode %v: %s", v, err))
	}
	return append(dst, b...)
}

// testLineDecoder is the engine tests' UserLineDecoder: a JSON object with a string "id"; every
// other key is a custom field (keys sorted). wire.UserDecoder is tested in package wire.
type testLineDecoder struct{}

func newTestLineDecoder() UserLineDecoder { return testLineDecoder{} }

func (testLineDecoder) Reset() {}

func (testLineDecoder) DecodeUserLine(line []byte, u *storage.User) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return InputError("", "the line is not a JSON object: %s", err)
	}
	*u = storage.User{}
	if err := json.Unmarshal(m["id"], &u.ID); err != nil || u.ID == "" {
		return InputError("id", "the user has no string \"id\"")
	}
	delete(m, "id")
	if len(m) > 0 {
		u.Custom = appendTestJSON(nil, m)
	}
	return nil
}
