package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

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

// checkFor calls fn every `every` until it returns nil or timeout passes, then fails with its error.
func checkFor(t testing.TB, timeout, every time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %s", timeout, err)
		}
		time.Sleep(every)
	}
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

// testCampaignBody is the JSON of a POST /campaigns body, for tests that write campaigns as the
// API gets them (wire decodes the real ones; the engine cannot import it).
type testCampaignBody struct {
	ID                   *string   `json:"id"`
	Name                 *string   `json:"name"`
	Description          *string   `json:"description"`
	SenderID             *string   `json:"sender_id"`
	SenderMode           *string   `json:"sender_mode"`
	SenderVisibility     *string   `json:"sender_visibility"`
	SegmentIDs           *[]string `json:"segment_ids"`
	UserIDs              *[]string `json:"user_ids"`
	CreateChannels       *bool     `json:"create_channels"`
	ShowChannels         *bool     `json:"show_channels"`
	SkipPush             *bool     `json:"skip_push"`
	SkipWebhook          *bool     `json:"skip_webhook"`
	MaxMessagesPerSecond *int64    `json:"max_messages_per_second"`
	MessageTemplate      *struct {
		Text        *string         `json:"text"`
		Attachments json.RawMessage `json:"attachments"`
		Custom      json.RawMessage `json:"custom"`
		PollID      *string         `json:"poll_id"`
		Searchable  *bool           `json:"searchable"`
	} `json:"message_template"`
	ChannelTemplate *struct {
		Type            *string   `json:"type"`
		ID              *string   `json:"id"`
		Team            *string   `json:"team"`
		Members         *[]string `json:"members"`
		MembersTemplate *[]struct {
			UserID      string          `json:"user_id"`
			ChannelRole string          `json:"channel_role"`
			Custom      json.RawMessage `json:"custom"`
		} `json:"members_template"`
		Custom json.RawMessage `json:"custom"`
	} `json:"channel_template"`
}

// campaignInput decodes a POST /campaigns body.
func campaignInput(t testing.TB, body string) *CampaignInput {
	t.Helper()
	var b testCampaignBody
	mustDecodeJSON(t, body, &b)
	in := &CampaignInput{
		ID: b.ID, Name: b.Name, Description: b.Description, SenderID: b.SenderID, SenderMode: b.SenderMode,
		SenderVisibility: b.SenderVisibility, SegmentIDs: b.SegmentIDs, UserIDs: b.UserIDs,
		CreateChannels: b.CreateChannels, ShowChannels: b.ShowChannels, SkipPush: b.SkipPush,
		SkipWebhook: b.SkipWebhook, MaxMessagesPerSecond: b.MaxMessagesPerSecond,
	}
	if mt := b.MessageTemplate; mt != nil {
		in.MessageTemplate = &MessageTemplateInput{Text: mt.Text, Attachments: mt.Attachments, Custom: mt.Custom, PollID: mt.PollID, Searchable: mt.Searchable}
	}
	if ct := b.ChannelTemplate; ct != nil {
		in.ChannelTemplate = &ChannelTemplateInput{Type: ct.Type, ID: ct.ID, Team: ct.Team, Members: ct.Members, Custom: ct.Custom}
		if ct.MembersTemplate != nil {
			mts := []MemberTemplateInput{}
			for _, mt := range *ct.MembersTemplate {
				mts = append(mts, MemberTemplateInput{UserID: mt.UserID, ChannelRole: mt.ChannelRole, Custom: mt.Custom})
			}
			in.ChannelTemplate.MembersTemplate = &mts
		}
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

func (testEncoder) AppendCampaignEvent(dst []byte, typ string, at time.Time, c *Campaign) []byte {
	return appendTestJSON(dst, map[string]any{"type": typ, "created_at": at,
		"campaign": map[string]any{"id": c.ID, "status": c.Status, "progress": c.Progress(), "messages_sent": c.Run.MessagesSent}})
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
