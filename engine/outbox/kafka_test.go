package outbox_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/segmentio/kafka-go"

	"github.com/campaignd/campaignd/engine/outbox"
	"github.com/campaignd/campaignd/storage"
)

// checkEventRecord checks a record of the events topic against the event it names.
func checkEventRecord(prefix string, pad int) func(m *kafka.Message) error {
	return func(m *kafka.Message) error {
		id := header(m, "event_id")
		n, err := strconv.Atoi(strings.TrimPrefix(id, prefix+"-"))
		if err != nil {
			return fmt.Errorf("unexpected event_id header %q", id)
		}
		ev := testEvent(prefix, n, pad)
		if string(m.Key) != ev.Key || header(m, "event_type") != ev.Type || !bytes.Equal(m.Value, ev.JSON) {
			return fmt.Errorf("record of %s: key %q type %q value %q; want %q %q %q", id, m.Key, header(m, "event_type"), m.Value, ev.Key, ev.Type, ev.JSON)
		}
		return nil
	}
}

func checkPushRecord(prefix string, pad int) func(m *kafka.Message) error {
	return func(m *kafka.Message) error {
		id := header(m, "event_id")
		n, err := strconv.Atoi(strings.TrimPrefix(id, prefix+"-"))
		if err != nil {
			return fmt.Errorf("unexpected event_id header %q", id)
		}
		ev := testEvent(prefix, n, pad)
		rcv := header(m, "receiver_id")
		if ev.Type != "message.new" || ev.SkipPush {
			return fmt.Errorf("push record for %s event %s (skip_push %v)", ev.Type, id, ev.SkipPush)
		}
		if string(m.Key) != rcv || (rcv != ev.Receivers[0] && rcv != ev.Receivers[1]) || !bytes.Equal(m.Value, ev.JSON) {
			return fmt.Errorf("push record of %s: key %q receiver %q; want one of %v", id, m.Key, rcv, ev.Receivers)
		}
		return nil
	}
}

func TestKafkaDelivery(t *testing.T) {
	broker := startBroker(t, 0, "")
	defer broker.Close()
	addr := broker.ListenAddrs()[0]
	const n, pad = 10000, 300
	events := startConsumer(t, addr, testTopic, checkEventRecord("k", pad))
	push := startConsumer(t, addr, testPush, checkPushRecord("k", pad))

	te := mustStartEngine(t, t.TempDir(), outbox.Options{Brokers: []string{addr}, BatchSize: 3000, KafkaCompression: "lz4"})
	te.emit("k", 0, n, 500, 4, pad)
	wantEvents, wantPush, _ := wantIDs("k", 0, n)
	events.waitAll(3*time.Minute, wantEvents)
	push.waitAll(3*time.Minute, wantPush)

	// Nothing else arrives: no push record for skipped or non-message events.
	time.Sleep(100 * time.Millisecond)
	push.mu.Lock()
	if len(push.seen) != len(wantPush) {
		t.Errorf("unexpected push records; got %d distinct; want %d", len(push.seen), len(wantPush))
	}
	push.mu.Unlock()

	// Both cursors reach the end and the outbox is emptied behind them.
	h := te.E.OutboxHorizon()
	for _, s := range []string{outbox.SinkKafka, outbox.SinkPush} {
		checkFor(t, 30*time.Second, 10*time.Millisecond, func() error {
			if c, ok := te.E.OutboxCursor(s); !ok || c != h-1 {
				return fmt.Errorf("cursor of %s is %d (enabled %v); want %d", s, c, ok, h-1)
			}
			return nil
		})
	}
	checkFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if k := countKeys(te.DB, storage.PrefixOutbox); k != 0 {
			return fmt.Errorf("%d outbox entries left", k)
		}
		return nil
	})
}

func countKeys(db *storage.DB, prefix byte) int {
	it := db.NewIter([]byte{prefix}, []byte{prefix + 1})
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n
}

