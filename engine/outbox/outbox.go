// Package outbox delivers the engine's transactional outbox to its sinks: a Kafka events topic, a
// Kafka push topic and a signed webhook. It is the only importer of segmentio/kafka-go (and of
// franz-go's kfake, for the embedded development broker).
//
// # Relays
//
// One relay per enabled sink reads the outbox keyspace (storage.PrefixOutbox, be64 seq ->
// storage.OutboxEvent) in seq order, but only below Source.Horizon(): every seq under it is
// committed or will never exist, so a relay never skips an event that a slower commit is still
// writing. A relay hands a batch to its sink, and only after the sink reports every event of it
// delivered (or, for the webhook, dead-lettered) does it advance its durable cursor
// (storage.PrefixOutboxCursor + sink name -> be64 last seq passed), committed with fsync. Delivery
// is therefore at least once: a crash between delivery and cursor commit delivers the batch again,
// and consumers dedupe by event id.
//
// Relays wake on Source.Wake() (fanned out to every relay) and poll every Options.Poll.
//
// # Retention
//
// Outbox entries up to the lowest cursor of the enabled sinks are deleted (one DeleteRange) about
// once a second; the last deleted seq is kept as the cursor named "gc" so seqs are never reused.
// A sink that is off holds nothing back. A sink that starts without a usable cursor (never
// enabled before, or off while entries it had not passed were deleted) starts at the head: it
// delivers the events committed from its start on, not an arbitrary remainder of the backlog.
package outbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/campaignd/campaignd/storage"
)

// Sink names: the cursor and dead-letter key components, and the metrics' sink label.
const (
	SinkKafka   = "kafka"
	SinkPush    = "push"
	SinkWebhook = "webhook"

	gcCursor = "gc"
)

// ErrSinkOff is returned for dead-letter operations on a sink that is not enabled.
var ErrSinkOff = errors.New("outbox: sink is off")

// ErrUnknownSink is returned for a sink name that does not exist.
var ErrUnknownSink = errors.New("outbox: unknown sink")

// ErrNoReplay is returned when replaying dead letters of a sink that cannot replay them.
var ErrNoReplay = errors.New("outbox: cannot replay")

// Source is the engine side of the outbox.
type Source interface {
	// Horizon returns the seq below which every outbox event is committed (or will never exist).
	Horizon() uint64
	// Wake receives a value after commits that carried events. Only the Manager reads it.
	Wake() <-chan struct{}
	// Render renders the events of the storage.CampaignChunk entry v, stored at seq first, with
	// seqs in [from, to): it calls emit in seq order for each event keep takes, and returns the
	// first seq it did not cover (to or the entry's end, or the seq after an event for which emit
	// returned false). emit copies what it keeps. Render may be called by several relays at once.
	Render(first uint64, v []byte, from, to uint64, keep Filter, emit func(seq uint64, ev *storage.OutboxEvent) bool) (uint64, error)
}

// Filter says whether a sink takes an event of type typ with those flags. Events a sink does not
// take are neither rendered nor handed to it (they still move its cursor).
type Filter func(typ string, skipWebhook, skipPush bool) bool

// Event is one outbox entry as a sink sees it. JSON aliases the relay's read buffer: it is valid
// only during the sink's deliver call.
type Event struct {
	Seq uint64
	storage.OutboxEvent
}

// sink delivers batches for one relay.
type sink interface {
	// name returns the sink name (cursor key, metrics label).
	name() string
	// keep is the sink's Filter.
	keep(typ string, skipWebhook, skipPush bool) bool
	// deliver delivers evs (ascending seq) and returns nil once every event is delivered or,
	// for sinks that have them, dead-lettered. It keeps retrying delivery problems itself and
	// returns an error only when ctx is done or a store write fails; the relay then retries
	// the whole batch. deliver is called by one goroutine at a time.
	deliver(ctx context.Context, evs []Event) error
	// close releases connections after the relay stopped.
	close()
}

// Manager owns the relays. Create it with New, run it with Run.
type Manager struct {
	opts Options
	db   *storage.DB
	src  Source
	log  *slog.Logger

	relays  []*relay
	webhook *webhookSink

	// Repeated failures are logged as summaries (failurelog.go).
	webhookDead, kafkaDead, retries *failureLog

	gcMu  sync.Mutex
	gcSeq uint64
}

