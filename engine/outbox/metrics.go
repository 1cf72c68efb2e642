package outbox

import (
	"fmt"

	"github.com/VictoriaMetrics/metrics"
)

// sinkMetrics are one sink's series. They are process-wide: relays of successive Managers (tests,
// restarts in one process) share them.
type sinkMetrics struct {
	delivered *metrics.Counter // records (Kafka) or events (webhook) accepted by the sink
	failed    *metrics.Counter // failed delivery attempts (a produce call, a POST)
	retries   *metrics.Counter // attempts that repeated an earlier failed one
	corrupt   *metrics.Counter // outbox entries skipped because they could not be decoded
	// deadLetters counts events given up on (webhook: also campaignd_webhook_dead_letters_total).
	deadLetters *metrics.Counter
	lag         *metrics.Gauge // committed events the sink has not passed yet
}

func metricsFor(sink string) *sinkMetrics {
	return &sinkMetrics{
		delivered:   metrics.GetOrCreateCounter(fmt.Sprintf(`campaignd_outbox_delivered_total{sink=%q}`, sink)),
		failed:      metrics.GetOrCreateCounter(fmt.Sprintf(`campaignd_outbox_failed_total{sink=%q}`, sink)),
		retries:     metrics.GetOrCreateCounter(fmt.Sprintf(`campaignd_outbox_retries_total{sink=%q}`, sink)),
		corrupt:     metrics.GetOrCreateCounter(fmt.Sprintf(`campaignd_outbox_corrupt_events_total{sink=%q}`, sink)),
		deadLetters: metrics.GetOrCreateCounter(fmt.Sprintf(`campaignd_outbox_dead_letters_total{sink=%q}`, sink)),
		lag:         metrics.GetOrCreateGauge(fmt.Sprintf(`campaignd_outbox_lag_events{sink=%q}`, sink), nil),
	}
}

var (
	webhookDeadLetters = metrics.NewCounter(`campaignd_webhook_dead_letters_total`)
	webhookReplayed    = metrics.NewCounter(`campaignd_webhook_dead_letters_replayed_total`)
)
