package httpd

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/time/rate"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/wire"
)

// Rate limits as Stream has them: counted per API key and endpoint (campaignd serves one app, so
// per endpoint) over one-minute windows; every response of a limited endpoint carries
// X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (Unix seconds); past the limit
// the request gets a 429 with code 9 and is not served.
//
// An endpoint's limiter admits a request when both hold:
//   - the window: fewer than limit requests were admitted in the current UTC minute (a fixed
//     window: X-RateLimit-Reset is its end, and the quota is whole again then);
//   - the burst bucket (golang.org/x/time/rate): a token bucket of limit tokens refilled at
//     limit/30 per second. A whole minute's quota may go in one burst, but once spent, requests
//     are admitted at most limit/30 per second, so the end of one window and the start of the
//     next cannot together pass twice the limit within seconds.

// DefaultRateLimits returns the default requests per minute of every endpoint (by its operation
// name, as routes.go and the SDK's getRateLimits spell it). Stream's published defaults where
// Stream has the endpoint; for campaignd's own, limits high enough that campaignbench and
// ordinary tooling never meet them.
func DefaultRateLimits() map[string]int {
	return map[string]int{
		// Stream's published defaults (per minute, server side).
		"QueryChannels":      10000,
		"GetOrCreateChannel": 10000,
		"SendMessage":        1000,
		"QueryUsers":         1000,
		"UpdateUsers":        300,
		"UpdateUsersPartial": 300,
		"DeleteUser":         60,
		"GetRateLimits":      1000,
		"MarkRead":           10000,
		"MarkChannelsRead":   10000,
		// campaignd's defaults. One import call takes any number of users; one addtargets call
		// 10,000 targets; campaign GETs are what dashboards poll.
		"ImportUsers":          60,
		"CreateSegment":        1000,
		"QuerySegments":        1000,
		"GetSegment":           10000,
		"UpdateSegment":        1000,
		"DeleteSegment":        300,
		"AddSegmentTargets":    1000,
		"DeleteSegmentTargets": 1000,
		"SegmentTargetExists":  10000,
		"QuerySegmentTargets":  10000,
		"CreateCampaign":       1000,
		"QueryCampaigns":       10000,
		"GetCampaign":          10000,
		"UpdateCampaign":       1000,
		"DeleteCampaign":       300,
		"StartCampaign":        1000,
		"StopCampaign":         1000,
		"GetCampaignUsage":     1000,
		"UnreadCounts":         1000,
		"ListDeadLetters":      1000,
		"ReplayDeadLetters":    60,
		"CreateSnapshot":       60,
		"ListSnapshots":        1000,
		"DeleteSnapshot":       60,
	}
}

// ParseRateLimits parses the -rateLimits flag: empty for the defaults, "off" for no limits
// (nil, true), or comma-separated Endpoint=N pairs overriding the defaults (N requests per
// minute; 0 leaves that endpoint unlimited). Endpoint names are checked by New.
func ParseRateLimits(s string) (limits map[string]int, off bool, err error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return nil, true, nil
	}
	limits = DefaultRateLimits()
	if s == "" {
		return limits, false, nil
	}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		name, v, ok := strings.Cut(p, "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if !ok || err != nil || n < 0 {
			return nil, false, fmt.Errorf("invalid -rateLimits entry %q: want Endpoint=N with N requests per minute (0 = unlimited), e.g. SendMessage=1000", p)
		}
		limits[strings.TrimSpace(name)] = n
	}
	return limits, false, nil
}

// rateLimiter holds one endpointLimiter per limited endpoint. It is read-only after New.
type rateLimiter struct {
	byName map[string]*endpointLimiter
	now    func() time.Time
}

// newRateLimiter builds the limiters of limits (endpoint → requests per minute, 0 = unlimited);
// known are the endpoint names the router serves.
func newRateLimiter(limits map[string]int, known []string, now func() time.Time) (*rateLimiter, error) {
	rl := &rateLimiter{byName: make(map[string]*endpointLimiter), now: now}
	for name, n := range limits {
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("httpd: rate limit for unknown endpoint %q; the endpoints are %s", name, strings.Join(known, ", "))
		}
		if n < 0 {
			return nil, fmt.Errorf("httpd: rate limit of %s is negative (%d)", name, n)
		}
		if n == 0 {
			continue
		}
		rl.byName[name] = newEndpointLimiter(name, n)
	}
	return rl, nil
}

// endpointLimiter limits one endpoint: a fixed one-minute window and a burst bucket (see above).
type endpointLimiter struct {
	name  string
	limit int
	// limited counts the requests refused (campaignd_http_rate_limited_total{endpoint}).
	limited *metrics.Counter

	mu     sync.Mutex
	window int64 // the current window: Unix minutes
	count  int   // requests admitted in it
	bucket *rate.Limiter
}

