package httpd

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/engine/outbox"
)

// startMetricsServer starts a server with a webhook sink and a campaign running or done, so that
// /metrics shows every family: HTTP, campaigns, outbox, storage, process.
func startMetricsServer(t *testing.T) (*testServer, string) {
	t.Helper()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(hook.Close)
	ts := mustStartTestServerWith(t, t.TempDir(), engine.Options{Outbox: outbox.Options{WebhookURL: hook.URL, Poll: 10 * time.Millisecond}},
		Options{Version: "v1.2.3-test"})
	ids := []string{"admin"}
	for i := range 20 {
		ids = append(ids, fmt.Sprintf("m%d", i))
	}
	ts.mustCreateUsers(ids...)
	id := ts.mustCreateCampaign(map[string]any{"sender_id": "admin", "user_ids": ids[1:],
		"message_template": map[string]any{"text": "hi"}, "create_channels": true, "channel_template": map[string]any{"type": "messaging"}})
	if st, m := ts.do("POST", "/campaigns/"+id+"/start", "{}"); st != 201 {
		t.Fatalf("cannot start: %d %v", st, m)
	}
	ts.waitCampaignStatus(id, "completed")
	ts.do("GET", "/campaigns/"+id, nil)
	ts.do("GET", "/no/such/route", nil)
	return ts, id
}

func (ts *testServer) metricsText() string {
	ts.t.Helper()
	st, raw := ts.doRaw("", "GET", "/metrics", nil)
	if st != 200 {
		ts.t.Fatalf("GET /metrics: %d", st)
	}
	return string(raw)
}

// TestMetricsHaveHelp: every family /metrics serves has a # HELP text of its own and a # TYPE;
// promtool check metrics (Prometheus' own linter) finds no problem when it is installed.
func TestMetricsHaveHelp(t *testing.T) {
	ts, _ := startMetricsServer(t)
	text := ts.metricsText()
	var missing []string
	types := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if name, ok := strings.CutPrefix(line, "# HELP "); ok {
			if n, help, _ := strings.Cut(name, " "); help == "" || help == undocumented {
				missing = append(missing, n)
			}
		}
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			n, _, _ := strings.Cut(name, " ")
			types[n] = true
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("families without help text (add them to metricHelp):\n%s", strings.Join(missing, "\n"))
	}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`).FindString(line)
		base := regexp.MustCompile(`_(bucket|sum|count)$`).ReplaceAllString(name, "")
		if !types[name] && !types[base] {
			t.Fatalf("series %q has no # TYPE", line)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool is not installed (.ci/run installs Debian's prometheus package)")
		}
		t.Skipf("promtool is not installed (apt-get install prometheus); help and types were checked without it")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || strings.TrimSpace(out.String()) != "" {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
	t.Logf("promtool check metrics: no problems in %d lines", strings.Count(text, "\n"))
}

// TestMetricsSeries: requests are counted and timed by route pattern and status, the build info,
// the campaigns by status and the campaign counters are served.
func TestMetricsSeries(t *testing.T) {
	ts, id := startMetricsServer(t)
	ts.do("GET", "/campaigns/"+id, nil)
	m := ts.mustGetMetrics()
	f := func(name string, min float64) {
		t.Helper()
		v, ok := m[name]
		if !ok {
			t.Fatalf("/metrics lacks %s", name)
		}
		if v < min {
			t.Fatalf("unexpected %s; got %v; want at least %v", name, v, min)
		}
	}
	f(`campaignd_http_requests_total{route="POST /campaigns/{id}/start",status="201"}`, 1)
	f(`campaignd_http_requests_total{route="GET /campaigns/{id}",status="200"}`, 2)
	f(`campaignd_http_requests_total{route="unmatched",status="404"}`, 1)
	f(`campaignd_http_request_duration_seconds_bucket{route="POST /campaigns/{id}/start",status="201",le="+Inf"}`, 1)
	f(`campaignd_http_request_duration_seconds_count{route="GET /campaigns/{id}",status="200"}`, 2)
	f(`campaignd_http_request_duration_seconds_sum{route="GET /campaigns/{id}",status="200"}`, 1e-9)
	f(`campaignd_build_info{version="v1.2.3-test",goversion="`+runtime.Version()+`"}`, 1)
	f(`campaignd_campaigns{status="completed"}`, 1)
	if m[`campaignd_campaigns{status="completed"}`] != 1 || m[`campaignd_campaigns{status="in_progress"}`] != 0 {
		t.Fatalf("unexpected campaigns by status: %v completed, %v in_progress", m[`campaignd_campaigns{status="completed"}`], m[`campaignd_campaigns{status="in_progress"}`])
	}
	f(`campaignd_campaign_messages_sent_total`, 20)
	f(`campaignd_campaign_channels_created_total`, 20)
	f(`campaignd_campaign_chunks_committed_total`, 1)
	f(`campaignd_outbox_delivered_total{sink="webhook"}`, 1)
	if _, ok := m[`campaignd_campaign_progress_ratio{campaign="`+id+`"}`]; ok {
		t.Fatalf("a completed campaign still has its progress series")
	}
}
