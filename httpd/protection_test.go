package httpd

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
)

// The monthly capacity and the throttle over HTTP: the extension fields, GET /campaignd/usage,
// the refused start, and the capacity's stop exact across kill -9.

func TestCampaignThrottleField(t *testing.T) {
	ts := mustStartTestServer(t)
	if status, m := ts.do("POST", "/users", map[string]any{"users": map[string]any{"s": map[string]any{"id": "s"}, "r": map[string]any{"id": "r"}}}); status != 201 {
		t.Fatalf("cannot upsert users: %d %v", status, m)
	}
	base := func(mps any) map[string]any {
		return map[string]any{"id": "c", "sender_id": "s", "user_ids": []string{"r"}, "message_template": map[string]any{"text": "hi"}, "max_messages_per_second": mps}
	}
	for _, bad := range []any{-1, 2000000, "fast", 1.5} {
		status, m := ts.do("POST", "/campaigns", base(bad))
		wantError(t, status, m, 400, engine.CodeInput)
		if !strings.Contains(m["message"].(string), "max_messages_per_second") {
			t.Fatalf("the error for max_messages_per_second=%v does not name the field: %v", bad, m)
		}
	}
	status, m := ts.do("POST", "/campaigns", base(250))
	if status != 201 || m["campaign"].(map[string]any)["max_messages_per_second"] != 250.0 {
		t.Fatalf("create: %d %v", status, m)
	}
	status, m = ts.do("PUT", "/campaigns/c", map[string]any{"max_messages_per_second": 40})
	if status != 201 || m["campaign"].(map[string]any)["max_messages_per_second"] != 40.0 {
		t.Fatalf("update: %d %v", status, m)
	}
	status, m = ts.do("PUT", "/campaigns/c", map[string]any{"max_messages_per_second": 0})
	if _, ok := m["campaign"].(map[string]any)["max_messages_per_second"]; status != 201 || ok {
		t.Fatalf("update to 0 (unthrottled): %d %v", status, m)
	}
}

func TestCampaignUsageAndRefusedStart(t *testing.T) {
	ts := mustStartTestServerWith(t, t.TempDir(), engine.Options{MonthlyCapacity: 3}, Options{})
	users := map[string]any{"s": map[string]any{"id": "s"}}
	var ids []string
	for i := range 5 {
		id := fmt.Sprintf("r%d", i)
		users[id] = map[string]any{"id": id}
		ids = append(ids, id)
	}
	if status, m := ts.do("POST", "/users", map[string]any{"users": users}); status != 201 {
		t.Fatalf("cannot upsert users: %d %v", status, m)
	}
	status, m := ts.do("GET", "/campaignd/usage", nil)
	now := time.Now().UTC()
	if status != 200 || m["month"] != now.Format("2006-01") || m["sent"] != 0.0 || m["capacity"] != 3.0 || m["remaining"] != 3.0 ||
		m["resets_at"] != time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01-02T15:04:05.000000Z") {
		t.Fatalf("unexpected usage: %d %v", status, m)
	}
	for _, id := range []string{"a", "b"} {
		if status, m := ts.do("POST", "/campaigns", map[string]any{"id": id, "sender_id": "s", "user_ids": ids, "message_template": map[string]any{"text": "hi"},
			"create_channels": true, "channel_template": map[string]any{"type": "messaging"}}); status != 201 {
			t.Fatalf("create %s: %d %v", id, status, m)
		}
	}
	if status, m := ts.do("POST", "/campaigns/a/start", map[string]any{}); status != 201 {
		t.Fatalf("start: %d %v", status, m)
	}
	checkFor(t, 30*time.Second, 10*time.Millisecond, func() error {
		_, m := ts.do("GET", "/campaigns/a", nil)
		c := m["campaign"].(map[string]any)
		if c["status"] != "stopped" || c["stop_reason"] != "monthly_capacity" {
			return fmt.Errorf("campaign is %v (stop_reason %v)", c["status"], c["stop_reason"])
		}
		if sent := c["stats"].(map[string]any)["stats_messages_sent"]; sent != 3.0 {
			return fmt.Errorf("stopped with %v sent; want 3", sent)
		}
		return nil
	})
	status, m = ts.do("GET", "/campaignd/usage", nil)
	if status != 200 || m["sent"] != 3.0 || m["remaining"] != 0.0 {
		t.Fatalf("unexpected usage once used up: %d %v", status, m)
	}
	status, m = ts.do("POST", "/campaigns/b/start", map[string]any{})
	wantError(t, status, m, 400, engine.CodeInput)
	if msg := m["message"].(string); !strings.Contains(msg, "0 left") || !strings.Contains(msg, "resets at") || m["exception_fields"].(map[string]any)["monthly_capacity"] == nil {
		t.Fatalf("the refused start does not say what is left and when it resets: %v", m)
	}
	metrics := ts.mustGetMetrics()
	if metrics["campaignd_campaign_month_sent"] != 3 || metrics["campaignd_campaign_month_capacity"] != 3 || metrics["campaignd_campaign_month_remaining"] != 0 {
		t.Fatalf("unexpected month metrics: sent %v capacity %v remaining %v", metrics["campaignd_campaign_month_sent"],
			metrics["campaignd_campaign_month_capacity"], metrics["campaignd_campaign_month_remaining"])
	}
}

