package engine

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/campaignd/campaignd/storage"
)

// Throttle tests run on the real clock: they check bounds that slowness cannot break (never
// faster than the rate) and generous ones the other way; the measured pace is logged.

// campaignCreatedAts returns the created_at (unix nanos) of sender's campaign messages to ids,
// ascending.
func campaignCreatedAts(t testing.TB, e *Engine, ids []string) []int64 {
	t.Helper()
	var out []int64
	for _, id := range ids {
		cid := DefaultCampaignChannelType + ":" + DistinctChannelID([]string{"sender", id})
		ord, _, ok, err := e.ChannelByCID(cid)
		if err != nil || !ok {
			t.Fatalf("receiver %s has no channel (%v)", id, err)
		}
		msgs, err := e.ChannelMessages(ord, &MessagePage{Limit: MaxMessageLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			out = append(out, m.CreatedAt)
		}
	}
	slices.Sort(out)
	return out
}

// maxInWindow returns the most timestamps of ts (ascending) within any window of length w.
func maxInWindow(ts []int64, w time.Duration) int {
	best, j := 0, 0
	for i := range ts {
		for ts[i]-ts[j] >= int64(w) {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func TestThrottlePace(t *testing.T) {
	const (
		recipients = 1000
		rate       = 200
	)
	e := openTestEngine(t, t.TempDir(), Options{})
	ids := mustAudience(t, e, recipients)
	mustStart(t, e)
	mustCreateCampaign(t, e, `{"id":"c","sender_id":"sender","segment_ids":["all"],"message_template":{"text":"hi"},
		"channel_template":{"type":"messaging"},"create_channels":true,"max_messages_per_second":200}`)
	t0 := time.Now()
	mustStartCampaign(t, e, "c", `{}`)
	c := waitStatus(t, e, "c", storage.CampaignCompleted)
	elapsed := time.Since(t0)
	if c.Run.MessagesSent != recipients || c.MaxPerSecond != rate {
		t.Fatalf("unexpected campaign: %d sent, max_messages_per_second %d", c.Run.MessagesSent, c.MaxPerSecond)
	}
	ts := campaignCreatedAts(t, e, ids)
	span := time.Duration(ts[len(ts)-1] - ts[0])
	burst := int(rate * ThrottleInterval.Seconds())
	// Never faster than the rate: the token bucket admits at most burst + rate × t in t.
	if minSpan := time.Duration(float64(recipients-burst) / rate * 0.9 * float64(time.Second)); span < minSpan {
		t.Fatalf("%d messages were sent within %s; at %d/s they take at least %s", recipients, span, rate, minSpan)
	}
	if most := maxInWindow(ts, time.Second); most > rate*11/10+burst {
		t.Fatalf("%d messages within one second; at %d/s at most %d (the rate + 10%% + one chunk of %d)", most, rate, rate*11/10+burst, burst)
	}
	// Smooth: no second of silence (a whole chunk at once, then nothing).
	for i := 1; i < len(ts); i++ {
		if gap := time.Duration(ts[i] - ts[i-1]); gap > time.Second {
			t.Fatalf("a gap of %s between two messages at %d/s", gap, rate)
		}
	}
	// Generous the other way: a loaded machine slows it, but not by 3x.
	if elapsed > 15*time.Second {
		t.Fatalf("the throttled campaign took %s; at %d/s it should take about %s", elapsed, rate, time.Duration(recipients/rate)*time.Second)
	}
	t.Logf("%d recipients at max_messages_per_second=%d: %s from start to completed, first to last message %s: %.1f messages/s (%.1f%% of the rate); busiest second %d",
		recipients, rate, elapsed.Round(time.Millisecond), span.Round(time.Millisecond), float64(recipients-1)/span.Seconds(),
		100*float64(recipients-1)/span.Seconds()/rate, maxInWindow(ts, time.Second))
}

func TestThrottledCampaignsSideBySide(t *testing.T) {
	// Two throttled campaigns (4 s each) do not slow an unthrottled one started after them.
	e := openTestEngine(t, t.TempDir(), Options{})
	mustAudience(t, e, 1000)
	mustStart(t, e)
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("few"), Type: strPtr("user")})
	few := make([]string, 200)
	for i := range few {
		few[i] = fmt.Sprintf("r%05d", i)
	}
	if err := e.AddSegmentTargets("few", few); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"slow1", "slow2"} {
		mustCreateCampaign(t, e, `{"id":"`+id+`","sender_id":"sender","segment_ids":["few"],"message_template":{"text":"`+id+`"},
			"channel_template":{"type":"messaging"},"create_channels":true,"max_messages_per_second":50}`)
		mustStartCampaign(t, e, id, `{}`)
	}
	mustCreateCampaign(t, e, `{"id":"fast","sender_id":"sender","segment_ids":["all"],"message_template":{"text":"fast"},
		"channel_template":{"type":"messaging"},"create_channels":true}`)
	t0 := time.Now()
	mustStartCampaign(t, e, "fast", `{}`)
	waitStatus(t, e, "fast", storage.CampaignCompleted)
	took := time.Since(t0)
	for _, id := range []string{"slow1", "slow2"} {
		c, err := e.GetCampaign(id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != storage.CampaignInProgress || c.Run.MessagesSent >= 200 {
			t.Fatalf("throttled campaign %s is %s with %d sent when the unthrottled one completed (after %s)", id, c.Status, c.Run.MessagesSent, took)
		}
	}
	for _, id := range []string{"slow1", "slow2"} {
		if c := waitStatus(t, e, id, storage.CampaignCompleted); c.Run.MessagesSent != 200 {
			t.Fatalf("campaign %s sent %d; want 200", id, c.Run.MessagesSent)
		}
	}
	t.Logf("the unthrottled campaign of 1000 took %s beside two campaigns at 50/s", took.Round(time.Millisecond))
}

func TestThrottleSurvivesRestart(t *testing.T) {
	const rate = 100
	dir := t.TempDir()
	e := openTestEngine(t, dir, Options{})
	ids := mustAudience(t, e, 400)
	mustStart(t, e)
	mustCreateCampaign(t, e, `{"id":"c","sender_id":"sender","segment_ids":["all"],"message_template":{"text":"hi"},
		"channel_template":{"type":"messaging"},"create_channels":true,"max_messages_per_second":100}`)
	mustStartCampaign(t, e, "c", `{}`)
	waitCampaign(t, e, "c", func(c *Campaign) error {
		if c.Run.MessagesSent < 100 {
			return fmt.Errorf("%d sent", c.Run.MessagesSent)
		}
		return nil
	})
	closeTestEngine(e)
	e = openTestEngine(t, dir, Options{})
	mid, err := e.GetCampaign("c")
	if err != nil {
		t.Fatal(err)
	}
	if mid.MaxPerSecond != rate || mid.Status != storage.CampaignInProgress || mid.Run.MessagesSent >= 400 {
		t.Fatalf("unexpected campaign after the restart: %s, %d sent, max_messages_per_second %d", mid.Status, mid.Run.MessagesSent, mid.MaxPerSecond)
	}
	restarted := time.Now().UnixNano()
	mustStart(t, e)
	waitStatus(t, e, "c", storage.CampaignCompleted)
	var after []int64
	for _, at := range campaignCreatedAts(t, e, ids) {
		if at >= truncMicros(restarted) {
			after = append(after, at)
		}
	}
	left := 400 - int(mid.Run.MessagesSent)
	if len(after) != left {
		t.Fatalf("%d messages after the restart; want %d", len(after), left)
	}
	span := time.Duration(after[len(after)-1] - after[0])
	if minSpan := time.Duration(float64(left-rate/10) / rate * 0.9 * float64(time.Second)); span < minSpan {
		t.Fatalf("the resumed run sent %d messages within %s; at %d/s they take at least %s", left, span, rate, minSpan)
	}
}
