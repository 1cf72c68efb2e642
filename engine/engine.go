package engine

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/campaignd/campaignd/engine/outbox"
	"github.com/campaignd/campaignd/storage"
)

// Options configures the engine. A zero field means the default.
type Options struct {
	// Encoder renders the Stream JSON the engine stores and reads (event bodies, template
	// objects): wire.Legacy{}. Required.
	Encoder Encoder
	// Logger for engine events. Default: slog.Default().
	Logger *slog.Logger
	// APIKey and APISecret identify the app; the secret signs webhooks.
	APIKey    string
	APISecret string
	// Now returns the current time; tests may replace it. Default: time.Now.
	Now func() time.Time
	// MaxMessageLength is the longest message text, in characters (Stream's max_message_length):
	// SendMessage refuses longer texts (400 code 20) and campaigns whose template cannot render
	// within it are refused; the fan-out reads it (Engine.MaxMessageLength) to bound renders.
	// Default: DefaultMaxMessageLength; at most MaxMaxMessageLength.
	MaxMessageLength int
	// Outbox configures the delivery sinks (Kafka, push, webhook); APIKey, APISecret and Logger
	// are filled from the fields above. All sinks are off by default.
	Outbox outbox.Options
	// MaxDeliveryBacklog is how many committed events the Kafka relays (events and push topics)
	// may trail behind before a running campaign's fan-out waits between chunks for them, so that
	// delivery keeps pace with sending (a broker that is down is not waited for; see
	// outbox.Manager.Backlog). Default: 32768; negative: never wait.
	MaxDeliveryBacklog int
	// MinFreeDiskSpace is the free space, in bytes, on the store's filesystem below which
	// writes that add data are refused (507), fan-outs pause between chunks and the store's
	// ballast may be released (disk.go). Default: DefaultMinFreeDiskSpace.
	MinFreeDiskSpace int64
	// MonthlyCapacity is the most campaign messages all campaigns together may send in one
	// calendar month (UTC); a campaign reaching it stops with stop_reason monthly_capacity
	// (capacity.go). 0 = unlimited.
	MonthlyCapacity uint64
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxDeliveryBacklog == 0 {
		o.MaxDeliveryBacklog = DefaultMaxDeliveryBacklog
	}
	if o.MinFreeDiskSpace == 0 {
		o.MinFreeDiskSpace = DefaultMinFreeDiskSpace
	}
	if o.MaxMessageLength == 0 {
		o.MaxMessageLength = DefaultMaxMessageLength
	}
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	if o.Encoder == nil {
		return errors.New("engine: Options.Encoder is required: pass wire.Legacy{}")
	}
	if o.MaxMessageLength < 1 || o.MaxMessageLength > MaxMaxMessageLength {
		return fmt.Errorf("engine: MaxMessageLength %d is outside 1..%d", o.MaxMessageLength, MaxMaxMessageLength)
	}
	if o.MinFreeDiskSpace < 0 {
		return fmt.Errorf("engine: MinFreeDiskSpace %d is negative", o.MinFreeDiskSpace)
	}
	return nil
}

// DefaultMaxDeliveryBacklog is Options.MaxDeliveryBacklog's default: four chunks' events.
const DefaultMaxDeliveryBacklog = 4 * 2 * FanoutChunkSize

// Engine is campaignd's domain: users, channels, messages, segments, campaigns and the outbox.
// All exported methods are safe for concurrent use. Create it with Open, call Start once, and
// Stop it before closing the store.
type Engine struct {
	opts Options
	log  *slog.Logger
	db   *storage.DB
	enc  Encoder

	seq seqAllocator

	// outboxWake is signalled (non-blocking) after every commit that carried events.
	outboxWake chan struct{}

	stopOnce sync.Once
	stopCh   chan struct{}
	wg       sync.WaitGroup

	// Per-area state, each declared in the area's own file.
	users     usersState
	channels  channelsState
	segments  segmentsState
	campaigns campaignsState
	outbox    outboxState
	rates     sendRates
	disk      diskState
	capacity  capacityState
	reads     readCounts
}

// Open builds an engine over an open store. It does not start background work; see Start.
func Open(db *storage.DB, opts Options) (*Engine, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		opts:       opts,
		log:        opts.Logger,
		db:         db,
		enc:        opts.Encoder,
		outboxWake: make(chan struct{}, 1),
		stopCh:     make(chan struct{}),
	}
	next, err := db.NextOutboxSeq()
	if err != nil {
		return nil, fmt.Errorf("cannot read outbox position: %w", err)
	}
	e.seq.init(next)
	return e, nil
}

// Start launches background work: segment sizing, the scheduler, resumed campaigns and the outbox
// relays. It returns once everything has started.
func (e *Engine) Start() error {
	for _, start := range []func() error{e.startDisk, e.startOutbox, e.startSegments, e.startCampaigns, e.startSendRates} {
		if err := start(); err != nil {
			e.Stop()
			return err
		}
	}
	return nil
}

// Stop stops background work and waits for it. Running campaigns stop between chunks and resume
// from their durable cursor at the next Start. Stop is idempotent.
func (e *Engine) Stop() {
	e.stopOnce.Do(func() {
		close(e.stopCh)
		e.wg.Wait()
	})
}

// DB returns the store; used by benchmarks and tests.
func (e *Engine) DB() *storage.DB { return e.db }

// WritePrometheus writes the metrics that belong to this engine's instance rather than to the
// process (the store's health, campaignd_storage_*; disk space; campaigns by status and the
// running campaigns' progress) in Prometheus text format. The process-wide counters are
// VictoriaMetrics' global set; /metrics writes both.
func (e *Engine) WritePrometheus(w io.Writer) {
	e.db.WritePrometheus(w)
	e.writeDiskMetrics(w)
	e.writeCapacityMetrics(w)
	e.writeCampaignMetrics(w)
}

// MaxMessageLength returns the longest message text accepted, in characters (Options).
func (e *Engine) MaxMessageLength() int { return e.opts.MaxMessageLength }

// Now returns the engine's clock.
func (e *Engine) Now() time.Time { return e.opts.Now() }

// OutboxHorizon returns the seq below which every outbox event is committed (see seqAllocator).
func (e *Engine) OutboxHorizon() uint64 { return e.seq.Horizon() }

// OutboxWake returns a channel that receives a value after commits that carried events.
func (e *Engine) OutboxWake() <-chan struct{} { return e.outboxWake }

func (e *Engine) notifyOutbox() {
	select {
	case e.outboxWake <- struct{}{}:
	default:
	}
}

// goBackground runs fn in a goroutine that Stop waits for. fn must return when stop is closed.
func (e *Engine) goBackground(fn func(stop <-chan struct{})) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		fn(e.stopCh)
	}()
}
