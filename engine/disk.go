package engine

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Disk space: one goroutine reads the store's free space every diskCheckInterval.
//
//   - Below Options.MinFreeDiskSpace the store is "low": CheckDiskSpace fails (the API answers
//     writes that add data with 507), fan-outs wait between chunks (waitDiskSpace), the import
//     stops between chunks. Reads, stops, deletes and the outbox relays go on: they write little
//     or free space.
//   - Below half of it (writes that could not be refused, Pebble's flushes and compactions, or
//     another process filled the disk), the store's emergency ballast is released, so that
//     Pebble never meets a full disk (it panics when a WAL or MANIFEST write fails).
//   - Space is back when the free space reaches MinFreeDiskSpace again, plus the ballast's size
//     while the ballast is released: the ballast is restored, then writes and fan-outs resume,
//     without a restart.
type diskState struct {
	min int64
	// low is set while space is low; free is the last free space read, in bytes.
	low  atomic.Bool
	free atomic.Uint64

	// checked is when free was read (unix nanoseconds).
	checked atomic.Int64

	mu sync.Mutex
	// resumed is closed when low clears, and replaced when it is set again.
	resumed chan struct{}

	refused  atomic.Uint64 // writes refused for low space
	released atomic.Uint64 // ballast releases
}

// diskCheckInterval is how often the watcher reads the free space (one statfs call), and
// diskFreshness how old a reading CheckDiskSpace trusts.
const (
	diskCheckInterval = 200 * time.Millisecond
	diskFreshness     = 10 * time.Millisecond
)

// DefaultMinFreeDiskSpace is Options.MinFreeDiskSpace's default. It leaves room for what still
// writes while the API refuses writes: the memtables being flushed (up to 4 × 256 MiB), chunks
// already built, relay cursors, compactions.
const DefaultMinFreeDiskSpace = 1 << 30

// CodeDiskFull is the Stream code of the 507 answered while disk space is low: Stream's
// InternalSystemError (-1); the HTTP status (507 Insufficient Storage) says what it is.
const CodeDiskFull = CodeInternal

// startDisk reads the free space once (so that the state is right from the first request),
// restores the ballast when there is room, and starts the watcher.
func (e *Engine) startDisk() error {
	d := &e.disk
	d.min = e.opts.MinFreeDiskSpace
	d.resumed = make(chan struct{})
	close(d.resumed)
	if err := e.checkDisk(); err != nil {
		return err
	}
	e.goBackground(func(stop <-chan struct{}) {
		t := time.NewTicker(diskCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if err := e.checkDisk(); err != nil {
				e.log.Error("cannot check the free disk space", "err", err)
			}
		}
	})
	return nil
}

// checkDisk reads the free space and moves the state: low or not, ballast released or restored.
func (e *Engine) checkDisk() error {
	d := &e.disk
	free, _, err := e.db.DiskSpace()
	if err != nil {
		return err
	}
	d.free.Store(free)
	d.checked.Store(time.Now().UnixNano())
	ballast := e.db.BallastSize()
	hasBallast := ballast <= 0 || e.db.HasBallast()
	if !hasBallast && free >= uint64(d.min+ballast) {
		if err := e.db.RestoreBallast(); err != nil {
			e.log.Error("cannot restore the disk ballast", "err", err)
		} else {
			e.log.Info("restored the disk ballast", "bytes", ballast)
			hasBallast = true
			if free, _, err = e.db.DiskSpace(); err != nil {
				return err
			}
			d.free.Store(free)
		}
	}
	if hasBallast && ballast > 0 && free < uint64(d.min/2) {
		if ok, err := e.db.ReleaseBallast(); err != nil {
			e.log.Error("cannot release the disk ballast", "err", err)
		} else if ok {
			d.released.Add(1)
			hasBallast = false
			e.log.Warn("free disk space is critical: released the disk ballast", "free_bytes", free, "ballast_bytes", ballast, "min_free_bytes", d.min)
		}
	}
	// Writes resume once the ballast can be restored, so that resumed writes never use it up.
	need := uint64(d.min)
	if !hasBallast && ballast > 0 {
		need += uint64(ballast)
	}
	e.setDiskLow(free < uint64(d.min) || (d.low.Load() && free < need), free)
	return nil
}

