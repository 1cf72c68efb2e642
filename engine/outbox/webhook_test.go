package outbox_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/campaignd/campaignd/engine/outbox"
	"github.com/campaignd/campaignd/storage"
)

func webhookOpts(rc *receiver) outbox.Options {
	return outbox.Options{
		WebhookURL: rc.srv.URL, WebhookBackoff: 5 * time.Millisecond, WebhookMaxBackoff: 50 * time.Millisecond,
		WebhookTimeout: 2 * time.Second, BatchSize: 500,
	}
}

func TestWebhookDelivery(t *testing.T) {
	rc := startReceiver(t)
	te := mustStartEngine(t, t.TempDir(), webhookOpts(rc))
	te.emit("w", 0, 3000, 100, 3, 400)
	_, _, want := wantIDs("w", 0, 3000)
	rc.waitAll(3*time.Minute, want)
	checkFor(t, 30*time.Second, 10*time.Millisecond, func() error {
		if c, _ := te.E.OutboxCursor(outbox.SinkWebhook); c != te.E.OutboxHorizon()-1 {
			return fmt.Errorf("webhook cursor %d; want %d", c, te.E.OutboxHorizon()-1)
		}
		return nil
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for n := 0; n < 3000; n++ {
		ev := testEvent("w", n, 0)
		if ev.SkipWebhook && rc.ok[ev.ID] != 0 {
			t.Fatalf("skip_webhook event %s was posted", ev.ID)
		}
		if rc.attempts[ev.ID] > 1 {
			t.Fatalf("event %s needed %d attempts from a healthy receiver", ev.ID, rc.attempts[ev.ID])
		}
	}
}

// TestWebhookRetries: every event fails twice with 500, then succeeds: no dead letters.
func TestWebhookRetries(t *testing.T) {
	rc := startReceiver(t)
	rc.setAnswer(func(id string, attempt int) int {
		if attempt < 3 {
			return 500
		}
		return 200
	})
	before := metrics.GetOrCreateCounter(`campaignd_outbox_retries_total{sink="webhook"}`).Get()
	te := mustStartEngine(t, t.TempDir(), webhookOpts(rc))
	te.emit("r", 0, 500, 50, 2, 200)
	_, _, want := wantIDs("r", 0, 500)
	rc.waitAll(3*time.Minute, want)
	rc.mu.Lock()
	for _, id := range want {
		if rc.attempts[id] != 3 {
			t.Errorf("unexpected attempts for %s; got %d; want 3", id, rc.attempts[id])
		}
	}
	rc.mu.Unlock()
	if d := metrics.GetOrCreateCounter(`campaignd_outbox_retries_total{sink="webhook"}`).Get() - before; d < uint64(2*len(want)) {
		t.Errorf("unexpected retries counted; got %d; want >= %d", d, 2*len(want))
	}
	wantDeadLetters(t, te, 0)
}

// TestWebhookTimeoutRetried: a first attempt that exceeds the timeout is retried.
func TestWebhookTimeoutRetried(t *testing.T) {
	rc := startReceiver(t)
	rc.setAnswer(func(id string, attempt int) int {
		if attempt == 1 {
			time.Sleep(300 * time.Millisecond)
		}
		return 200
	})
	opts := webhookOpts(rc)
	opts.WebhookTimeout = 100 * time.Millisecond
	te := mustStartEngine(t, t.TempDir(), opts)
	te.emit("t", 0, 40, 10, 1, 100)
	_, _, want := wantIDs("t", 0, 40)
	rc.waitAll(3*time.Minute, want)
	rc.mu.Lock()
	for _, id := range want {
		if rc.attempts[id] != 2 {
			t.Errorf("unexpected attempts for %s; got %d; want 2", id, rc.attempts[id])
		}
	}
	rc.mu.Unlock()
	wantDeadLetters(t, te, 0)
}

// TestWebhookOutageHolds: the receiver answers 503 to everything for longer than the retry budget;
// nothing is dead-lettered and everything arrives once it is back.
func TestWebhookOutageHolds(t *testing.T) {
	rc := startReceiver(t)
	var down atomic.Bool
	down.Store(true)
	rc.setAnswer(func(id string, attempt int) int {
		if down.Load() {
			return 503
		}
		return 200
	})
	opts := webhookOpts(rc)
	opts.WebhookMaxAttempts = 2
	te := mustStartEngine(t, t.TempDir(), opts)
	te.emit("h", 0, 300, 30, 2, 200)
	checkFor(t, 30*time.Second, 10*time.Millisecond, func() error {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.requests < 300 {
			return fmt.Errorf("%d requests so far", rc.requests)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond) // many times the retry budget of 2 attempts
	wantDeadLetters(t, te, 0)
	down.Store(false)
	te.emit("h", 300, 400, 30, 2, 200)
	_, _, want := wantIDs("h", 0, 400)
	rc.waitAll(3*time.Minute, want)
	wantDeadLetters(t, te, 0)
}

func wantDeadLetters(t *testing.T, te *testEngine, n int) []outbox.DeadLetter {
	t.Helper()
	dls, err := te.E.DeadLetters(outbox.SinkWebhook, 0, 1000)
	if err != nil {
		t.Fatalf("cannot list dead letters: %s", err)
	}
	if len(dls) != n {
		t.Fatalf("unexpected dead letters; got %d; want %d", len(dls), n)
	}
	return dls
}

// TestWebhookDeadLetterReplay: 4xx answers dead-letter at once; replay delivers them.
func TestWebhookDeadLetterReplay(t *testing.T) {
	rc := startReceiver(t)
	reject := func(id string) bool {
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "d-"))
		return n%13 == 0
	}
	var rejecting atomic.Bool
	rejecting.Store(true)
	rc.setAnswer(func(id string, attempt int) int {
		if rejecting.Load() && reject(id) {
			return 400
		}
		return 200
	})
	before := metrics.GetOrCreateCounter(`campaignd_webhook_dead_letters_total`).Get()
	te := mustStartEngine(t, t.TempDir(), webhookOpts(rc))
	te.emit("d", 0, 1000, 100, 2, 200)
	var good, bad []string
	_, _, all := wantIDs("d", 0, 1000)
	for _, id := range all {
		if reject(id) {
			bad = append(bad, id)
		} else {
			good = append(good, id)
		}
	}
	rc.waitAll(3*time.Minute, good)
	checkFor(t, 30*time.Second, 10*time.Millisecond, func() error {
		if c, _ := te.E.OutboxCursor(outbox.SinkWebhook); c != te.E.OutboxHorizon()-1 {
			return fmt.Errorf("webhook cursor %d; want %d", c, te.E.OutboxHorizon()-1)
		}
		return nil
	})
	dls := wantDeadLetters(t, te, len(bad))
	isBad := make(map[string]bool)
	for _, id := range bad {
		isBad[id] = true
	}
	for i, d := range dls {
		if !isBad[d.Event.ID] || d.Attempts != 1 || d.LastError != "HTTP 400" || d.Sink != outbox.SinkWebhook {
			t.Fatalf("unexpected dead letter %d: %+v; want a rejected id, 1 attempt, HTTP 400", i, d)
		}
		if i > 0 && d.Seq <= dls[i-1].Seq {
			t.Fatalf("dead letters out of seq order: %d after %d", d.Seq, dls[i-1].Seq)
		}
		delete(isBad, d.Event.ID)
		n, _ := strconv.Atoi(strings.TrimPrefix(d.Event.ID, "d-"))
		if want := testEvent("d", n, 200).JSON; string(d.Event.JSON) != string(want) {
			t.Fatalf("dead letter %s holds %q; want %q", d.Event.ID, d.Event.JSON, want)
		}
	}
	if d := metrics.GetOrCreateCounter(`campaignd_webhook_dead_letters_total`).Get() - before; d != uint64(len(bad)) {
		t.Fatalf("unexpected dead letters counted; got %d; want %d", d, len(bad))
	}
	// Paging.
	page, err := te.E.DeadLetters(outbox.SinkWebhook, dls[2].Seq, 3)
	if err != nil || len(page) != 3 || page[0].Seq != dls[3].Seq {
		t.Fatalf("unexpected page after %d: %v, %v", dls[2].Seq, page, err)
	}

	// Replaying while the receiver still rejects keeps them, with attempts added.
	res, err := te.E.ReplayDeadLetters(context.Background(), outbox.SinkWebhook, []string{dls[0].Event.ID, dls[1].Event.ID})
	if err != nil || res != (outbox.ReplayResult{Replayed: 2, Failed: 2}) {
		t.Fatalf("unexpected replay result %+v, %v", res, err)
	}
	dls = wantDeadLetters(t, te, len(bad))
	if dls[0].Attempts != 2 || dls[2].Attempts != 1 {
		t.Fatalf("unexpected attempts after a failed replay: %d, %d; want 2, 1", dls[0].Attempts, dls[2].Attempts)
	}

	rejecting.Store(false)
	res, err = te.E.ReplayDeadLetters(context.Background(), outbox.SinkWebhook, []string{dls[0].Event.ID})
	if err != nil || res != (outbox.ReplayResult{Replayed: 1, Delivered: 1}) {
		t.Fatalf("unexpected replay result %+v, %v", res, err)
	}
	wantDeadLetters(t, te, len(bad)-1)
	res, err = te.E.ReplayDeadLetters(context.Background(), outbox.SinkWebhook, nil)
	if err != nil || res != (outbox.ReplayResult{Replayed: len(bad) - 1, Delivered: len(bad) - 1}) {
		t.Fatalf("unexpected replay result %+v, %v", res, err)
	}
	wantDeadLetters(t, te, 0)
	rc.waitAll(time.Second, all)

	if _, err := te.E.DeadLetters("nope", 0, 10); err == nil {
		t.Fatalf("expected an error listing an unknown sink's dead letters")
	}
}

// TestSinkStartsAtHead: events committed while a sink is off are not held for it, and it starts
// with the events committed after it is turned on.
func TestSinkStartsAtHead(t *testing.T) {
	dir := t.TempDir()
	te := mustStartEngine(t, dir, outbox.Options{})
	te.emit("s", 0, 200, 50, 2, 100)
	checkFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if k := countKeys(te.DB, storage.PrefixOutbox); k != 0 {
			return fmt.Errorf("%d outbox entries left with every sink off", k)
		}
		return nil
	})
	te.Stop()

	rc := startReceiver(t)
	te = mustStartEngine(t, dir, webhookOpts(rc))
	te.emit("s", 200, 300, 50, 2, 100)
	_, _, want := wantIDs("s", 200, 300)
	rc.waitAll(3*time.Minute, want)
	rc.mu.Lock()
	if got := len(rc.ok); got != len(want) {
		t.Errorf("unexpected events delivered; got %d; want %d (only those after the sink was enabled)", got, len(want))
	}
	rc.mu.Unlock()
	// Seqs keep growing across the restart although the outbox was emptied.
	if h := te.E.OutboxHorizon(); h != 301 {
		t.Errorf("unexpected horizon; got %d; want 301", h)
	}
}

