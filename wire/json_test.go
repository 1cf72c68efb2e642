package wire

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestAppendTimeMatchesLayout(t *testing.T) {
	f := func(tm time.Time) {
		t.Helper()
		want := `"` + tm.UTC().Format(TimeLayout) + `"`
		if got := string(AppendTime(nil, tm)); got != want {
			t.Fatalf("unexpected timestamp for %v; got %s; want %s", tm, got, want)
		}
	}
	f(time.Time{})
	f(time.Unix(0, 0))
	f(time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC))
	f(time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC))
	f(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
	f(time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC))
	f(time.Date(2026, 6, 1, 12, 0, 0, 1000, time.FixedZone("x", 5*3600+1800)))
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i++ {
		f(time.Unix(r.Int64N(1<<38)-1<<37, r.Int64N(1e9)))
	}
}

func BenchmarkAppendTime(b *testing.B) {
	tm := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendTime(buf[:0], tm)
	}
}

// FuzzDecodeJSON: decoding any body into a typical request never panics, and every failure is a
// client error with a message.
func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"target_ids":["a","b"]}`))
	f.Add([]byte(`{"target_ids":"a"}`))
	f.Add([]byte(`[1,2`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req struct {
			TargetIDs []string          `json:"target_ids"`
			Limit     int               `json:"limit"`
			Filter    json.RawMessage   `json:"filter"`
			Data      map[string]any    `json:"data"`
			Sort      []json.RawMessage `json:"sort"`
		}
		if err := decodeBody(body, &req); err != nil && strings.TrimSpace(err.Error()) == "" {
			t.Fatalf("empty error message for %q", body)
		}
	})
}
