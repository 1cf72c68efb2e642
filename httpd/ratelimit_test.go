package httpd

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/campaignd/campaignd/engine"
)

// limitedServer starts a server with -rateLimits=spec whose limiters read a clock the test moves.
func limitedServer(t *testing.T, spec string, start time.Time) (*testServer, *atomic.Int64) {
	t.Helper()
	limits, off, err := ParseRateLimits(spec)
	if err != nil {
		t.Fatalf("cannot parse %q: %s", spec, err)
	}
	ts := mustStartTestServerWith(t, t.TempDir(), engine.Options{}, Options{RateLimits: limits, RateLimitsOff: off})
	var clock atomic.Int64
	clock.Store(start.UnixNano())
	if ts.srv.limits != nil {
		ts.srv.limits.now = func() time.Time { return time.Unix(0, clock.Load()) }
	}
	return ts, &clock
}

// doHeaders sends a request with the server token and returns status, body and headers.
func (ts *testServer) doHeaders(method, path string, body string) (int, map[string]any, http.Header) {
	ts.t.Helper()
	var r *strings.Reader
	if body != "" {
		r = strings.NewReader(body)
	} else {
		r = strings.NewReader("")
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequest(method, ts.URL+path+sep+"api_key="+testKey, r)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Authorization", ts.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %s", method, path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}

func headerInt(t *testing.T, h http.Header, name string) int64 {
	t.Helper()
	v := h.Get(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("header %s is %q; want an integer", name, v)
	}
	return n
}

func TestRateLimitWindow(t *testing.T) {
	minute := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ts, clock := limitedServer(t, "GetCampaign=30", minute.Add(10*time.Second))
	reset := minute.Add(time.Minute).Unix()
	for i := 1; i <= 30; i++ {
		status, m, h := ts.doHeaders("GET", "/campaigns/nope", "")
		wantError(t, status, m, 404, engine.CodeNotFound) // served (and counted), whatever its outcome
		if got := headerInt(t, h, "X-RateLimit-Limit"); got != 30 {
			t.Fatalf("unexpected X-RateLimit-Limit; got %d; want 30", got)
		}
		if got := headerInt(t, h, "X-RateLimit-Remaining"); got != int64(30-i) {
			t.Fatalf("request %d: unexpected X-RateLimit-Remaining; got %d; want %d", i, got, 30-i)
		}
		if got := headerInt(t, h, "X-RateLimit-Reset"); got != reset {
			t.Fatalf("unexpected X-RateLimit-Reset; got %d; want %d (the window's end)", got, reset)
		}
	}
	status, m, h := ts.doHeaders("GET", "/campaigns/nope", "")
	wantError(t, status, m, 429, engine.CodeRateLimit)
	msg := m["message"].(string)
	for _, want := range []string{"GetCampaign", "30 requests per minute", "2026-03-01T12:01:00Z"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("429 message %q does not name %q", msg, want)
		}
	}
	if got := headerInt(t, h, "X-RateLimit-Remaining"); got != 0 {
		t.Fatalf("unexpected X-RateLimit-Remaining on the 429; got %d; want 0", got)
	}
	if got := headerInt(t, h, "X-RateLimit-Reset"); got != reset {
		t.Fatalf("unexpected X-RateLimit-Reset on the 429; got %d; want %d", got, reset)
	}
	if got := headerInt(t, h, "Retry-After"); got != 50 {
		t.Fatalf("unexpected Retry-After; got %d; want 50", got)
	}
	// Other endpoints have their own counters.
	if status, _, h := ts.doHeaders("GET", "/segments/nope", ""); status != 404 || h.Get("X-RateLimit-Limit") != "10000" {
		t.Fatalf("GetSegment: unexpected status %d or X-RateLimit-Limit %q", status, h.Get("X-RateLimit-Limit"))
	}
	// The next window has the whole quota again (the bucket refilled meanwhile).
	clock.Store(minute.Add(time.Minute + 5*time.Second).UnixNano())
	status, _, h = ts.doHeaders("GET", "/campaigns/nope", "")
	if status != 404 || headerInt(t, h, "X-RateLimit-Remaining") != 29 || headerInt(t, h, "X-RateLimit-Reset") != reset+60 {
		t.Fatalf("next window: unexpected status %d, headers %v", status, h)
	}
}

func TestRateLimitBurstAcrossWindows(t *testing.T) {
	// 30 requests at the end of one window leave the burst bucket empty: the next window's first
	// requests wait for it (30/30 = 1 token per second) instead of passing 60 within a second.
	minute := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ts, clock := limitedServer(t, "GetCampaign=30", minute.Add(59*time.Second+500*time.Millisecond))
	for range 30 {
		if status, _, _ := ts.doHeaders("GET", "/campaigns/nope", ""); status != 404 {
			t.Fatalf("unexpected status %d", status)
		}
	}
	clock.Store(minute.Add(60*time.Second + 200*time.Millisecond).UnixNano())
	status, m, h := ts.doHeaders("GET", "/campaigns/nope", "")
	wantError(t, status, m, 429, engine.CodeRateLimit)
	if got, want := headerInt(t, h, "X-RateLimit-Reset"), minute.Add(61*time.Second).Unix(); got != want {
		t.Fatalf("unexpected X-RateLimit-Reset of a burst refusal; got %d; want %d (the next token)", got, want)
	}
	clock.Store(minute.Add(60*time.Second + 600*time.Millisecond).UnixNano())
	if status, _, _ := ts.doHeaders("GET", "/campaigns/nope", ""); status != 404 {
		t.Fatalf("a request after the bucket refilled one token: unexpected status %d", status)
	}
	if status, m, _ := ts.doHeaders("GET", "/campaigns/nope", ""); status != 429 {
		t.Fatalf("a second request in the same second: unexpected status %d (%v)", status, m)
	}
}