// New builds the relays of the enabled sinks over db and positions their cursors (see the
// package doc for where a sink without a usable cursor starts). It starts nothing; see Run.
func New(db *storage.DB, src Source, opts Options) (*Manager, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	m := &Manager{opts: opts, db: db, src: src, log: opts.Logger,
		webhookDead: newFailureLog(opts.Logger, slog.LevelWarn, "webhook event dead-lettered"),
		kafkaDead:   newFailureLog(opts.Logger, slog.LevelError, "kafka record dead-lettered"),
		retries:     newFailureLog(opts.Logger, slog.LevelWarn, "outbox delivery failed; retrying"),
	}
	gc, _, err := m.loadCursor(gcCursor)
	if err != nil {
		return nil, err
	}
	m.gcSeq = gc
	var sinks []sink
	if len(opts.Brokers) > 0 {
		sinks = append(sinks, newKafkaSink(m, SinkKafka, opts.Topic, false, &m.opts), newKafkaSink(m, SinkPush, opts.PushTopic, true, &m.opts))
	}
	if opts.WebhookURL != "" {
		m.webhook = newWebhookSink(m, &m.opts)
		sinks = append(sinks, m.webhook)
	}
	head := src.Horizon() - 1
	for _, s := range sinks {
		cur, ok, err := m.loadCursor(s.name())
		if err != nil {
			return nil, err
		}
		if !ok || cur < gc {
			if ok {
				m.log.Warn("outbox sink was off while events it had not delivered were removed; it starts at the head",
					"sink", s.name(), "cursor", cur, "removed_through", gc, "head", head)
			}
			cur = head
			if err := m.saveCursor(s.name(), cur); err != nil {
				return nil, err
			}
		}
		m.relays = append(m.relays, newRelay(m, s, cur))
	}
	return m, nil
}

// Sinks returns the names of the enabled sinks.
func (m *Manager) Sinks() []string {
	names := make([]string, len(m.relays))
	for i, r := range m.relays {
		names[i] = r.s.name()
	}
	return names
}

// Cursor returns the last seq the named sink passed, and whether the sink is enabled.
func (m *Manager) Cursor(sinkName string) (uint64, bool) {
	for _, r := range m.relays {
		if r.s.name() == sinkName {
			return r.cursor.Load(), true
		}
	}
	return 0, false
}

// stallAfter is how long a relay with a backlog may go without moving its cursor before Backlog
// takes it for a sink that is down.
const stallAfter = 5 * time.Second

// Backlog returns how many committed events the slowest working Kafka relay (events or push
// topic) has not passed yet. A relay whose broker is failing, or that has not moved for
// stallAfter, is left out: producers that wait for the backlog to shrink (the fan-out) must not
// wait for an outage, which only delays delivery.
func (m *Manager) Backlog() uint64 {
	head := m.src.Horizon() - 1
	now := time.Now().UnixNano()
	var worst uint64
	for _, r := range m.relays {
		k, ok := r.s.(*kafkaSink)
		if !ok || k.failing.Load() {
			continue
		}
		c := r.cursor.Load()
		if c >= head {
			continue
		}
		if now-r.moved.Load() > int64(stallAfter) {
			continue
		}
		worst = max(worst, head-c)
	}
	return worst
}

// Run delivers until stop is closed, then waits for the relays, removes what every sink passed
// and closes the sinks' connections. Call it once.
func (m *Manager) Run(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range m.relays {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.run(ctx)
		}()
	}
	gcTicker := time.NewTicker(time.Second)
	defer gcTicker.Stop()
	wake := m.src.Wake()
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-wake:
			for _, r := range m.relays {
				r.notify()
			}
		case <-gcTicker.C:
			m.collect()
		}
	}
	cancel()
	wg.Wait()
	m.collect()
	for _, r := range m.relays {
		r.s.close()
	}
}

