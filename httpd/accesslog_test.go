package httpd

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/campaignd/campaignd/engine"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %s", l, err)
		}
		out = append(out, m)
	}
	return out
}

// TestAccessLog: at DEBUG every request is logged with method, route, status, duration (a Go
// duration string) and bytes; a 5xx is logged at WARN.
func TestAccessLog(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.StringValue(a.Value.Duration().String())
		}
		return a
	}}))
	// A snapshots "directory" that is a file: POST /campaignd/snapshot fails with a 500.
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := mustStartTestServerWith(t, t.TempDir(), engine.Options{Logger: log}, Options{Logger: log, SnapshotsPath: notDir})
	if st, _ := ts.do("GET", "/campaigns/nope", nil); st != 404 {
		t.Fatalf("unexpected status %d", st)
	}
	if st, _ := ts.do("POST", "/campaignd/snapshot", nil); st != 500 {
		t.Fatalf("snapshot into a file: status %d; want 500", st)
	}
	var access, warn map[string]any
	for _, l := range buf.lines(t) {
		switch {
		case l["msg"] == "request" && l["route"] == "GET /campaigns/{id}":
			access = l
		case l["msg"] == "request failed" && l["level"] == "WARN" && l["route"] == "POST /campaignd/snapshot":
			warn = l
		}
	}
	if access == nil || access["level"] != "DEBUG" || access["method"] != "GET" || access["path"] != "/campaigns/nope" ||
		access["status"] != 404.0 || access["bytes"].(float64) < 10 {
		t.Fatalf("no or a wrong access log line for GET /campaigns/nope: %v\n%s", access, buf.b.String())
	}
	if took, _ := access["took"].(string); !strings.HasSuffix(took, "s") {
		t.Fatalf("took is not a duration string: %v", access["took"])
	}
	if warn == nil || warn["status"] != 500.0 {
		t.Fatalf("no WARN line for the 500: %v\n%s", warn, buf.b.String())
	}
}