// setDiskLow moves the low state to low (free is the space just read) and logs a change.
func (e *Engine) setDiskLow(low bool, free uint64) {
	d := &e.disk
	d.mu.Lock()
	if low == d.low.Load() {
		d.mu.Unlock()
		return
	}
	d.low.Store(low)
	if low {
		d.resumed = make(chan struct{})
	} else {
		close(d.resumed)
	}
	d.mu.Unlock()
	if low {
		e.log.Warn("free disk space is low: refusing writes and pausing campaigns until space is freed", "free_bytes", free, "min_free_bytes", d.min)
	} else {
		e.log.Info("free disk space is back: writes and campaigns resume", "free_bytes", free, "min_free_bytes", d.min)
	}
}

// DiskSpaceLow reports whether the store's free space is below Options.MinFreeDiskSpace.
func (e *Engine) DiskSpaceLow() bool { return e.disk.low.Load() }

// diskLowNow is DiskSpaceLow after refreshing a reading older than diskFreshness (one statfs):
// writers check it before each write so that a burst of writes between two checks of the
// watcher cannot run far past the threshold. Only the watcher clears the state (and handles
// the ballast).
func (e *Engine) diskLowNow() bool {
	d := &e.disk
	if !d.low.Load() && time.Now().UnixNano()-d.checked.Load() > int64(diskFreshness) {
		if free, _, err := e.db.DiskSpace(); err == nil {
			d.free.Store(free)
			d.checked.Store(time.Now().UnixNano())
			if free < uint64(d.min) {
				e.setDiskLow(true, free)
			}
		}
	}
	return d.low.Load()
}

// CheckDiskSpace returns nil, or, while disk space is low, the error (HTTP 507) a write that
// adds data must answer with.
func (e *Engine) CheckDiskSpace() error {
	if !e.diskLowNow() {
		return nil
	}
	e.disk.refused.Add(1)
	return &Error{Code: CodeDiskFull, Status: 507, Msg: fmt.Sprintf(
		"campaignd is low on disk space (%d bytes free; writes need at least %d, -storage.minFreeDiskSpaceBytes): writes are refused until space is freed, reads keep working; retry later",
		e.disk.free.Load(), e.disk.min)}
}

// waitDiskSpace waits while disk space is low. It returns false when stop closed or stopped
// (polled every 100 ms; nil: never) returned true first.
func (e *Engine) waitDiskSpace(stop <-chan struct{}, stopped func() bool) bool {
	var tick *time.Ticker
	for e.diskLowNow() {
		if stopped != nil && stopped() {
			return false
		}
		if tick == nil {
			tick = time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
		}
		e.disk.mu.Lock()
		resumed := e.disk.resumed
		e.disk.mu.Unlock()
		select {
		case <-resumed:
		case <-tick.C:
		case <-stop:
			return false
		}
	}
	return stopped == nil || !stopped()
}

func (e *Engine) writeDiskMetrics(w io.Writer) {
	low := uint64(0)
	if e.disk.low.Load() {
		low = 1
	}
	ballast := uint64(0)
	if e.db.BallastSize() > 0 && e.db.HasBallast() {
		ballast = uint64(e.db.BallastSize())
	}
	metrics.WriteGaugeUint64(w, "campaignd_disk_free_bytes", e.disk.free.Load())
	metrics.WriteGaugeUint64(w, "campaignd_disk_space_low", low)
	metrics.WriteGaugeUint64(w, "campaignd_disk_ballast_bytes", ballast)
	metrics.WriteCounterUint64(w, "campaignd_disk_writes_refused_total", e.disk.refused.Load())
	metrics.WriteCounterUint64(w, "campaignd_disk_ballast_released_total", e.disk.released.Load())
}
