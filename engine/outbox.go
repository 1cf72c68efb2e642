package engine

import (
	"context"
	"errors"

	"github.com/campaignd/campaignd/engine/outbox"
	"github.com/campaignd/campaignd/storage"
)

// outboxState is the engine's state for the outbox relays (Kafka, push, webhook).
type outboxState struct {
	mgr *outbox.Manager
}

// outboxSource gives the relays the engine's horizon and wake-up signal.
type outboxSource struct{ e *Engine }

func (s outboxSource) Horizon() uint64       { return s.e.OutboxHorizon() }
func (s outboxSource) Wake() <-chan struct{} { return s.e.OutboxWake() }
func (s outboxSource) Render(first uint64, v []byte, from, to uint64, keep outbox.Filter, emit func(uint64, *storage.OutboxEvent) bool) (uint64, error) {
	return s.e.renderChunk(first, v, from, to, keep, emit)
}

// startOutbox builds the relays of the sinks enabled in Options.Outbox and runs them until Stop.
func (e *Engine) startOutbox() error {
	opts := e.opts.Outbox
	opts.APIKey, opts.APISecret = e.opts.APIKey, e.opts.APISecret
	if opts.Logger == nil {
		opts.Logger = e.log
	}
	m, err := outbox.New(e.db, outboxSource{e}, opts)
	if err != nil {
		return err
	}
	e.outbox.mgr = m
	if sinks := m.Sinks(); len(sinks) > 0 {
		e.log.Info("outbox relays started", "sinks", sinks)
	}
	e.goBackground(m.Run)
	return nil
}

// OutboxCursor returns the last outbox seq the named sink passed, and whether the sink is enabled.
// It is meant for tests and benchmarks.
func (e *Engine) OutboxCursor(sink string) (uint64, bool) {
	if e.outbox.mgr == nil {
		return 0, false
	}
	return e.outbox.mgr.Cursor(sink)
}

// DeadLetter is an event a sink gave up on (see outbox.DeadLetter).
type DeadLetter = outbox.DeadLetter

// ReplayResult counts what ReplayDeadLetters did.
type ReplayResult = outbox.ReplayResult

// DeadLetters lists up to limit (1..1000) dead letters of sink with seq > after, in seq order.
func (e *Engine) DeadLetters(sink string, after uint64, limit int) ([]DeadLetter, error) {
	if limit < 1 || limit > 1000 {
		return nil, InputError("limit", "limit must be between 1 and 1000; got %d", limit)
	}
	dls, err := outbox.ListDeadLetters(e.db, sink, after, limit)
	if errors.Is(err, outbox.ErrUnknownSink) {
		return nil, InputError("sink", "unknown sink %q: use webhook, kafka or push", sink)
	}
	return dls, err
}

// ReplayDeadLetters delivers sink's dead letters again: all of them when ids is empty, else those
// whose event id is listed. Delivered ones are removed; the others stay with their attempts added.
func (e *Engine) ReplayDeadLetters(ctx context.Context, sink string, ids []string) (ReplayResult, error) {
	if e.outbox.mgr == nil {
		return ReplayResult{}, InputError("sink", "the outbox is not running")
	}
	res, err := e.outbox.mgr.ReplayDeadLetters(ctx, sink, ids)
	switch {
	case errors.Is(err, outbox.ErrUnknownSink):
		return res, InputError("sink", "unknown sink %q: only webhook dead letters can be replayed", sink)
	case errors.Is(err, outbox.ErrNoReplay):
		return res, InputError("sink", "%s", err.Error())
	case errors.Is(err, outbox.ErrSinkOff):
		return res, InputError("sink", "the %s sink is off: start campaignd with -webhook.url to replay its dead letters", sink)
	}
	return res, err
}