// collect deletes the outbox entries every enabled sink has passed, and refreshes the lag gauges
// (a relay stuck retrying a batch does not update its own).
func (m *Manager) collect() {
	m.gcMu.Lock()
	defer m.gcMu.Unlock()
	head := m.src.Horizon() - 1
	upTo := head
	for _, r := range m.relays {
		c := r.cursor.Load()
		if c < upTo {
			upTo = c
		}
		r.met.lag.Set(float64(head - min(c, head)))
	}
	if upTo <= m.gcSeq {
		return
	}
	// NB: an entry holding seqs on both sides of upTo stays until every sink passed its last one.
	start, err := m.db.OutboxEntryStart(upTo + 1)
	if err != nil {
		m.log.Error("cannot remove delivered outbox entries", "through", upTo, "err", err)
		return
	}
	if upTo = start - 1; upTo <= m.gcSeq {
		return
	}
	b := m.db.NewBatch()
	b.DeleteOutboxBelow(start)
	b.Set(cursorKey(gcCursor), binary.BigEndian.AppendUint64(nil, upTo))
	// NB: no fsync: losing this batch in a crash only means deleting the same range again.
	if err := b.Commit(false); err != nil {
		m.log.Error("cannot remove delivered outbox entries", "through", upTo, "err", err)
		return
	}
	m.gcSeq = upTo
}

func cursorKey(name string) []byte {
	return storage.NewKey(nil, storage.PrefixOutboxCursor).Str(name)
}

func (m *Manager) loadCursor(name string) (seq uint64, ok bool, err error) {
	v, err := m.db.Get(nil, cursorKey(name))
	if errors.Is(err, storage.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cannot read outbox cursor %q: %w", name, err)
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("cannot read outbox cursor %q: %d bytes: %w", name, len(v), storage.ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v), true, nil
}

// saveCursor stores a sink's cursor with fsync.
func (m *Manager) saveCursor(name string, seq uint64) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], seq)
	b := m.db.NewBatch()
	b.Set(cursorKey(name), v[:])
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("cannot store outbox cursor %q: %w", name, err)
	}
	return nil
}

// relay moves one sink's cursor through the outbox.
type relay struct {
	m      *Manager
	s      sink
	met    *sinkMetrics
	cursor atomic.Uint64 // last seq passed and durably recorded
	// moved is when the cursor last advanced (unix nanoseconds).
	moved atomic.Int64
	wake  chan struct{}

	// bufs are two read buffers: while the sink delivers one, the next batch is read into the
	// other. next is that prefetched batch, if any.
	bufs [2]batch
	next *batch
}

// batch is a run of outbox events read in one go; evs' JSON aliases arena, their Receivers rcvs.
type batch struct {
	from, last uint64 // seqs covered: [from, last]
	evs        []Event
	arena      []byte
	rcvs       []string
}

func newRelay(m *Manager, s sink, cursor uint64) *relay {
	r := &relay{m: m, s: s, met: metricsFor(s.name()), wake: make(chan struct{}, 1)}
	r.cursor.Store(cursor)
	r.moved.Store(time.Now().UnixNano())
	return r
}

func (r *relay) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *relay) run(ctx context.Context) {
	poll := time.NewTicker(r.m.opts.Poll)
	defer poll.Stop()
	backoff := time.Duration(0)
	for {
		more, err := r.step(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.met.failed.Inc()
			r.met.retries.Inc()
			backoff = nextBackoff(backoff, r.m.opts.RetryBackoff, r.m.opts.RetryMaxBackoff)
			r.m.retries.note(r.s.name(), "", err.Error(), "after", r.cursor.Load(), "retry_in", backoff)
			if !sleepCtx(ctx, backoff) {
				return
			}
			continue
		}
		backoff = 0
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-poll.C:
		}
	}
}

