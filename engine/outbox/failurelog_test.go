package outbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, s := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestFailureLogSummarises: 1,000 failures of one sink and 5 of another within an interval write
// two lines per sink (the first failure, then a summary counting the rest), not one per failure.
func TestFailureLogSummarises(t *testing.T) {
	old := FailureLogInterval
	FailureLogInterval = 200 * time.Millisecond
	defer func() { FailureLogInterval = old }()
	var buf lockedBuffer
	f := newFailureLog(slog.New(slog.NewJSONHandler(&buf, nil)), slog.LevelWarn, "webhook event dead-lettered")
	for i := range 1000 {
		f.note("webhook", fmt.Sprintf("ev-%d", i), "HTTP 422", "seq", i)
	}
	for i := range 5 {
		f.note("kafka", fmt.Sprintf("k-%d", i), "too large")
	}
	if n := len(buf.lines()); n != 2 {
		t.Fatalf("%d lines before the interval ended; want 2 (the first failure of each sink)", n)
	}
	// NB: an internal test (failureLog is unexported): the package's checkFor is in outbox_test.
	for deadline := time.Now().Add(5 * time.Second); len(buf.lines()) != 4; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d lines after the interval; want 4", len(buf.lines()))
		}
	}
	more := map[string]float64{}
	for _, l := range buf.lines() {
		if l["msg"] == "webhook event dead-lettered (summary)" {
			more[l["sink"].(string)] = l["more"].(float64)
			if l["sink"] == "webhook" && (l["last_event_id"] != "ev-999" || l["last_error"] != "HTTP 422") {
				t.Fatalf("unexpected summary %v", l)
			}
		} else if l["err"] == nil || l["event_id"] == nil {
			t.Fatalf("the first failure's line lacks the event or the error: %v", l)
		}
	}
	if more["webhook"] != 999 || more["kafka"] != 4 {
		t.Fatalf("unexpected summaries %v; want webhook 999, kafka 4", more)
	}
	// A new window starts with a line of its own.
	f.note("webhook", "ev-x", "HTTP 500")
	if n := len(buf.lines()); n != 5 {
		t.Fatalf("%d lines; want 5", n)
	}
}
