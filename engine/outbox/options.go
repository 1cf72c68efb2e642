package outbox

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"
)

// Options configures the relays. A zero field means the default; a sink whose address is empty is
// off (it neither delivers nor holds outbox entries back).
type Options struct {
	// Brokers are the Kafka bootstrap addresses (host:port). Empty: the Kafka and push sinks are off.
	Brokers []string
	// Topic receives every event. Default: campaignd.events.
	Topic string
	// PushTopic receives one record per receiver of each message.new without skip_push.
	// Default: campaignd.push.
	PushTopic string
	// KafkaBatchSize is the kafka-go Writer's BatchSize (records per produce request and
	// partition). Default: 1000.
	KafkaBatchSize int
	// KafkaCompression compresses record batches: "none", "gzip", "snappy", "lz4" or "zstd".
	// Default: none.
	KafkaCompression string
	// KafkaBatchTimeout is the kafka-go Writer's BatchTimeout: how long a partly filled
	// partition batch waits before it is sent. Default: 2ms (the relay hands the writer whole
	// slices, so waiting longer only adds latency).
	KafkaBatchTimeout time.Duration

	// WebhookURL receives one POST per event. Empty: the webhook sink is off.
	WebhookURL string
	// WebhookTimeout bounds one POST attempt. Default: 6s, Stream's timeout of one webhook
	// attempt.
	WebhookTimeout time.Duration
	// WebhookMaxAttempts is how many attempts an event gets before it is dead-lettered, provided
	// the receiver accepted other events meanwhile (see webhookSink). Default: 5.
	WebhookMaxAttempts int
	// WebhookMaxHold bounds how long an event is held for a receiver that looks down (see
	// webhookSink) before it is dead-lettered anyway. Default: 15m.
	WebhookMaxHold time.Duration
	// WebhookConcurrency is how many POSTs are in flight at once. Default: 32.
	WebhookConcurrency int
	// WebhookBackoff is the delay before the second attempt; it doubles per attempt up to
	// WebhookMaxBackoff. Defaults: 500ms and 30s.
	WebhookBackoff    time.Duration
	WebhookMaxBackoff time.Duration

	// APIKey and APISecret go into X-Api-Key and sign X-Signature. The engine fills them.
	APIKey    string
	APISecret string

	// BatchSize is the most events a relay reads and delivers at once. Default: 4096.
	BatchSize int
	// BatchBytes bounds the JSON bytes of one relay batch. Default: 8 MiB.
	BatchBytes int
	// Poll is how often a relay looks for new events without a wake-up. Default: 100ms.
	Poll time.Duration
	// RetryBackoff and RetryMaxBackoff pace a relay's retries after a failed Kafka delivery.
	// Defaults: 100ms and 5s.
	RetryBackoff    time.Duration
	RetryMaxBackoff time.Duration

	// Logger for delivery problems. Default: slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Topic == "" {
		o.Topic = "campaignd.events"
	}
	if o.PushTopic == "" {
		o.PushTopic = "campaignd.push"
	}
	if o.KafkaBatchSize == 0 {
		o.KafkaBatchSize = 1000
	}
	if o.KafkaBatchTimeout == 0 {
		o.KafkaBatchTimeout = 2 * time.Millisecond
	}
	if o.WebhookTimeout == 0 {
		o.WebhookTimeout = 6 * time.Second
	}
	if o.WebhookMaxAttempts == 0 {
		o.WebhookMaxAttempts = 5
	}
	if o.WebhookMaxHold == 0 {
		o.WebhookMaxHold = 15 * time.Minute
	}
	if o.WebhookConcurrency == 0 {
		o.WebhookConcurrency = 32
	}
	if o.WebhookBackoff == 0 {
		o.WebhookBackoff = 500 * time.Millisecond
	}
	if o.WebhookMaxBackoff == 0 {
		o.WebhookMaxBackoff = 30 * time.Second
	}
	if o.BatchSize == 0 {
		o.BatchSize = 4096
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = 8 << 20
	}
	if o.Poll == 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.RetryBackoff == 0 {
		o.RetryBackoff = 100 * time.Millisecond
	}
	if o.RetryMaxBackoff == 0 {
		o.RetryMaxBackoff = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports options that cannot work. Call it after EnsureDefaults.
func (o *Options) Validate() error {
	if o.Topic == o.PushTopic {
		return fmt.Errorf("outbox: the events topic and the push topic must differ; both are %q", o.Topic)
	}
	switch o.KafkaCompression {
	case "", "none", "gzip", "snappy", "lz4", "zstd":
	default:
		return fmt.Errorf("outbox: unknown kafka compression %q: use none, gzip, snappy, lz4 or zstd", o.KafkaCompression)
	}
	if o.WebhookURL != "" {
		u, err := url.Parse(o.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("outbox: webhook url %q must be an absolute http:// or https:// URL", o.WebhookURL)
		}
		if o.APISecret == "" {
			return errors.New("outbox: the webhook needs the API secret to sign its requests")
		}
	}
	if o.WebhookMaxAttempts < 1 || o.WebhookConcurrency < 1 || o.BatchSize < 1 || o.KafkaBatchSize < 1 {
		return errors.New("outbox: WebhookMaxAttempts, WebhookConcurrency, BatchSize and KafkaBatchSize must be positive")
	}
	return nil
}
