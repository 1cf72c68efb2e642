package httpd

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestHealthz(t *testing.T) {
	ts := mustStartTestServer(t)
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %s", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("unexpected status; got %d; want 200", resp.StatusCode)
	}
}

func TestAuth(t *testing.T) {
	ts := mustStartTestServer(t)
	// The token the SDK sends for secret SECRET must fail with our secret.
	const sdkToken = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzZXJ2ZXIiOnRydWV9.c3gLyYYgWMGAO9pMhg81wLvrv6XQ_r-dTelnLXfnDIM"
	noneToken := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzZXJ2ZXIiOnRydWV9."
	f := func(token, path string, wantStatus, wantCode int) {
		t.Helper()
		status, m := ts.doToken(token, "GET", path, nil)
		wantError(t, status, m, wantStatus, wantCode)
	}
	f(ts.token, "/segments/x?api_key=", 401, 2) // the first api_key (empty) is the one read
	f("", "/segments/x", 401, 5)
	f("a.b", "/segments/x", 401, 5)
	f(sdkToken, "/segments/x", 401, 43)
	f(noneToken, "/segments/x", 401, 43)
	f(signToken(t, jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()}), "/segments/x", 401, 40)
	f(signToken(t, jwt.MapClaims{"nbf": time.Now().Add(time.Hour).Unix()}), "/segments/x", 401, 41)
	f(signToken(t, jwt.MapClaims{"iat": time.Now().Add(time.Hour).Unix()}), "/segments/x", 401, 42)
	f(signToken(t, jwt.MapClaims{"user_id": "u1"}), "/segments/x", 403, 17)

	// A wrong api_key.
	status, raw := ts.doRaw(ts.token, "GET", "/segments/x?api_key=nope", nil)
	if status != 401 || !strings.Contains(string(raw), `"code":2`) {
		t.Fatalf("unexpected reply to a wrong api_key; got %d %s", status, raw)
	}
}

func TestRoutingEscapedPath(t *testing.T) {
	var rt router
	var got []string
	rt.add("GET", "/segments/{id}/target/{targetId}", "X", true, func(c *call) error { got = c.params; return nil })
	rt.add("POST", "/segments/query", "Q", true, nil)
	rt.add("GET", "/segments/{id}", "G", true, nil)
	f := func(method, path string, wantOp string, wantParams ...string) {
		t.Helper()
		r, params, _, _ := rt.match([]byte(method), []byte(path), nil)
		op := ""
		if r != nil {
			op = r.op
		}
		if op != wantOp {
			t.Fatalf("unexpected route for %s %s; got %q; want %q", method, path, op, wantOp)
		}
		if strings.Join(params, "|") != strings.Join(wantParams, "|") {
			t.Fatalf("unexpected params for %s; got %q; want %q", path, params, wantParams)
		}
	}
	f("GET", "/segments/seg%201%2Fx/target/%C3%A9t%C3%A9", "X", "seg 1/x", "été")
	f("GET", "/segments/a%2Fb", "G", "a/b")
	f("POST", "/segments/query", "Q")
	f("GET", "/segments/query", "G", "query")
	f("GET", "//segments/a/", "G", "a")
	f("DELETE", "/segments/a", "")
	f("GET", "/nope", "")
	_ = got
}

func TestErrorEnvelopeForUnknownPath(t *testing.T) {
	ts := mustStartTestServer(t)
	status, m := ts.do("GET", "/nope", nil)
	wantError(t, status, m, 404, 16)
	status, m = ts.do("PATCH", "/segments/x", nil)
	wantError(t, status, m, 405, 4)
}

func TestBodyTooLarge(t *testing.T) {
	ts := mustStartTestServer(t)
	big := `{"target_ids":["` + strings.Repeat("x", 2<<20) + `"]}`
	status, m := ts.do("POST", "/segments/x/addtargets", big)
	wantError(t, status, m, 413, 22)
}