// TestMonthlyCapacityExactAcrossKill9: a throttled campaign of 1,000 against a capacity of 500
// is killed with SIGKILL mid-run; after the restart it goes on at its pace and stops at exactly
// 500 messages, in its stats, in the usage and in the store.
func TestMonthlyCapacityExactAcrossKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds campaignd and kills it")
	}
	const users = 1000
	dir := t.TempDir()
	bin := filepath.Join(dir, "campaignd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/campaignd/campaignd/cmd/campaignd").CombinedOutput(); err != nil {
		t.Fatalf("cannot build campaignd: %s\n%s", err, out)
	}
	p := &crashProc{t: t, bin: bin, data: filepath.Join(dir, "data"), token: signToken(t, jwt.MapClaims{"server": true}),
		flags: []string{"-campaign.monthlyCapacity=500"}}
	p.start()
	defer func() {
		if p.cmd.ProcessState == nil {
			p.kill9()
		}
	}()
	var nd strings.Builder
	nd.WriteString("{\"id\":\"sender\"}\n")
	for i := 1; i <= users; i++ {
		fmt.Fprintf(&nd, "{\"id\":\"u%04d\"}\n", i)
	}
	if status, m := p.do("POST", "/users/import", strings.NewReader(nd.String()), "application/x-ndjson"); status != 201 {
		t.Fatalf("cannot import: %d %v", status, m)
	}
	if status, m := p.doJSON("POST", "/segments", map[string]any{"id": "everyone", "type": "user", "all_users": true}); status != 201 {
		t.Fatalf("cannot create segment: %d %v", status, m)
	}
	if status, m := p.doJSON("POST", "/campaigns", map[string]any{
		"id": "capped", "sender_id": "sender", "segment_ids": []string{"everyone"}, "message_template": map[string]any{"text": "hi"},
		"create_channels": true, "channel_template": map[string]any{"type": "messaging"}, "max_messages_per_second": 150,
	}); status != 201 {
		t.Fatalf("cannot create campaign: %d %v", status, m)
	}
	if status, m := p.doJSON("POST", "/campaigns/capped/start", map[string]any{}); status != 201 {
		t.Fatalf("cannot start: %d %v", status, m)
	}
	campaign := func() map[string]any {
		t.Helper()
		status, m := p.do("GET", "/campaigns/capped?limit=0", nil, "")
		if status != 200 {
			t.Fatalf("cannot get campaign: %d %v", status, m)
		}
		return m["campaign"].(map[string]any)
	}
	sentOf := func(c map[string]any) float64 { return c["stats"].(map[string]any)["stats_messages_sent"].(float64) }
	checkFor(t, 60*time.Second, 5*time.Millisecond, func() error {
		if n := sentOf(campaign()); n < 150 {
			return fmt.Errorf("%v sent", n)
		}
		return nil
	})
	p.kill9()
	p.start()
	mid := campaign()
	if mid["status"] != "in_progress" || sentOf(mid) >= 500 || mid["max_messages_per_second"] != 150.0 {
		t.Fatalf("unexpected campaign after kill -9: %v, %v sent, max_messages_per_second %v", mid["status"], sentOf(mid), mid["max_messages_per_second"])
	}
	var c map[string]any
	checkFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		if c = campaign(); c["status"] != "stopped" {
			return fmt.Errorf("campaign is %v with %v sent", c["status"], sentOf(c))
		}
		return nil
	})
	if sentOf(c) != 500 || c["stop_reason"] != "monthly_capacity" {
		t.Fatalf("unexpected stop: %v sent, stop_reason %v", sentOf(c), c["stop_reason"])
	}
	if status, m := p.do("GET", "/campaignd/usage", nil, ""); status != 200 || m["sent"] != 500.0 || m["remaining"] != 0.0 {
		t.Fatalf("unexpected usage: %d %v", status, m)
	}
	p.stop()

	db, err := storage.Open(storage.Options{Path: filepath.Join(p.data, "pebble")}) // the data directory's store
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	total := 0
	it := db.NewIter([]byte{storage.PrefixMessage}, []byte{storage.PrefixMessage + 1})
	for ok := it.First(); ok; ok = it.Next() {
		total++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if total != 500 {
		t.Fatalf("unexpected number of messages in the store; got %d; want exactly the capacity, 500", total)
	}
	if sum, err := storage.SumMonthlySent(db, storage.Month(time.Now())); err != nil || sum != 500 {
		t.Fatalf("unexpected stored month count %d (%v)", sum, err)
	}
	t.Logf("killed at %v sent; stopped at exactly 500 after the restart", sentOf(mid))
}
