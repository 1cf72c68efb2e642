package httpd

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/engine/outbox"
)

func TestDeadLetterEndpoints(t *testing.T) {
	var rejecting atomic.Bool
	rejecting.Store(true)
	var mu sync.Mutex
	got := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(testSecret))
		mac.Write(body)
		if r.Header.Get("X-Signature") != hex.EncodeToString(mac.Sum(nil)) {
			w.WriteHeader(401)
			return
		}
		if rejecting.Load() {
			w.WriteHeader(422)
			return
		}
		mu.Lock()
		got[r.Header.Get("X-Webhook-Id")]++
		mu.Unlock()
	}))
	defer hook.Close()
	ts := mustStartTestServerWithOutbox(t, outbox.Options{WebhookURL: hook.URL, Poll: 10 * time.Millisecond})

	tx := ts.E.NewTx()
	for i := range 5 {
		id := fmt.Sprintf("ev-%d", i)
		tx.Emit(engine.Event{ID: id, Type: "message.new", Key: "messaging:x", JSON: []byte(`{"type":"message.new","n":` + fmt.Sprint(i) + `}`)})
	}
	if err := ts.E.Commit(tx); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		status, m := ts.do("GET", "/campaignd/deadletters?sink=webhook", nil)
		if status != 200 {
			return fmt.Errorf("status %d: %v", status, m)
		}
		if n := len(m["dead_letters"].([]any)); n != 5 {
			return fmt.Errorf("%d dead letters", n)
		}
		return nil
	})
	status, m := ts.do("GET", "/campaignd/deadletters?sink=webhook&limit=3", nil)
	if status != 200 || len(m["dead_letters"].([]any)) != 3 {
		t.Fatalf("unexpected first page %d %v", status, m)
	}
	dl := m["dead_letters"].([]any)[0].(map[string]any)
	if dl["id"] != "ev-0" || dl["type"] != "message.new" || dl["key"] != "messaging:x" || dl["attempts"] != 1.0 ||
		dl["last_error"] != "HTTP 422" || dl["event"].(map[string]any)["n"] != 0.0 || dl["dead_at"] == "" {
		t.Fatalf("unexpected dead letter %v", dl)
	}
	next, ok := m["next"].(float64)
	if !ok {
		t.Fatalf("a full page lacks next: %v", m)
	}
	status, m = ts.do("GET", fmt.Sprintf("/campaignd/deadletters?after=%d&limit=3", int(next)), nil)
	if status != 200 || len(m["dead_letters"].([]any)) != 2 || m["next"] != nil {
		t.Fatalf("unexpected second page %d %v", status, m)
	}

	status, m = ts.do("GET", "/campaignd/deadletters?sink=nope", nil)
	wantError(t, status, m, 400, 4)
	status, m = ts.do("GET", "/campaignd/deadletters?sink=kafka", nil)
	if status != 200 || len(m["dead_letters"].([]any)) != 0 {
		t.Fatalf("unexpected kafka dead letters %d %v", status, m)
	}
	status, m = ts.do("POST", "/campaignd/deadletters/replay", `{"sink":"kafka"}`)
	wantError(t, status, m, 400, 4)
	status, m = ts.do("GET", "/campaignd/deadletters?limit=0", nil)
	wantError(t, status, m, 400, 4)
	status, m = ts.do("POST", "/campaignd/deadletters/replay", `{"ids":7}`)
	wantError(t, status, m, 400, 4)

	rejecting.Store(false)
	status, m = ts.do("POST", "/campaignd/deadletters/replay", map[string]any{"ids": []string{"ev-1"}})
	if status != 200 || m["replayed"] != 1.0 || m["delivered"] != 1.0 || m["failed"] != 0.0 {
		t.Fatalf("unexpected replay answer %d %v", status, m)
	}
	status, m = ts.do("POST", "/campaignd/deadletters/replay", nil)
	if status != 200 || m["replayed"] != 4.0 || m["delivered"] != 4.0 {
		t.Fatalf("unexpected replay answer %d %v", status, m)
	}
	status, m = ts.do("GET", "/campaignd/deadletters", nil)
	if status != 200 || len(m["dead_letters"].([]any)) != 0 {
		t.Fatalf("dead letters left after replay: %d %v", status, m)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range 5 {
		if got[fmt.Sprintf("ev-%d", i)] != 1 {
			t.Fatalf("unexpected deliveries of ev-%d: %d", i, got[fmt.Sprintf("ev-%d", i)])
		}
	}

	// Without a webhook sink, replay says how to turn it on.
	ts2 := mustStartTestServerWithOutbox(t, outbox.Options{})
	status, m = ts2.do("POST", "/campaignd/deadletters/replay", "{}")
	wantError(t, status, m, 400, 4)
}
