package engine

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/campaignd/campaignd/engine/outbox"
)

// What the dashboard shows beyond the API's reads: the send rate history and the sinks' state.

// SendRateWindow is how much send rate history the engine keeps, one sample a second.
const SendRateWindow = 10 * time.Minute

// sendRates samples the messages sent by this engine's fan-outs once a second.
type sendRates struct {
	sent atomic.Uint64 // messages the fan-outs committed, counted by chunkCommitted

	mu      sync.Mutex
	samples []RateSample // oldest first, at most SendRateWindow / time.Second
	last    uint64
}

// RateSample is the messages sent in the second that ended at Time.
type RateSample struct {
	Time time.Time
	Sent uint64
}

func (e *Engine) startSendRates() error {
	e.rates.last = e.rates.sent.Load()
	e.goBackground(func(stop <-chan struct{}) {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				e.rates.sample(now)
			}
		}
	})
	return nil
}

func (r *sendRates) sample(now time.Time) {
	cur := r.sent.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, RateSample{Time: now, Sent: cur - r.last})
	r.last = cur
	if n := int(SendRateWindow / time.Second); len(r.samples) > n {
		r.samples = append(r.samples[:0], r.samples[len(r.samples)-n:]...)
	}
}

// SendRates returns the messages sent per second over the last SendRateWindow, oldest first.
func (e *Engine) SendRates() []RateSample {
	e.rates.mu.Lock()
	defer e.rates.mu.Unlock()
	return append([]RateSample(nil), e.rates.samples...)
}

// OutboxStatus returns the state of each enabled delivery sink (none when the outbox is off).
func (e *Engine) OutboxStatus() []outbox.SinkStatus {
	if e.outbox.mgr == nil {
		return nil
	}
	return e.outbox.mgr.Status()
}