func newEndpointLimiter(name string, limit int) *endpointLimiter {
	return &endpointLimiter{
		name:    name,
		limit:   limit,
		limited: metrics.GetOrCreateCounter(`campaignd_http_rate_limited_total{endpoint="` + name + `"}`),
		bucket:  rate.NewLimiter(rate.Limit(float64(limit)/30), limit),
	}
}

// rateState is an endpoint's quota as one request saw it.
type rateState struct {
	limit     int
	remaining int
	reset     int64 // Unix seconds: the window's end, or when a refused request may come again
	// ok: the request was admitted; else retry is the earliest time another one is.
	ok    bool
	retry time.Time
}

// take admits one request at now or refuses it; a refused request consumes nothing.
func (l *endpointLimiter) take(now time.Time) rateState {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stateLocked(now)
	if l.count >= l.limit {
		st.retry = time.Unix(st.reset, 0)
		return st
	}
	if !l.bucket.AllowN(now, 1) {
		need := 1 - l.bucket.TokensAt(now)
		st.retry = now.Add(time.Duration(need / float64(l.bucket.Limit()) * float64(time.Second)))
		st.remaining = 0
		st.reset = int64(math.Ceil(float64(st.retry.UnixNano()) / 1e9))
		return st
	}
	l.count++
	st = l.stateLocked(now)
	st.ok = true
	return st
}

// peek reports the quota at now without taking any of it.
func (l *endpointLimiter) peek(now time.Time) rateState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stateLocked(now)
}

func (l *endpointLimiter) stateLocked(now time.Time) rateState {
	w := now.Unix() / 60
	if w != l.window {
		l.window, l.count = w, 0
	}
	remaining := l.limit - l.count
	if t := int(l.bucket.TokensAt(now)); t < remaining {
		remaining = max(t, 0)
	}
	return rateState{limit: l.limit, remaining: remaining, reset: (w + 1) * 60}
}

// setRateHeaders writes the X-RateLimit-* headers of st into c's response.
func (c *call) setRateHeaders(st rateState) {
	h := &c.ctx.Response.Header
	var b [20]byte
	h.SetBytesV("X-RateLimit-Limit", strconv.AppendInt(b[:0], int64(st.limit), 10))
	h.SetBytesV("X-RateLimit-Remaining", strconv.AppendInt(b[:0], int64(st.remaining), 10))
	h.SetBytesV("X-RateLimit-Reset", strconv.AppendInt(b[:0], st.reset, 10))
}

// admit applies the limit of c's endpoint; it answers the 429 and returns false when the request
// is over it.
func (c *call) admit() bool {
	rl := c.s.limits
	if rl == nil {
		return true
	}
	l := rl.byName[c.r.op]
	if l == nil {
		return true
	}
	now := rl.now()
	st := l.take(now)
	c.setRateHeaders(st)
	if st.ok {
		return true
	}
	l.limited.Inc()
	wait := max(st.retry.Sub(now), time.Second).Round(time.Second)
	c.ctx.Response.Header.Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
	c.fail(&engine.Error{Code: engine.CodeRateLimit, Msg: fmt.Sprintf(
		"Too many requests: the rate limit of %s is %d requests per minute; it resets at %s (in %s): check the X-RateLimit-* response headers and slow down",
		l.name, l.limit, st.retry.UTC().Format(time.RFC3339), wait)}, 429)
	return false
}

// getRateLimits serves GET /rate_limits (the SDK's getRateLimits): Stream's shape,
// {server_side: {Endpoint: {limit, remaining, reset}}}, for the endpoints named in endpoints
// (comma-separated; all when absent). campaignd serves only server-side clients: web, android and
// ios, when asked for, are empty. Endpoints without a limit are left out.
func (s *Server) getRateLimits(c *call) error {
	want := map[string]bool{}
	for _, p := range [...]string{"server_side", "web", "android", "ios"} {
		if v := c.Query(p); len(v) > 0 {
			b, err := strconv.ParseBool(string(v))
			if err != nil {
				return engine.InputError(p, "%s is %q; use true or false", p, v)
			}
			want[p] = b
		}
	}
	anyPlatform := want["server_side"] || want["web"] || want["android"] || want["ios"]
	var names []string
	if v := c.Query("endpoints"); len(v) > 0 {
		for _, n := range strings.Split(string(v), ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	} else if s.limits != nil {
		for n := range s.limits.byName {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var platforms []string
	if !anyPlatform || want["server_side"] {
		platforms = append(platforms, "server_side")
	}
	for _, p := range [...]string{"web", "android", "ios"} {
		if want[p] {
			platforms = append(platforms, p)
		}
	}
	var limits []wire.RateLimit
	if s.limits != nil {
		now := s.limits.now()
		for _, name := range names {
			if l := s.limits.byName[name]; l != nil {
				st := l.peek(now)
				limits = append(limits, wire.RateLimit{Name: name, Limit: st.limit, Remaining: st.remaining, Reset: st.reset})
			}
		}
	}
	return c.reply(200, s.enc.AppendRateLimits(nil, platforms, limits))
}
