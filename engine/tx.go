package engine

import (
	"fmt"
	"sync"

	"github.com/campaignd/campaignd/storage"
)

// Event is one produced event (message.new, channel.created, campaign.started, ...), appended to
// the outbox in the same batch as the data it describes (transactional outbox).
type Event struct {
	// ID is the stable event id consumers dedupe on (X-Webhook-Id, Kafka header). Producers derive
	// it deterministically where a replay must produce the same id (fan-out), else a UUID.
	ID string
	// Type is the event type, e.g. "message.new".
	Type string
	// Key is the Kafka record key: the cid for channel and message events, the campaign id for
	// campaign events.
	Key string
	// SkipWebhook and SkipPush keep the event off those sinks.
	SkipWebhook bool
	SkipPush    bool
	// Receivers are the user ids a push record goes to (message.new only).
	Receivers []string
	// JSON is the exact body a webhook receives and the Kafka record value.
	JSON []byte
}

// Tx is a unit of work: one Pebble batch plus the outbox events committed atomically with it.
// A Tx is used by one goroutine. Commit or Discard it.
type Tx struct {
	B      *storage.Batch
	events []Event
	// ref, when set, is an encoded storage.CampaignChunk: a fan-out chunk's refEvents events by
	// reference, stored as one outbox entry after the events (fanout.go).
	ref       []byte
	refEvents uint64
	// locks are the channel latches and message-id reservations held until the Tx ends
	// (engine/channels.go).
	locks txLocks
}

// NewTx starts a unit of work.
func (e *Engine) NewTx() *Tx {
	return &Tx{B: e.db.NewBatch()}
}

// NewTxSize is NewTx with room for about size bytes of writes (bulk writes such as the import).
func (e *Engine) NewTxSize(size int) *Tx {
	return &Tx{B: e.db.NewBatchSize(size)}
}

// Emit appends ev to the unit of work; it is stored when the Tx commits. ev.JSON must not be
// modified afterwards.
func (t *Tx) Emit(ev Event) { t.events = append(t.events, ev) }

// Events returns the number of events emitted so far.
func (t *Tx) Events() int { return len(t.events) }

// Discard drops the unit of work.
func (t *Tx) Discard() {
	t.B.Close()
	t.locks.release()
}

// Commit writes the batch and its events atomically with fsync, then wakes the outbox relays.
func (e *Engine) Commit(t *Tx) error {
	defer t.locks.release()
	n := uint64(len(t.events)) + t.refEvents
	if n == 0 {
		return t.B.Commit(true)
	}
	first := e.seq.reserve(n)
	e.putEvents(t, first)
	err := t.B.Commit(true)
	e.seq.release(first, n)
	if err != nil {
		return fmt.Errorf("cannot commit %d events: %w", n, err)
	}
	e.notifyOutbox()
	return nil
}

// putEvents writes t's events into its batch, the first under outbox seq first.
func (e *Engine) putEvents(t *Tx, first uint64) {
	buf := getBuf()
	for i := range t.events {
		ev := &t.events[i]
		rec := storage.OutboxEvent{
			ID: ev.ID, Type: ev.Type, Key: ev.Key,
			SkipWebhook: ev.SkipWebhook, SkipPush: ev.SkipPush,
			Receivers: ev.Receivers, JSON: ev.JSON,
		}
		*buf = rec.Marshal((*buf)[:0])
		t.B.PutOutbox(first+uint64(i), *buf)
	}
	if t.ref != nil {
		t.B.PutOutbox(first+uint64(len(t.events)), t.ref)
	}
	putBuf(buf)
}

// Apply is Commit without waiting for the fsync: it writes the batch and its events atomically,
// makes them visible and releases the Tx's latches (a later durable commit of any writer implies
// this one is durable: storage.Batch.Apply), and returns wait, which waits for the fsync, then
// lets the relays see the events and wakes them. On success wait must be called exactly once.
func (e *Engine) Apply(t *Tx) (wait func() error, err error) {
	defer t.locks.release()
	n := uint64(len(t.events)) + t.refEvents
	var first uint64
	if n > 0 {
		first = e.seq.reserve(n)
		e.putEvents(t, first)
	}
	bwait, err := t.B.Apply()
	if err != nil {
		if n > 0 {
			e.seq.release(first, n)
		}
		return nil, err
	}
	return func() error {
		err := bwait()
		if n > 0 {
			// NB: released only once durable: relays read below the horizon, so they never deliver
			// an event that a crash could still take back.
			e.seq.release(first, n)
			if err == nil {
				e.notifyOutbox()
			}
		}
		if err != nil {
			return fmt.Errorf("cannot commit %d events: %w", n, err)
		}
		return nil
	}, nil
}

// seqAllocator hands out outbox sequence numbers and tracks which are reserved but not yet
// committed, so that relays never read past a hole that a slower commit will still fill.
//
// NB: batches commit in any order, so seq N+1 can be visible before seq N. Relays read only up to
// Horizon(): every seq below it is committed (or its commit failed and it will never appear).
type seqAllocator struct {
	mu      sync.Mutex
	next    uint64            // next seq to hand out
	pending map[uint64]uint64 // first seq -> count, reserved and not yet released
}

func (a *seqAllocator) init(next uint64) {
	a.next = next
	a.pending = make(map[uint64]uint64)
}

func (a *seqAllocator) reserve(n uint64) uint64 {
	a.mu.Lock()
	first := a.next
	a.next += n
	a.pending[first] = n
	a.mu.Unlock()
	return first
}

func (a *seqAllocator) release(first, n uint64) {
	a.mu.Lock()
	delete(a.pending, first)
	a.mu.Unlock()
}

// Horizon returns the lowest seq that may still be uncommitted: every event with a smaller seq is
// either durable or will never exist.
func (a *seqAllocator) Horizon() uint64 {
	a.mu.Lock()
	h := a.next
	for first := range a.pending {
		if first < h {
			h = first
		}
	}
	a.mu.Unlock()
	return h
}

var bufPool sync.Pool

func getBuf() *[]byte {
	if v := bufPool.Get(); v != nil {
		return v.(*[]byte)
	}
	b := make([]byte, 0, 1024)
	return &b
}

func putBuf(b *[]byte) {
	*b = (*b)[:0]
	bufPool.Put(b)
}
