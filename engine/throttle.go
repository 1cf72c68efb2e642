package engine

import (
	"time"

	"golang.org/x/time/rate"
)

// The per-campaign throttle (max_messages_per_second, storage.Campaign.MaxPerSecond): the fan-out
// paces itself with a token bucket (golang.org/x/time/rate) of one token per audience ordinal,
// refilled at the campaign's rate. A chunk is cut to at most throttlePiece of it (the rate ×
// ThrottleInterval), and built only once the bucket holds that many tokens, so messages go out in
// small steps at the rate, never in bursts of a whole chunk followed by silence. Ordinals that get
// no message (skipped) take tokens too: the rate is an upper bound of messages per second. The
// rate is a campaign field, so a run resumed after a restart keeps it; each run has its own
// bucket, so throttled campaigns wait without slowing the others.

// ThrottleInterval is the time one throttled chunk covers: a campaign at R messages per second
// commits chunks of about R × ThrottleInterval ordinals (at least 1, at most FanoutChunkSize).
const ThrottleInterval = 100 * time.Millisecond

// MaxMessagesPerSecond is the largest max_messages_per_second accepted.
const MaxMessagesPerSecond = 1_000_000

// throttle paces one run; a nil *throttle does not pace.
type throttle struct {
	bucket *rate.Limiter
	piece  int // ordinals per chunk at most
}

// newThrottle returns the pacer of perSecond messages per second, or nil for 0 (unthrottled).
func newThrottle(perSecond uint32) *throttle {
	if perSecond == 0 {
		return nil
	}
	piece := int(float64(perSecond) * ThrottleInterval.Seconds())
	piece = min(max(piece, 1), FanoutChunkSize)
	return &throttle{bucket: rate.NewLimiter(rate.Limit(perSecond), piece), piece: piece}
}

// wait takes n tokens (at most t.piece) for the next chunk, waiting until the bucket holds them.
// It returns false when stop or stopped closed first (nothing is taken then).
func (t *throttle) wait(n int, stop, stopped <-chan struct{}) bool {
	if t == nil {
		return true
	}
	now := time.Now()
	r := t.bucket.ReserveN(now, n)
	if !r.OK() {
		panic("BUG: a throttled chunk is larger than the throttle's burst")
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-stop:
	case <-stopped:
	}
	r.Cancel()
	return false
}
