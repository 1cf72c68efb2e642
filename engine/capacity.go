package engine

import (
	"io"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/campaignd/campaignd/storage"
)

// The monthly campaign capacity (Options.MonthlyCapacity): campaign messages per calendar month
// (UTC), all campaigns together.
//
// Counting is durable and exact: each fan-out chunk writes, in its own batch, its campaign's count
// for the month (storage.PutMonthlySent, key 0x40 <yyyymm><campaign id>). One campaign's chunks
// commit one after the other, so its key only grows; chunks of different campaigns write
// different keys, so the order in which they commit does not matter (a single counter written by
// every chunk could go backwards). The month's total is the sum of its keys, read once per month
// into capacityState.
//
// Admission is exact: before a chunk is built, its campaign reserves at most what is left
// (capacity − sent − reserved) under capacityState.mu, and the chunk is cut to that many audience
// ordinals (a chunk sends at most one message per ordinal). When its commit returns, the
// reservation is settled: the messages it committed move to sent, the rest is released. So
// concurrent campaigns can never send past the capacity together, and after a crash the sum
// of the stored keys is again exactly what was committed.

// capacityState is the month's count in memory. mu is a leaf.
type capacityState struct {
	mu       sync.Mutex
	month    uint32 // yyyymm of sent and reserved; 0 before the first use
	sent     uint64 // committed campaign messages of month
	reserved uint64 // ordinals reserved by chunks of month being built or committed
}

// capReservation is what one chunk reserved.
type capReservation struct {
	month uint32
	n     uint64
}

// monthLocked makes month the current one, summing its stored counts when it changes. The caller
// holds cs.mu. Reservations of an earlier month are settled against nothing (settleCapacity).
func (e *Engine) monthLocked(month uint32) error {
	cs := &e.capacity
	if cs.month == month {
		return nil
	}
	sum, err := storage.SumMonthlySent(e.db, month)
	if err != nil {
		return err
	}
	cs.month, cs.sent, cs.reserved = month, sum, 0
	return nil
}

// reserveCapacity reserves up to want ordinals of month for a chunk. It returns the reservation
// (n may be less than want: cut the chunk to it); n == 0 with usedUp when the month's capacity is
// used up, n == 0 without it when only reservations in flight hold the rest (wait for them).
// Without a capacity it reserves want.
func (e *Engine) reserveCapacity(month uint32, want int) (res capReservation, usedUp bool, err error) {
	cs := &e.capacity
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if err := e.monthLocked(month); err != nil {
		return res, false, err
	}
	n := uint64(want)
	if limit := e.opts.MonthlyCapacity; limit > 0 {
		if cs.sent >= limit {
			return res, true, nil
		}
		n = min(n, limit-min(limit, cs.sent+cs.reserved))
	}
	cs.reserved += n
	return capReservation{month: month, n: n}, false, nil
}

// settleCapacity ends res: sent messages of it were committed (0 when its chunk was not).
func (e *Engine) settleCapacity(res capReservation, sent uint64) {
	cs := &e.capacity
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if res.month != cs.month {
		return // the month changed meanwhile: its sum was read from the store
	}
	cs.reserved -= res.n
	cs.sent += sent
}

// Usage is the month's campaign messages (GET /campaignd/usage).
type Usage struct {
	Month    string    // "2026-03"
	Sent     uint64    // campaign messages sent this month
	Capacity uint64    // Options.MonthlyCapacity; 0 = unlimited
	Left     uint64    // what is left this month (when Capacity > 0)
	ResetsAt time.Time // the next month's start (UTC)
}

// CampaignUsage returns the current month's campaign messages and what is left of the capacity.
func (e *Engine) CampaignUsage() (Usage, error) {
	now := e.Now().UTC()
	month := storage.Month(now)
	cs := &e.capacity
	cs.mu.Lock()
	err := e.monthLocked(month)
	sent := cs.sent
	cs.mu.Unlock()
	if err != nil {
		return Usage{}, err
	}
	u := Usage{Month: now.Format("2006-01"), Sent: sent, Capacity: e.opts.MonthlyCapacity,
		ResetsAt: time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)}
	if u.Capacity > u.Sent {
		u.Left = u.Capacity - u.Sent
	}
	return u, nil
}

// checkCapacityLeft refuses to start a campaign when the month's capacity is used up.
func (e *Engine) checkCapacityLeft() error {
	if e.opts.MonthlyCapacity == 0 {
		return nil
	}
	u, err := e.CampaignUsage()
	if err != nil {
		return err
	}
	if u.Left == 0 {
		return InputError("monthly_capacity", "the monthly campaign capacity of %d messages is used up for %s (%d sent, 0 left); it resets at %s: start the campaign then, or raise -campaign.monthlyCapacity",
			u.Capacity, u.Month, u.Sent, u.ResetsAt.Format(time.RFC3339))
	}
	return nil
}

// stopForCapacity stops running campaign id, which met the month's capacity, with stop_reason
// monthly_capacity, and returns errFanoutStopped.
func (e *Engine) stopForCapacity(id string) error {
	unlock := e.lockCampaign(id)
	defer unlock()
	c, found, err := e.getCampaign(id)
	if err != nil {
		return err
	}
	if found && c.Status == storage.CampaignInProgress {
		if err := e.stopCampaignLocked(c, storage.StopMonthlyCapacity); err != nil {
			return err
		}
		e.log.Info("campaign stopped: the monthly campaign capacity is used up", "campaign", id,
			"capacity", e.opts.MonthlyCapacity, "messages", c.Run.MessagesSent)
	}
	return errFanoutStopped
}

// writeCapacityMetrics writes the month's usage as campaignd_campaign_month_* gauges.
func (e *Engine) writeCapacityMetrics(w io.Writer) {
	u, err := e.CampaignUsage()
	if err != nil {
		return
	}
	metrics.WriteGaugeUint64(w, "campaignd_campaign_month_sent", u.Sent)
	metrics.WriteGaugeUint64(w, "campaignd_campaign_month_capacity", u.Capacity)
	if u.Capacity > 0 {
		metrics.WriteGaugeUint64(w, "campaignd_campaign_month_remaining", u.Left)
	}
}

// monthOf returns the yyyymm of unix nanoseconds ns.
func monthOf(ns int64) uint32 { return storage.Month(time.Unix(0, ns)) }
