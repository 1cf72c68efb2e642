package outbox_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/campaignd/campaignd/engine/outbox"
)

// BenchmarkKafkaRelay commits message.new-sized events (~1 KB JSON, one receiver each) through
// the engine in transactions of 4096 with the Kafka and push sinks on, and measures how long a
// kafka-go consumer of the events topic takes to have every one of them, against the time it took
// to commit them. It reports the relay's throughput (events acknowledged by the broker with
// RequireAll, cursor committed) and consumed/committed, the ratio issue #5 bounds at 1.2 for a
// campaign (whose commit rate is far below this benchmark's). The broker (kfake) runs in a child
// process, as a real broker would; the consumer runs in this one.
func BenchmarkKafkaRelay(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			for range b.N {
				benchmarkKafkaRelay(b, n, 0)
			}
		})
	}
	// At the pace of a campaign on a 2-core machine (BenchmarkCampaign: about 6,000 sends/s, one
	// message.new each).
	b.Run("events=200000/rate=6000", func(b *testing.B) {
		for range b.N {
			benchmarkKafkaRelay(b, 200_000, 6000)
		}
	})
}

// benchmarkKafkaRelay commits n events, at rate events/s if rate > 0, else as fast as it can.
func benchmarkKafkaRelay(b *testing.B, n, rate int) {
	b.StopTimer()
	addr := startBrokerProcess(b)
	const pad = 1000
	events := startConsumer(b, addr, testTopic, nil)
	defer events.stop()
	te := mustStartEngine(b, b.TempDir(), outbox.Options{Brokers: []string{addr}})
	defer te.Stop()
	want, _, _ := wantIDs("b", 0, n)
	b.SetBytes(int64(n * len(testEvent("b", 0, pad).JSON)))
	b.ReportAllocs()
	b.StartTimer()

	start := time.Now()
	if rate == 0 {
		te.emit("b", 0, n, 4096, 1, pad)
	} else {
		for lo := 0; lo < n; lo += 4096 {
			te.emit("b", lo, min(lo+4096, n), 4096, 1, pad)
			if d := time.Duration(float64(min(lo+4096, n)) / float64(rate) * float64(time.Second)); time.Since(start) < d {
				time.Sleep(d - time.Since(start))
			}
		}
	}
	commit := time.Since(start)
	end := te.E.OutboxHorizon() - 1
	var relayed time.Duration
	for _, s := range []string{outbox.SinkKafka, outbox.SinkPush} {
		checkFor(b, 10*time.Minute, time.Millisecond, func() error {
			if c, _ := te.E.OutboxCursor(s); c < end {
				return fmt.Errorf("%s cursor at %d of %d", s, c, end)
			}
			return nil
		})
		if s == outbox.SinkKafka {
			relayed = time.Since(start)
		}
	}
	events.waitAll(10*time.Minute, want)
	consumed := time.Since(start)
	b.StopTimer()

	b.ReportMetric(float64(n)/commit.Seconds(), "committed/s")
	b.ReportMetric(float64(n)/relayed.Seconds(), "relayed/s")
	b.ReportMetric(float64(n)/consumed.Seconds(), "consumed/s")
	b.ReportMetric(consumed.Seconds()/commit.Seconds(), "consumed/committed")
	b.Logf("events=%d commit=%s relayed(kafka cursor at end)=%s consumer has all=%s", n, commit, relayed, consumed)
}

// BenchmarkWebhookRelay commits events (~1 KB JSON) and measures how fast the webhook sink posts
// them to an httptest receiver that checks every signature (32 POSTs in flight).
func BenchmarkWebhookRelay(b *testing.B) {
	const n, pad = 50_000, 1000
	for range b.N {
		b.StopTimer()
		rc := startReceiver(b)
		te := mustStartEngine(b, b.TempDir(), outbox.Options{WebhookURL: rc.srv.URL})
		_, _, want := wantIDs("wb", 0, n)
		b.SetBytes(int64(len(want) * pad))
		b.StartTimer()
		start := time.Now()
		te.emit("wb", 0, n, 4096, 1, pad)
		commit := time.Since(start)
		rc.waitAll(10*time.Minute, want)
		took := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(len(want))/took.Seconds(), "posted/s")
		b.Logf("events=%d (posted %d) commit=%s all posted=%s", n, len(want), commit, took)
		te.Stop()
	}
}
