package wire

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
)

func TestAppendCampaign(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	c := &engine.Campaign{
		Campaign: storage.Campaign{
			ID: "c", Name: "n", SenderID: "admin", Status: storage.CampaignStopped, StopReason: storage.StopMonthlyCapacity,
			SegmentIDs: []string{"s1", "gone"}, MaxPerSecond: 7, CreatedAt: at, UpdatedAt: at,
			Message: storage.MessageTemplate{Text: "hi {{ receiver.name }}", Custom: []byte(`{"promo":true}`)},
		},
		Run:      storage.CampaignRun{Total: 4, Done: 1, MessagesSent: 1, StartedAt: at},
		Sender:   &storage.User{ID: "admin", Name: "Ann", CreatedAt: at, UpdatedAt: at},
		Segments: []*engine.Segment{{Segment: storage.Segment{ID: "s1", Type: storage.SegmentTypeUser}, Locked: true}},
	}
	b := Legacy{}.AppendCampaignEvent(nil, "campaign.stopped", time.Unix(0, at), c)
	var ev struct {
		Type      string         `json:"type"`
		CreatedAt string         `json:"created_at"`
		Campaign  map[string]any `json:"campaign"`
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("invalid event JSON %s: %s", b, err)
	}
	got := ev.Campaign
	if ev.Type != "campaign.stopped" || ev.CreatedAt != "2026-01-02T03:04:05.000000Z" || got["id"] != "c" ||
		got["stop_reason"] != "monthly_capacity" || got["max_messages_per_second"] != 7.0 || got["sender_mode"] != nil {
		t.Fatalf("unexpected event %s", b)
	}
	if s := got["sender"].(map[string]any); s["id"] != "admin" || s["name"] != "Ann" {
		t.Fatalf("unexpected sender in %s", b)
	}
	if segs := got["segments"].([]any); len(segs) != 1 || segs[0].(map[string]any)["locked"] != true {
		t.Fatalf("unexpected segments in %s", b)
	}
	if users := got["users"].([]any); len(users) != 0 {
		t.Fatalf("an event lists users: %s", b)
	}
	stats := got["stats"].(map[string]any)
	if stats["progress"] != 0.25 || stats["stats_messages_sent"] != 1.0 || stats["stats_started_at"] != "2026-01-02T03:04:05.000000Z" {
		t.Fatalf("unexpected stats in %s", b)
	}
	if mt := got["message_template"].(map[string]any); mt["attachments"] == nil || mt["custom"].(map[string]any)["promo"] != true {
		t.Fatalf("unexpected message_template in %s", b)
	}
	// Without a sender (deleted) there is no "sender"; stop_reason only on a stopped campaign.
	c.Sender, c.Status = nil, storage.CampaignCompleted
	b = Legacy{}.AppendCampaign(nil, c, []storage.User{{ID: "u1"}})
	if bytes.Contains(b, []byte(`"sender":`)) || bytes.Contains(b, []byte(`"stop_reason"`)) || !bytes.Contains(b, []byte(`"progress":1,`)) ||
		!bytes.Contains(b, []byte(`"users":[{"id":"u1",`)) || !json.Valid(b) {
		t.Fatalf("unexpected campaign %s", b)
	}
}

