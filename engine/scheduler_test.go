package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/campaignd/campaignd/storage"
)

// Scheduler tests: scheduled_for and stop_at against the engine's clock (Options.Now), while
// campaignd runs and across restarts.

// rfc3339 formats t as a start body's timestamp.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func TestStartTimesValidation(t *testing.T) {
	e, clock := newTestEngine(t)
	mustUpsertUsers(t, e, "admin", "u1")
	mustStart(t, e)
	c := mustCreateCampaign(t, e, `{"sender_id":"admin","user_ids":["u1"],"message_template":{"text":"hi"}}`)
	now := clock.Now()
	// (Times that are not RFC 3339 are refused by wire's decoder: wire.TestDecodeStart.)
	f := func(body, field string) {
		t.Helper()
		_, err := e.StartCampaign(c.ID, startOptions(t, body))
		wantInputError(t, err, field)
	}
	f(fmt.Sprintf(`{"stop_at":%q}`, rfc3339(now.Add(-time.Second))), "stop_at")
	f(fmt.Sprintf(`{"stop_at":%q}`, rfc3339(now)), "stop_at")
	f(fmt.Sprintf(`{"scheduled_for":%q,"stop_at":%q}`, rfc3339(now.Add(2*time.Hour)), rfc3339(now.Add(time.Hour))), "stop_at")
	if got, _ := e.GetCampaign(c.ID); got.Status != storage.CampaignDraft || got.ScheduledFor != 0 || got.StopAt != 0 {
		t.Fatalf("a refused start changed the campaign: %+v", got.Campaign)
	}

	// A future scheduled_for schedules (times kept in microseconds); a past one starts now.
	at := now.Add(time.Hour)
	got := mustStartCampaign(t, e, c.ID, fmt.Sprintf(`{"scheduled_for":%q,"stop_at":%q}`, rfc3339(at), rfc3339(at.Add(time.Hour))))
	if got.Status != storage.CampaignScheduled || got.ScheduledFor != at.Truncate(time.Microsecond).UnixNano() ||
		got.StopAt != at.Add(time.Hour).Truncate(time.Microsecond).UnixNano() {
		t.Fatalf("unexpected scheduled campaign %+v", got.Campaign)
	}
	// Starting a scheduled campaign again replaces its times.
	got = mustStartCampaign(t, e, c.ID, fmt.Sprintf(`{"scheduled_for":%q}`, rfc3339(now.Add(-time.Hour))))
	if got.Status != storage.CampaignInProgress || got.StopAt != 0 {
		t.Fatalf("unexpected campaign started with a past scheduled_for %+v", got.Campaign)
	}
	waitStatus(t, e, c.ID, storage.CampaignCompleted)
}

func TestSchedulerStartsAtScheduledFor(t *testing.T) {
	e, clock := newTestEngine(t)
	clock.Set(time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC))
	clock.Run()
	mustUpsertUsers(t, e, "admin", "u1")
	mustStart(t, e)
	c := mustCreateCampaign(t, e, `{"sender_id":"admin","user_ids":["u1"],"message_template":{"text":"hi"},
		"channel_template":{"type":"messaging"},"create_channels":true}`)
	at := clock.Now().Add(300 * time.Millisecond)
	if got := mustStartCampaign(t, e, c.ID, fmt.Sprintf(`{"scheduled_for":%q}`, rfc3339(at))); got.Status != storage.CampaignScheduled {
		t.Fatalf("unexpected status %s; want scheduled", got.Status)
	}
	done := waitStatus(t, e, c.ID, storage.CampaignCompleted)
	if done.Run.StartedAt < at.UnixNano()-1000 || done.Run.MessagesSent != 1 {
		t.Fatalf("unexpected run of the scheduled campaign %+v (scheduled for %s)", done.Run, at)
	}
}

func TestSchedulerAtBoot(t *testing.T) {
	dir, clock := t.TempDir(), newTestClock()
	t0 := clock.Now()
	e := openTestEngine(t, dir, Options{Now: clock.Now})
	mustUpsertUsers(t, e, "admin", "u1")
	mustStart(t, e)
	body := `{"id":%q,"sender_id":"admin","user_ids":["u1"],"message_template":{"text":"hi"},"channel_template":{"type":"messaging"},"create_channels":true}`
	for _, x := range []struct{ id, start string }{
		{"due", fmt.Sprintf(`{"scheduled_for":%q}`, rfc3339(t0.Add(time.Hour)))},
		{"expired", fmt.Sprintf(`{"scheduled_for":%q,"stop_at":%q}`, rfc3339(t0.Add(time.Hour)), rfc3339(t0.Add(2*time.Hour)))},
		{"later", fmt.Sprintf(`{"scheduled_for":%q,"stop_at":%q}`, rfc3339(t0.Add(10*time.Hour)), rfc3339(t0.Add(20*time.Hour)))},
	} {
		mustCreateCampaign(t, e, fmt.Sprintf(body, x.id))
		mustStartCampaign(t, e, x.id, x.start)
	}

	// restartAt restarts campaignd at time at: it is down while the times before at pass.
	restartAt := func(at time.Time) {
		closeTestEngine(e)
		clock.Set(at)
		e = openTestEngine(t, dir, Options{Now: clock.Now})
		mustStart(t, e)
	}
	restartAt(t0.Add(3 * time.Hour)) // past the first start time and a stop time
	if c := waitStatus(t, e, "due", storage.CampaignCompleted); c.Run.MessagesSent != 1 {
		t.Fatalf("unexpected run of the due campaign %+v", c.Run)
	}
	if c := waitStatus(t, e, "expired", storage.CampaignStopped); c.Run.MessagesSent != 0 || c.Run.Total != 0 {
		t.Fatalf("a campaign whose stop_at passed before it started sent: %+v", c.Run)
	}
	if c, _ := e.GetCampaign("later"); c.Status != storage.CampaignScheduled {
		t.Fatalf("unexpected status of the later campaign: %s", c.Status)
	}

	restartAt(t0.Add(11 * time.Hour))
	if c := waitStatus(t, e, "later", storage.CampaignCompleted); c.Run.MessagesSent != 1 {
		t.Fatalf("unexpected run of the later campaign %+v", c.Run)
	}
}

func TestFanoutStopsAtStopAt(t *testing.T) {
	dir, clock := t.TempDir(), newTestClock()
	e := openTestEngine(t, dir, Options{Now: clock.Now})
	ids := mustAudience(t, e, 3*FanoutChunkSize+1)
	mustStart(t, e)
	mustCreateCampaign(t, e, fanoutCampaign)
	mustStartCampaign(t, e, "c", fmt.Sprintf(`{"stop_at":%q}`, rfc3339(clock.Now().Add(time.Hour))))
	waitProgress(t, e, "c")
	clock.Add(2 * time.Hour) // stop_at passes while the campaign runs
	stopped := waitStatus(t, e, "c", storage.CampaignStopped)

	closeTestEngine(e)
	e = openTestEngine(t, dir, Options{Now: clock.Now})
	c, err := e.GetCampaign("c")
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != storage.CampaignStopped || c.Run != stopped.Run {
		t.Fatalf("a chunk committed after the campaign stopped at stop_at: %s %+v; when stopped %+v", c.Status, c.Run, stopped.Run)
	}
	wantMidRun(t, c.Run, len(ids))
	wantSentPrefix(t, e, ids, int(c.Run.Done))
}