// TestStorageMetrics checks the store's health metrics on /metrics of real servers: two in one
// process, each showing its own store.
func TestStorageMetrics(t *testing.T) {
	ts := mustStartTestServer(t)
	idle := mustStartTestServer(t)
	ts.upsert(map[string]map[string]any{"a": {"id": "a"}, "b": {"id": "b"}})
	ts.mustOK("POST", "/channels/messaging/m/query", map[string]any{"data": map[string]any{"members": []string{"a", "b"}, "created_by_id": "a"}})
	const messages = 20
	for i := range messages {
		ts.mustOK("POST", "/channels/messaging/m/message", map[string]any{"message": map[string]any{"text": fmt.Sprintf("hello %d", i), "user_id": "a"}})
	}
	if err := ts.DB.Flush(); err != nil {
		t.Fatalf("cannot flush: %s", err)
	}
	// Read the channel back twice from the flushed sstable: block cache misses, then hits.
	for range 2 {
		ts.mustOK("POST", "/channels/messaging/m/query", map[string]any{})
	}

	var m map[string]float64
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		m = ts.mustGetMetrics()
		// NB: every API write is one sync commit; an fsync is counted just after its commit returns.
		if got := m["campaignd_storage_wal_fsyncs_total"]; got < messages {
			return fmt.Errorf("unexpected campaignd_storage_wal_fsyncs_total %v; want at least %d", got, messages)
		}
		return nil
	})
	f := func(name string, min, max float64) {
		t.Helper()
		v, ok := m[name]
		if !ok {
			t.Fatalf("/metrics lacks %s", name)
		}
		if v < min || v > max {
			t.Fatalf("unexpected %s; got %v; want %v..%v", name, v, min, max)
		}
	}
	const big = 1 << 40
	f("campaignd_storage_wal_bytes_in_total", messages*100, big)
	f("campaignd_storage_wal_written_bytes_total", m["campaignd_storage_wal_bytes_in_total"], big)
	f("campaignd_storage_wal_fsync_seconds_total", 1e-9, 10*m["campaignd_storage_wal_fsyncs_total"])
	f("campaignd_storage_wal_files", 1, 10)
	f("campaignd_storage_flushes_total", 1, 10)
	f("campaignd_storage_flushed_bytes_total", 100, big)
	f("campaignd_storage_flush_seconds_total", 1e-9, 60)
	f("campaignd_storage_compactions_total", 0, 10)
	f("campaignd_storage_compacted_bytes_total", 0, big)
	f(`campaignd_storage_level_files{level="0"}`, 1, 10)
	f(`campaignd_storage_level_bytes{level="0"}`, 100, big)
	f(`campaignd_storage_level_files{level="6"}`, 0, 0)
	f("campaignd_storage_l0_files", 1, 10)
	f("campaignd_storage_l0_sublevels", 1, 10)
	f("campaignd_storage_read_amplification", 1, 10)
	f(`campaignd_storage_write_stalls_total{reason="memtables"}`, 0, 0)
	f(`campaignd_storage_write_stalls_total{reason="l0"}`, 0, 0)
	f("campaignd_storage_write_stall_seconds_total", 0, 0)
	f("campaignd_storage_write_stalled", 0, 0)
	f("campaignd_storage_disk_usage_bytes", m[`campaignd_storage_level_bytes{level="0"}`], big)
	f("campaignd_storage_block_cache_misses_total", 1, big)
	f("campaignd_storage_block_cache_hits_total", 1, big)
	f("campaignd_storage_block_cache_size_bytes", 1, 256<<20)
	f("campaignd_storage_memtable_size_bytes", 1, 1<<30)
	f("campaignd_storage_memtables", 1, 4)
	f("campaignd_storage_background_errors_total", 0, 0)
	f("campaignd_storage_disk_slow_total", 0, 0)

	// The other server's store saw no flush and far fewer writes.
	o := idle.mustGetMetrics()
	if o["campaignd_storage_flushes_total"] != 0 || o["campaignd_storage_wal_bytes_in_total"] >= m["campaignd_storage_wal_bytes_in_total"] {
		t.Fatalf("the idle server shows another store's metrics: flushes %v, WAL bytes %v (busy one: %v)",
			o["campaignd_storage_flushes_total"], o["campaignd_storage_wal_bytes_in_total"], m["campaignd_storage_wal_bytes_in_total"])
	}
	if _, ok := o[`campaignd_http_requests_total{route="GET /metrics",status="200"}`]; !ok {
		t.Fatalf("/metrics lacks the process-wide metrics")
	}
}