func TestDecodeStart(t *testing.T) {
	f := func(body string, schedFor, stopAt time.Time) {
		t.Helper()
		opts, err := Legacy{}.DecodeStart([]byte(body))
		if err != nil {
			t.Fatalf("cannot decode %s: %s", body, err)
		}
		ns := func(tm time.Time) int64 {
			if tm.IsZero() {
				return 0
			}
			return tm.UnixNano()
		}
		if opts.ScheduledFor != ns(schedFor) || opts.StopAt != ns(stopAt) {
			t.Fatalf("unexpected times of %s; got %+v", body, opts)
		}
	}
	f(``, time.Time{}, time.Time{})
	f(`{}`, time.Time{}, time.Time{})
	f(`{"scheduled_for":"","stop_at":null}`, time.Time{}, time.Time{})
	f(`{"scheduled_for":"2030-01-02T03:04:05.1234567+01:00"}`, time.Date(2030, 1, 2, 2, 4, 5, 123456000, time.UTC), time.Time{})
	f(`{"stop_at":"2030-01-02T03:04:05Z"}`, time.Time{}, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	bad := func(body, field string) {
		t.Helper()
		_, err := Legacy{}.DecodeStart([]byte(body))
		wantInputError(t, err, field)
	}
	bad(`{"scheduled_for":"tomorrow"}`, "scheduled_for")
	bad(`{"stop_at":"2030-01-01"}`, "stop_at")
	bad(`{"stop_at":"1960-01-01T00:00:00Z"}`, "stop_at")
	bad(`{"stop_at":5}`, "stop_at")
}

func TestDecodeCampaign(t *testing.T) {
	in, err := Legacy{}.DecodeCampaign([]byte(`{"id":null,"sender_id":"admin","user_ids":["u1"],
		"message_template":{"text":"hi","attachments":[ {"type" : "image"} ],"custom":null},
		"channel_template":{"type":"messaging","custom":{ "a" : [1, 2] },"members_template":[{"user_id":"m","custom":{}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	mt, ct := in.MessageTemplate, in.ChannelTemplate
	if in.ID != nil || *in.SenderID != "admin" || len(*in.UserIDs) != 1 || *mt.Text != "hi" ||
		string(mt.Attachments) != `[{"type":"image"}]` || string(mt.Custom) != `null` || mt.PollID != nil {
		t.Fatalf("unexpected input %+v %+v", in, mt)
	}
	if *ct.Type != "messaging" || string(ct.Custom) != `{"a":[1,2]}` || len(*ct.MembersTemplate) != 1 ||
		string((*ct.MembersTemplate)[0].Custom) != `{}` {
		t.Fatalf("unexpected channel template %+v", ct)
	}
	_, err = Legacy{}.DecodeCampaign([]byte(`{"sender_id":1}`))
	wantInputError(t, err, "sender_id")
	_, err = Legacy{}.DecodeCampaign(nil)
	wantInputError(t, err, "")
	_, _, err = Legacy{}.DecodeCampaignQuery([]byte(`{"user_limit":1001}`))
	wantInputError(t, err, "user_limit")
	q, n, err := Legacy{}.DecodeCampaignQuery([]byte(`{"Filter":{"status":"draft"},"limit":3,"user_limit":2}`))
	if err != nil || string(q.Filter) != `{"status":"draft"}` || *q.Limit != 3 || n != 2 {
		t.Fatalf("unexpected campaign query %+v %d %v", q, n, err)
	}
}

// wantInputError checks that err is a code-4 error naming field ("" names none).
func wantInputError(t testing.TB, err error, field string) {
	t.Helper()
	ae, ok := engine.AsError(err)
	if !ok || ae.Code != engine.CodeInput || ae.Msg == "" {
		t.Fatalf("unexpected error; got %v; want a code-4 error naming %q", err, field)
	}
	if _, ok := ae.Fields[field]; field != "" && !ok {
		t.Fatalf("unexpected fields of %q; got %v; want %q", ae.Msg, ae.Fields, field)
	}
}

// checkDecodeError fails unless err is nil or a code-4 *engine.Error with a message.
func checkDecodeError(t *testing.T, body []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if ae, ok := engine.AsError(err); !ok || ae.Code != engine.CodeInput || strings.TrimSpace(ae.Msg) == "" {
		t.Fatalf("unexpected error for %q: %T %v", body, err, err)
	}
}

// checkCompact fails unless raw is absent or compact, valid JSON.
func checkCompact(t *testing.T, field string, raw []byte) {
	t.Helper()
	if raw == nil {
		return
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil || !bytes.Equal(buf.Bytes(), raw) {
		t.Fatalf("%s is not compact JSON: %q", field, raw)
	}
}

func FuzzDecodeCampaign(f *testing.F) {
	for _, s := range []string{
		`{"id":null,"sender_id":"a","user_ids":["u"],"message_template":{"text":"hi","custom":{"k":[1]}}}`,
		`{"channel_template":{"type":"t","members_template":[{"user_id":"m","custom":{ }}],"custom":null}}`,
		`{"message_template":{"attachments":[{"a":1}]},"max_messages_per_second":5}`, `[]`, `{"name":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := Legacy{}.DecodeCampaign(body)
		checkDecodeError(t, body, err)
		if err != nil {
			return
		}
		if mt := in.MessageTemplate; mt != nil {
			checkCompact(t, "attachments", mt.Attachments)
			checkCompact(t, "custom", mt.Custom)
		}
		if ct := in.ChannelTemplate; ct != nil {
			checkCompact(t, "channel_template.custom", ct.Custom)
			if ct.MembersTemplate != nil {
				for _, mt := range *ct.MembersTemplate {
					checkCompact(t, "members_template.custom", mt.Custom)
				}
			}
		}
	})
}

func FuzzDecodeStart(f *testing.F) {
	for _, s := range []string{`{}`, `{"scheduled_for":"2030-01-01T00:00:00Z","stop_at":"2030-01-02T00:00:00.5+02:00"}`, `{"stop_at":"x"}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		opts, err := Legacy{}.DecodeStart(body)
		checkDecodeError(t, body, err)
		if err == nil && (opts.ScheduledFor < 0 || opts.StopAt < 0 || opts.ScheduledFor%1000 != 0 || opts.StopAt%1000 != 0) {
			t.Fatalf("times outside the range or finer than microseconds: %+v", opts)
		}
	})
}

func FuzzDecodeCampaignQuery(f *testing.F) {
	for _, s := range []string{`{"filter":{"status":"draft"},"sort":[{"field":"name","direction":1}],"limit":5,"user_limit":3}`, `{"user_limit":-1}`, `{"next":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, n, err := Legacy{}.DecodeCampaignQuery(body)
		checkDecodeError(t, body, err)
		if err == nil && (n < 0 || n > engine.MaxCampaignUsersPerPage) {
			t.Fatalf("user_limit %d outside 0..%d", n, engine.MaxCampaignUsersPerPage)
		}
	})
}
