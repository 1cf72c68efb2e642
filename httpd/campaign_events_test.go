package httpd

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/campaignd/campaignd/engine/outbox"
)

// TestCampaignEvents checks the campaign.* and fan-out events a webhook receives.
func TestCampaignEvents(t *testing.T) {
	var (
		mu     sync.Mutex
		events = map[string][]map[string]any{}
		ids    = map[string]bool{}
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("the webhook got an event that is not a JSON object: %s", body)
		}
		mu.Lock()
		if id := r.Header.Get("X-Webhook-Id"); !ids[id] {
			ids[id] = true
			typ, _ := ev["type"].(string)
			events[typ] = append(events[typ], ev)
		}
		mu.Unlock()
	}))
	defer hook.Close()
	ts := mustStartTestServerWithOutbox(t, outbox.Options{WebhookURL: hook.URL, Poll: 10 * time.Millisecond})
	ts.mustUsers("admin", "u1", "u2")
	ts.mustOK("POST", "/campaigns", `{"id":"c","sender_id":"admin","user_ids":["u1","u2"],"message_template":{"text":"hi"},
		"channel_template":{"type":"messaging"},"create_channels":true}`)
	ts.mustOK("POST", "/campaigns/c/start", `{}`)
	ts.waitCampaignStatus("c", "completed")
	ts.mustOK("POST", "/campaigns", `{"id":"later","sender_id":"admin","user_ids":["u1"],"message_template":{"text":"hi"}}`)
	ts.mustOK("POST", "/campaigns/later/start", `{"scheduled_for":"2030-01-01T00:00:00Z"}`)
	ts.mustOK("POST", "/campaigns/later/stop", nil)

	want := map[string]int{"campaign.started": 1, "channel.created": 2, "message.new": 2, "campaign.completed": 1, "campaign.stopped": 1}
	checkFor(t, 30*time.Second, 10*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		for typ, n := range want {
			if len(events[typ]) != n {
				return fmt.Errorf("the webhook got %d %s events; want %d", len(events[typ]), typ, n)
			}
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	campaignOf := func(typ string) (map[string]any, map[string]any) {
		t.Helper()
		c, ok := events[typ][0]["campaign"].(map[string]any)
		if !ok {
			t.Fatalf("%s carries no campaign: %v", typ, events[typ][0])
		}
		stats, _ := c["stats"].(map[string]any)
		return c, stats
	}
	if c, stats := campaignOf("campaign.completed"); c["id"] != "c" || c["status"] != "completed" || stats["progress"] != 1.0 ||
		stats["stats_messages_sent"] != 2.0 || stats["stats_channels_created"] != 2.0 {
		t.Fatalf("unexpected campaign.completed campaign %v", c)
	}
	if c, _ := campaignOf("campaign.started"); c["id"] != "c" || c["status"] != "in_progress" {
		t.Fatalf("unexpected campaign.started campaign %v", c)
	}
	if c, _ := campaignOf("campaign.stopped"); c["id"] != "later" || c["status"] != "stopped" {
		t.Fatalf("unexpected campaign.stopped campaign %v", c)
	}
	for _, ev := range events["message.new"] {
		m, _ := ev["message"].(map[string]any)
		if m["text"] != "hi" || m["campaign_id"] != "c" {
			t.Fatalf("unexpected message.new %v", ev)
		}
	}
}
