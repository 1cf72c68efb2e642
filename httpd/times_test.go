package httpd

import (
	"net/url"
	"strings"
	"testing"
)

// TestTimesOutsideRangeAreRefused: every request time (users' created_at and last_active, a
// campaign's scheduled_for and stop_at, filter operands on times) outside the range int64
// nanoseconds hold is a 400 code 4 naming the field and the range, never a time that wrapped
// around (3000 stored as 1830, a far-future schedule sent at once); the range's ends are accepted.
func TestTimesOutsideRangeAreRefused(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("admin", "u1")
	const rangeMsg = "between 1970-01-01T00:00:00Z and 2262-04-11T23:47:16Z"

	// wantRange checks the error; the message names field, exception_fields names it or the
	// request parameter holding it (some endpoints report a filter's errors under the filter).
	wantRange := func(status int, m map[string]any, field string, requestField ...string) {
		t.Helper()
		wantErrorMsg(t, status, m, 400, 4, rangeMsg)
		if msg := m["message"].(string); !strings.Contains(msg, field) {
			t.Fatalf("error message %q does not name %q", msg, field)
		}
		fields, _ := m["exception_fields"].(map[string]any)
		named := fields[field] != nil
		for _, f := range requestField {
			named = named || fields[f] != nil
		}
		if !named {
			t.Fatalf("exception_fields %v name neither %q nor %q", fields, field, requestField)
		}
	}

	// Users: upsert and partial update.
	for _, at := range []string{"3000-01-01T00:00:00Z", "2263-01-01T00:00:00Z", "1600-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2262-04-11T23:47:17Z"} {
		status, m := ts.do("POST", "/users", map[string]any{"users": map[string]any{"x": map[string]any{"id": "x", "created_at": at}}})
		wantRange(status, m, "created_at")
		status, m = ts.do("PATCH", "/users", map[string]any{"users": []any{map[string]any{"id": "u1", "set": map[string]any{"last_active": at}}}})
		wantRange(status, m, "last_active")
	}
	if status, m := ts.do("GET", "/users/x", nil); status == 200 {
		t.Fatalf("a refused user was stored: %v", m)
	}
	// The range's ends are stored exactly.
	for _, at := range []string{"2262-04-11T23:47:16Z", "1970-01-01T00:00:01Z"} {
		status, m := ts.do("POST", "/users", map[string]any{"users": map[string]any{"edge": map[string]any{"id": "edge", "created_at": at}}})
		if status != 201 {
			t.Fatalf("created_at %s refused: %d %v", at, status, m)
		}
		want := strings.TrimSuffix(at, "Z") + ".000000Z"
		if got := m["users"].(map[string]any)["edge"].(map[string]any)["created_at"]; got != want {
			t.Fatalf("unexpected created_at; got %v; want %s", got, want)
		}
		ts.do("DELETE", "/users/edge?hard_delete=true", nil)
	}

	// Filters on times.
	for _, at := range []string{"3000-01-01T00:00:00Z", "1600-01-01T00:00:00Z"} {
		payload := `{"filter_conditions":{"created_at":{"$gt":"` + at + `"}}}`
		status, m := ts.do("GET", "/users?payload="+url.QueryEscape(payload), nil)
		wantRange(status, m, "created_at", "filter_conditions")
		status, m = ts.do("POST", "/campaigns/query", `{"filter":{"created_at":{"$lt":"`+at+`"}}}`)
		wantRange(status, m, "created_at", "filter")
	}

	// Campaign schedules.
	body := map[string]any{"sender_id": "admin", "user_ids": []string{"u1"}, "message_template": map[string]any{"text": "hi"},
		"create_channels": true, "channel_template": map[string]any{"type": "messaging"}}
	id := ts.mustCreateCampaign(body)
	for _, at := range []string{"3000-01-01T00:00:00Z", "2263-01-01T00:00:00Z", "1600-01-01T00:00:00Z"} {
		status, m := ts.do("POST", "/campaigns/"+id+"/start", map[string]any{"scheduled_for": at})
		wantRange(status, m, "scheduled_for")
		// stop_at in 3000 was refused as "in the past"; it is the range error now.
		status, m = ts.do("POST", "/campaigns/"+id+"/start", map[string]any{"stop_at": at})
		wantRange(status, m, "stop_at")
	}
	if c := ts.getCampaign(id); c["status"] != "draft" {
		t.Fatalf("a refused start changed the campaign: %v", c)
	}
	status, m := ts.do("POST", "/campaigns/"+id+"/start", map[string]any{"scheduled_for": "2262-04-11T23:47:16Z"})
	if status != 201 {
		t.Fatalf("scheduled_for at the end of the range refused: %d %v", status, m)
	}
	if c := m["campaign"].(map[string]any); c["status"] != "scheduled" || c["scheduled_for"] != "2262-04-11T23:47:16.000000Z" {
		t.Fatalf("unexpected scheduled campaign %v", c)
	}
	if c := ts.getCampaign(id); c["status"] != "scheduled" {
		t.Fatalf("a campaign scheduled for 2262 did not stay scheduled: %v", c["status"])
	}
}