// TestWebhookHoldBounded: an event that only ever gets 5xx, with nothing else delivered meanwhile,
// is held for WebhookMaxHold and then dead-lettered, so it cannot block the sink forever.
func TestWebhookHoldBounded(t *testing.T) {
	rc := startReceiver(t)
	rc.setAnswer(func(id string, attempt int) int { return 503 })
	opts := webhookOpts(rc)
	opts.WebhookMaxAttempts = 2
	opts.WebhookMaxHold = 300 * time.Millisecond
	te := mustStartEngine(t, t.TempDir(), opts)
	start := time.Now()
	te.emit("b", 1, 2, 1, 1, 100)
	var dls []outbox.DeadLetter
	checkFor(t, 30*time.Second, 10*time.Millisecond, func() error {
		var err error
		if dls, err = te.E.DeadLetters(outbox.SinkWebhook, 0, 10); err != nil || len(dls) != 1 {
			return fmt.Errorf("%d dead letters, %v", len(dls), err)
		}
		return nil
	})
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("dead-lettered after %s, before WebhookMaxHold", took)
	}
	if dls[0].LastError != "HTTP 503" || dls[0].Attempts <= 2 {
		t.Fatalf("unexpected dead letter %+v; want HTTP 503 after more than 2 attempts", dls[0])
	}
}
