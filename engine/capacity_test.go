package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/campaignd/campaignd/storage"
)

// Monthly capacity tests: a campaign stops exactly at the capacity (between chunks, its chunk cut
// to what is left), concurrent campaigns never pass it together, months are counted apart, and
// the count is read back from the store after a restart.

func wantUsage(t testing.TB, e *Engine, month string, sent, left uint64) {
	t.Helper()
	u, err := e.CampaignUsage()
	if err != nil {
		t.Fatalf("cannot read the usage: %s", err)
	}
	if u.Month != month || u.Sent != sent || u.Left != left {
		t.Fatalf("unexpected usage %+v; want month %s, sent %d, left %d", u, month, sent, left)
	}
}

func TestMonthlyCapacityStopsCampaign(t *testing.T) {
	dir, clock := t.TempDir(), newTestClock()
	opts := Options{Now: clock.Now, MonthlyCapacity: 500}
	e := openTestEngine(t, dir, opts)
	ids := mustAudience(t, e, 1000)
	mustStart(t, e)
	mustCreateCampaign(t, e, fanoutCampaign)
	mustStartCampaign(t, e, "c", `{}`)
	c := waitStatus(t, e, "c", storage.CampaignStopped)
	if c.StopReason != storage.StopMonthlyCapacity || c.Run.MessagesSent != 500 || c.Run.Done != 500 || c.Run.Cursor == 0 {
		t.Fatalf("unexpected stop: reason %q, run %+v", c.StopReason, c.Run)
	}
	wantSentPrefix(t, e, ids, 500)
	wantUsage(t, e, "2026-01", 500, 0)
	// (The reply shows stop_reason: wire.TestAppendCampaign.)

	// The month is used up: starting another campaign is a code-4 error saying so.
	mustCreateCampaign(t, e, `{"id":"d","sender_id":"sender","user_ids":["r00001"],"message_template":{"text":"x"}}`)
	_, err := e.StartCampaign("d", &StartOptions{})
	wantInputError(t, err, "monthly_capacity")
	if msg := err.Error(); !strings.Contains(msg, "0 left") || !strings.Contains(msg, "2026-02-01T00:00:00Z") {
		t.Fatalf("the refusal does not say what is left and when it resets: %s", msg)
	}

	// The count is in the store: a restart reads it back.
	closeTestEngine(e)
	e = openTestEngine(t, dir, opts)
	wantUsage(t, e, "2026-01", 500, 0)
	got, err := storage.ReadMonthlySent(e.DB(), 202601, "c")
	if err != nil || got != 500 {
		t.Fatalf("unexpected stored count of c; got %d (%v); want 500", got, err)
	}

	// A new month has the whole capacity again.
	clock.Set(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	wantUsage(t, e, "2026-02", 0, 500)
	mustStart(t, e)
	mustStartCampaign(t, e, "d", `{}`)
	waitStatus(t, e, "d", storage.CampaignCompleted)
	wantUsage(t, e, "2026-02", 1, 499)
}

func TestMonthlyCapacityConcurrentCampaigns(t *testing.T) {
	// Three campaigns of 2 chunks each against a capacity of 1.5 chunks: together they send
	// exactly the capacity, however their chunks interleave.
	capacity := uint64(FanoutChunkSize + FanoutChunkSize/2)
	e := openTestEngine(t, t.TempDir(), Options{Now: newTestClock().Now, MonthlyCapacity: capacity})
	mustAudience(t, e, 2*FanoutChunkSize)
	mustStart(t, e)
	ids := []string{"a", "b", "c"}
	for _, id := range ids {
		mustCreateCampaign(t, e, `{"id":"`+id+`","sender_id":"sender","segment_ids":["all"],"message_template":{"text":"hi"},
			"channel_template":{"type":"messaging"},"create_channels":true}`)
	}
	for _, id := range ids {
		if _, err := e.StartCampaign(id, &StartOptions{}); err != nil {
			t.Fatalf("cannot start %s: %s", id, err)
		}
	}
	var total uint64
	for _, id := range ids {
		c := waitStatus(t, e, id, storage.CampaignStopped)
		if c.StopReason != storage.StopMonthlyCapacity {
			t.Fatalf("campaign %s stopped with reason %q", id, c.StopReason)
		}
		stored, err := storage.ReadMonthlySent(e.DB(), 202601, id)
		if err != nil || stored != c.Run.MessagesSent {
			t.Fatalf("campaign %s: stored count %d (%v) differs from its stats %d", id, stored, err, c.Run.MessagesSent)
		}
		total += c.Run.MessagesSent
	}
	if total != capacity {
		t.Fatalf("the campaigns sent %d messages together; want exactly the capacity %d", total, capacity)
	}
	if sum, err := storage.SumMonthlySent(e.DB(), 202601); err != nil || sum != capacity {
		t.Fatalf("unexpected stored month total %d (%v); want %d", sum, err, capacity)
	}
	wantUsage(t, e, "2026-01", capacity, 0)
}

func TestMonthlyCapacityUnlimitedCounts(t *testing.T) {
	// Without a capacity nothing stops, and the month's messages are counted all the same.
	e, _ := newTestEngine(t)
	mustAudience(t, e, 300)
	mustStart(t, e)
	mustCreateCampaign(t, e, fanoutCampaign)
	mustStartCampaign(t, e, "c", `{}`)
	waitStatus(t, e, "c", storage.CampaignCompleted)
	wantUsage(t, e, "2026-01", 300, 0)
	if u, _ := e.CampaignUsage(); u.Capacity != 0 || !u.ResetsAt.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("unexpected usage %+v", u)
	}
}

func TestStopReasons(t *testing.T) {
	e, clock := newTestEngine(t)
	mustAudience(t, e, 10)
	mustStart(t, e)
	f := func(id, start string, stop func(), want string) {
		t.Helper()
		mustCreateCampaign(t, e, `{"id":"`+id+`","sender_id":"sender","segment_ids":["all"],"message_template":{"text":"hi"}}`)
		mustStartCampaign(t, e, id, start)
		stop()
		c := waitStatus(t, e, id, storage.CampaignStopped)
		if c.StopReason != want {
			t.Fatalf("campaign %s: unexpected stop_reason %q; want %q", id, c.StopReason, want)
		}
	}
	later := clock.Now().Add(time.Hour).Format(time.RFC3339)
	f("manual", `{"scheduled_for":"`+later+`"}`, func() {
		if _, err := e.StopCampaign("manual"); err != nil {
			t.Fatal(err)
		}
	}, storage.StopManual)
	f("at", `{"scheduled_for":"`+later+`","stop_at":"`+clock.Now().Add(2*time.Hour).Format(time.RFC3339)+`"}`, func() {
		clock.Add(3 * time.Hour)
		e.wakeScheduler()
	}, storage.StopAt)
}