func TestRateLimitRefusedRequestDoesNothing(t *testing.T) {
	ts, _ := limitedServer(t, "CreateSegment=2", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	for i, id := range []string{"s1", "s2", "s3"} {
		status, m, _ := ts.doHeaders("POST", "/segments", `{"id":"`+id+`","type":"user","name":"x"}`)
		if i < 2 && status != 201 {
			t.Fatalf("create %s: unexpected status %d: %v", id, status, m)
		}
		if i == 2 {
			wantError(t, status, m, 429, engine.CodeRateLimit)
		}
	}
	if status, m, _ := ts.doHeaders("GET", "/segments/s3", ""); status != 404 {
		t.Fatalf("the refused create stored segment s3: status %d: %v", status, m)
	}
}

func TestRateLimitsOff(t *testing.T) {
	ts, _ := limitedServer(t, "off", time.Now())
	for range 70 {
		status, _, h := ts.doHeaders("DELETE", "/users/nope", "") // DeleteUser defaults to 60/min
		if status == 429 {
			t.Fatalf("a request was limited with -rateLimits=off")
		}
		if v := h.Get("X-RateLimit-Limit"); v != "" {
			t.Fatalf("X-RateLimit-Limit %q sent with -rateLimits=off", v)
		}
	}
	status, m, _ := ts.doHeaders("GET", "/rate_limits", "")
	if status != 200 || len(m["server_side"].(map[string]any)) != 0 {
		t.Fatalf("GET /rate_limits with limits off: status %d, %v", status, m)
	}
}

func TestGetRateLimits(t *testing.T) {
	minute := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ts, _ := limitedServer(t, "GetCampaign=30,SendMessage=0", minute)
	ts.doHeaders("GET", "/campaigns/nope", "")

	status, m, _ := ts.doHeaders("GET", "/rate_limits?server_side=true&endpoints=GetCampaign,QueryChannels,SendMessage,Connect", "")
	if status != 200 {
		t.Fatalf("unexpected status %d: %v", status, m)
	}
	ss := m["server_side"].(map[string]any)
	if len(ss) != 2 {
		t.Fatalf("unexpected endpoints (SendMessage is unlimited, Connect not served); got %v", ss)
	}
	f := func(name string, limit, remaining float64) {
		t.Helper()
		q := ss[name].(map[string]any)
		if q["limit"] != limit || q["remaining"] != remaining || q["reset"] != float64(minute.Add(time.Minute).Unix()) {
			t.Fatalf("unexpected %s quota; got %v; want limit %v remaining %v", name, q, limit, remaining)
		}
	}
	f("GetCampaign", 30, 29)
	f("QueryChannels", 10000, 10000)

	// Every limited endpoint without a filter; other platforms are empty when asked for.
	_, m, _ = ts.doHeaders("GET", "/rate_limits", "")
	if ss := m["server_side"].(map[string]any); len(ss) != len(DefaultRateLimits())-1 {
		t.Fatalf("unexpected number of endpoints; got %d; want %d", len(ss), len(DefaultRateLimits())-1)
	}
	_, m, _ = ts.doHeaders("GET", "/rate_limits?web=true", "")
	if _, ok := m["server_side"]; ok || len(m["web"].(map[string]any)) != 0 {
		t.Fatalf("unexpected reply to web=true: %v", m)
	}
	status, m, _ = ts.doHeaders("GET", "/rate_limits?ios=maybe", "")
	wantError(t, status, m, 400, engine.CodeInput)
}

func TestParseRateLimits(t *testing.T) {
	f := func(spec string, wantOff bool, want map[string]int) {
		t.Helper()
		got, off, err := ParseRateLimits(spec)
		if err != nil {
			t.Fatalf("ParseRateLimits(%q): %s", spec, err)
		}
		if off != wantOff {
			t.Fatalf("ParseRateLimits(%q): unexpected off; got %v; want %v", spec, off, wantOff)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("ParseRateLimits(%q)[%s]: got %d; want %d", spec, k, got[k], v)
			}
		}
	}
	f("", false, map[string]int{"SendMessage": 1000, "UpdateUsers": 300, "DeleteUser": 60, "QueryChannels": 10000})
	f("off", true, nil)
	f("SendMessage=5, GetCampaign=30", false, map[string]int{"SendMessage": 5, "GetCampaign": 30, "QueryUsers": 1000})
	f("SendMessage=0", false, map[string]int{"SendMessage": 0})

	for _, bad := range []string{"SendMessage", "SendMessage=x", "SendMessage=-1"} {
		if _, _, err := ParseRateLimits(bad); err == nil {
			t.Fatalf("ParseRateLimits(%q): no error", bad)
		}
	}
	// Endpoint names are checked against the routes.
	limits, _, _ := ParseRateLimits("SendMesage=10")
	ts := mustStartTestServer(t)
	if _, err := New(ts.E, Options{APIKey: "k", APISecret: "s", RateLimits: limits}); err == nil || !strings.Contains(err.Error(), "SendMesage") {
		t.Fatalf("New with an unknown endpoint: unexpected error %v", err)
	}
}