// TestKafkaBrokerOutage stops the broker while events are delivered and produced, starts it again
// on the same port and data directory, and expects every event at the consumer.
func TestKafkaBrokerOutage(t *testing.T) {
	kdir := t.TempDir()
	broker := startBroker(t, 0, kdir)
	port := brokerPort(t, broker)
	addr := broker.ListenAddrs()[0]
	const pad = 200
	events := startConsumer(t, addr, testTopic, checkEventRecord("o", pad))
	push := startConsumer(t, addr, testPush, checkPushRecord("o", pad))

	te := mustStartEngine(t, t.TempDir(), outbox.Options{Brokers: []string{addr}, BatchSize: 500})
	te.emit("o", 0, 3000, 100, 2, pad)
	checkFor(t, 30*time.Second, 5*time.Millisecond, func() error {
		if c, _ := te.E.OutboxCursor(outbox.SinkKafka); c < 1000 {
			return fmt.Errorf("cursor %d", c)
		}
		return nil
	})
	broker.Close()
	te.emit("o", 3000, 6000, 100, 2, pad)
	time.Sleep(500 * time.Millisecond)
	h := te.E.OutboxHorizon()
	if c, _ := te.E.OutboxCursor(outbox.SinkKafka); c >= h-1 {
		t.Fatalf("kafka cursor reached the head %d while the broker was down", c)
	}
	lag := metrics.GetOrCreateGauge(`campaignd_outbox_lag_events{sink="kafka"}`, nil)
	checkFor(t, 30*time.Second, 10*time.Millisecond, func() error {
		if v := lag.Get(); v < 3000 {
			return fmt.Errorf("lag %v while the broker is down; want >= 3000", v)
		}
		return nil
	})
	broker = startBroker(t, port, kdir)
	defer broker.Close()
	te.emit("o", 6000, 8000, 100, 2, pad)

	wantEvents, wantPush, _ := wantIDs("o", 0, 8000)
	events.waitAll(3*time.Minute, wantEvents)
	push.waitAll(3*time.Minute, wantPush)
	checkFor(t, 30*time.Second, 10*time.Millisecond, func() error {
		if v := lag.Get(); v != 0 {
			return fmt.Errorf("lag %v after delivery", v)
		}
		return nil
	})
}

// TestCrashResume stops the engine and closes the store while relays are mid-delivery, reopens the
// same directory, and expects every event at the consumer and the webhook.
func TestCrashResume(t *testing.T) {
	broker := startBroker(t, 0, "")
	defer broker.Close()
	addr := broker.ListenAddrs()[0]
	rc := startReceiver(t)
	const pad = 200
	events := startConsumer(t, addr, testTopic, checkEventRecord("c", pad))
	opts := outbox.Options{Brokers: []string{addr}, WebhookURL: rc.srv.URL, BatchSize: 256}

	dir := t.TempDir()
	te := mustStartEngine(t, dir, opts)
	te.emit("c", 0, 5000, 50, 2, pad)
	checkFor(t, 30*time.Second, time.Millisecond, func() error {
		if c, _ := te.E.OutboxCursor(outbox.SinkWebhook); c < 300 {
			return fmt.Errorf("webhook cursor %d", c)
		}
		return nil
	})
	h := te.E.OutboxHorizon()
	kc, _ := te.E.OutboxCursor(outbox.SinkKafka)
	wc, _ := te.E.OutboxCursor(outbox.SinkWebhook)
	te.Stop()
	if kc >= h-1 && wc >= h-1 {
		t.Logf("relays had already finished before the stop (kafka %d, webhook %d, head %d)", kc, wc, h-1)
	}

	te = mustStartEngine(t, dir, opts)
	te.emit("c", 5000, 7000, 50, 2, pad)
	wantEvents, _, wantHook := wantIDs("c", 0, 7000)
	events.waitAll(3*time.Minute, wantEvents)
	rc.waitAll(3*time.Minute, wantHook)
}

// TestKafkaOversizedRecord: an event larger than a record may be is dead-lettered for the Kafka
// sinks instead of blocking them; the events around it are delivered.
func TestKafkaOversizedRecord(t *testing.T) {
	broker := startBroker(t, 0, "")
	defer broker.Close()
	addr := broker.ListenAddrs()[0]
	events := startConsumer(t, addr, testTopic, nil)
	te := mustStartEngine(t, t.TempDir(), outbox.Options{Brokers: []string{addr}})
	te.emit("z", 0, 10, 5, 1, 100)
	tx := te.E.NewTx()
	big := testEvent("big", 1, 0)
	big.JSON = []byte(`{"text":"` + strings.Repeat("y", 1<<20) + `"}`)
	tx.Emit(big)
	if err := te.E.Commit(tx); err != nil {
		t.Fatal(err)
	}
	te.emit("z", 10, 20, 5, 1, 100)
	want, _, _ := wantIDs("z", 0, 20)
	events.waitAll(3*time.Minute, want)
	for _, s := range []string{outbox.SinkKafka, outbox.SinkPush} {
		dls, err := te.E.DeadLetters(s, 0, 10)
		if err != nil || len(dls) != 1 || dls[0].Event.ID != big.ID || !strings.Contains(dls[0].LastError, "exceeds") {
			t.Fatalf("unexpected %s dead letters %+v, %v", s, dls, err)
		}
	}
	if _, err := te.E.ReplayDeadLetters(t.Context(), outbox.SinkKafka, nil); err == nil {
		t.Fatalf("expected an error replaying kafka dead letters")
	}
	events.mu.Lock()
	defer events.mu.Unlock()
	if events.seen[big.ID] != 0 {
		t.Fatalf("the oversized event reached the topic")
	}
}
