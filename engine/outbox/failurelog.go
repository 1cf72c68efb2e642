package outbox

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// FailureLogInterval is the window of a failureLog: within it, a sink's first failure is logged
// at once and the others are counted into one summary line at the window's end.
var FailureLogInterval = 10 * time.Second

// failureLog summarises a repeated failure (dead letters, failed delivery attempts) so that an
// outage or a large campaign whose events all fail writes one line per sink per interval, not
// one per event.
type failureLog struct {
	log   *slog.Logger
	level slog.Level
	msg   string

	mu   sync.Mutex
	open map[string]*failureWindow // by sink
}

type failureWindow struct {
	since     time.Time
	count     int // failures after the first one logged
	lastID    string
	lastError string
}

func newFailureLog(log *slog.Logger, level slog.Level, msg string) *failureLog {
	return &failureLog{log: log, level: level, msg: msg, open: map[string]*failureWindow{}}
}

// note records one failure of sink for the event eventID. attrs are logged with the first
// failure of a window only.
func (f *failureLog) note(sink, eventID, reason string, attrs ...any) {
	f.mu.Lock()
	w := f.open[sink]
	if w != nil {
		w.count++
		w.lastID, w.lastError = eventID, reason
		f.mu.Unlock()
		return
	}
	f.open[sink] = &failureWindow{since: time.Now()}
	f.mu.Unlock()
	time.AfterFunc(FailureLogInterval, func() { f.flush(sink) })
	args := []any{"sink", sink}
	if eventID != "" {
		args = append(args, "event_id", eventID)
	}
	args = append(append(args, "err", reason), attrs...)
	args = append(args, "note", "further failures of this sink are summarised every "+FailureLogInterval.String())
	f.log.Log(context.Background(), f.level, f.msg, args...)
}

// flush ends sink's window, logging how many more failures it saw.
func (f *failureLog) flush(sink string) {
	f.mu.Lock()
	w := f.open[sink]
	delete(f.open, sink)
	f.mu.Unlock()
	if w == nil || w.count == 0 {
		return
	}
	args := []any{"sink", sink, "more", w.count, "interval", time.Since(w.since).Round(time.Millisecond)}
	if w.lastID != "" {
		args = append(args, "last_event_id", w.lastID)
	}
	f.log.Log(context.Background(), f.level, f.msg+" (summary)", append(args, "last_error", w.lastError)...)
}