// step delivers one batch, reading the following one meanwhile; it reports whether it moved the
// cursor.
func (r *relay) step(ctx context.Context) (bool, error) {
	cur := r.cursor.Load()
	b := r.next
	r.next = nil
	if b == nil || b.from != cur+1 {
		h := r.m.src.Horizon()
		if cur+1 >= h {
			r.met.lag.Set(0)
			return false, nil
		}
		b = &r.bufs[0]
		if err := r.read(b, cur+1, h); err != nil {
			return false, err
		}
	}
	// Prefetch the next batch while the sink works on this one.
	var (
		nb      *batch
		nbErr   error
		fetched = make(chan struct{})
	)
	if h := r.m.src.Horizon(); b.last+1 < h {
		nb = &r.bufs[0]
		if nb == b {
			nb = &r.bufs[1]
		}
		r.met.lag.Set(float64(h - 1 - cur))
		go func() {
			defer close(fetched)
			nbErr = r.read(nb, b.last+1, h)
		}()
	} else {
		close(fetched)
	}
	var err error
	if len(b.evs) > 0 {
		err = r.s.deliver(ctx, b.evs)
	}
	<-fetched
	if err != nil {
		return false, err
	}
	if err := r.m.saveCursor(r.s.name(), b.last); err != nil {
		return false, err
	}
	r.cursor.Store(b.last)
	r.moved.Store(time.Now().UnixNano())
	if nb != nil && nbErr == nil {
		r.next = nb
	}
	if h := r.m.src.Horizon(); h-1 > b.last {
		r.met.lag.Set(float64(h - 1 - b.last))
	} else {
		r.met.lag.Set(0)
	}
	return true, nil
}

// read loads up to BatchSize events (and about BatchBytes of JSON) with seqs in [from, h) that the
// sink takes into b, rendering campaign chunk entries; b.last is the last seq covered (h-1 unless
// the batch is cut short; seqs without an entry below the horizon belong to failed commits).
func (r *relay) read(b *batch, from, h uint64) error {
	b.from, b.last = from, h-1
	clear(b.evs) // drop the previous batch's strings
	b.evs = b.evs[:0]
	b.arena = b.arena[:0]
	clear(b.rcvs)
	b.rcvs = b.rcvs[:0]
	to := min(h, from+uint64(r.m.opts.BatchSize))
	size := 0
	full := func() bool { return len(b.evs) >= r.m.opts.BatchSize || size >= r.m.opts.BatchBytes }
	add := func(seq uint64, ev *storage.OutboxEvent) bool {
		start := len(b.arena)
		b.arena = append(b.arena, ev.JSON...)
		e := Event{Seq: seq, OutboxEvent: *ev}
		e.JSON = b.arena[start:len(b.arena):len(b.arena)]
		if len(ev.Receivers) > 0 {
			k := len(b.rcvs)
			b.rcvs = append(b.rcvs, ev.Receivers...)
			e.Receivers = b.rcvs[k:len(b.rcvs):len(b.rcvs)]
		}
		b.evs = append(b.evs, e)
		size += len(ev.JSON)
		return !full()
	}
	it := r.m.db.NewOutboxIter(from, to)
	covered := from // first seq not covered yet
	for ; it.Valid(); it.Next() {
		first, n, v := it.Entry()
		if storage.IsCampaignChunk(v) {
			next, err := r.m.src.Render(first, v, max(from, first), to, r.s.keep, add)
			if err != nil {
				// NB: an entry that cannot be rendered (corrupt, or its records gone) can never
				// be delivered; holding every sink back for it forever would be worse than
				// skipping it loudly.
				r.m.log.Error("skipping undeliverable campaign events", "sink", r.s.name(), "seq", first, "events", n, "err", err)
				r.met.corrupt.Inc()
				next = min(first+n, to)
			}
			covered = next
			if next < min(first+n, to) {
				break // the batch is full
			}
			continue
		}
		covered = first + 1
		var ev storage.OutboxEvent
		if err := ev.Unmarshal(v); err != nil {
			r.m.log.Error("skipping an undecodable outbox event", "sink", r.s.name(), "seq", first, "err", err)
			r.met.corrupt.Inc()
			continue
		}
		if first >= from && r.s.keep(ev.Type, ev.SkipWebhook, ev.SkipPush) && !add(first, &ev) {
			break
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("cannot read the outbox from seq %d: %w", from, err)
	}
	b.last = to - 1
	if full() {
		b.last = covered - 1
	}
	return nil
}

// nextBackoff doubles cur (starting at min) up to max.
func nextBackoff(cur, min, max time.Duration) time.Duration {
	if cur < min {
		return min
	}
	cur *= 2
	if cur > max {
		cur = max
	}
	return cur
}

// sleepCtx sleeps d; it returns false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
