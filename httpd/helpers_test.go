package httpd

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/engine/outbox"
	"github.com/campaignd/campaignd/internal/eventually"
	"github.com/campaignd/campaignd/storage"
	"github.com/campaignd/campaignd/wire"
)

const (
	testKey    = "test-key"
	testSecret = "test-secret"
)

// testServer is a real campaignd (storage on disk, engine, fasthttp on a loopback socket).
type testServer struct {
	t     *testing.T
	URL   string
	E     *engine.Engine
	DB    *storage.DB
	token string
	srv   *Server
}

// mustStartTestServer starts a server on 127.0.0.1:0 over a fresh store in t.TempDir(); it stops
// on cleanup.
func mustStartTestServer(t *testing.T) *testServer {
	t.Helper()
	return mustStartTestServerAt(t, t.TempDir())
}

func mustStartTestServerAt(t *testing.T, dir string) *testServer {
	t.Helper()
	return mustStartTestServerWith(t, dir, engine.Options{}, Options{MaxBodySize: 1 << 20})
}

// mustStartTestServerWithOutbox is mustStartTestServer with delivery sinks configured.
func mustStartTestServerWithOutbox(t *testing.T, oo outbox.Options) *testServer {
	t.Helper()
	return mustStartTestServerWith(t, t.TempDir(), engine.Options{Outbox: oo}, Options{})
}

// mustStartTestServerWith starts a server over the store in dir with eo and so (keys, listen
// address and a zero MaxBodySize's default filled in); it stops on cleanup.
func mustStartTestServerWith(t *testing.T, dir string, eo engine.Options, so Options) *testServer {
	t.Helper()
	db, err := storage.Open(storage.Options{Path: dir})
	if err != nil {
		t.Fatalf("cannot open storage: %s", err)
	}
	eo.APIKey, eo.APISecret, eo.Encoder = testKey, testSecret, wire.Legacy{}
	e, err := engine.Open(db, eo)
	if err != nil {
		t.Fatalf("cannot open engine: %s", err)
	}
	if err := e.Start(); err != nil {
		t.Fatalf("cannot start engine: %s", err)
	}
	so.ListenAddr, so.APIKey, so.APISecret = "127.0.0.1:0", testKey, testSecret
	srv, err := New(e, so)
	if err != nil {
		t.Fatalf("cannot create server: %s", err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatalf("cannot listen: %s", err)
	}
	go func() { _ = srv.Serve() }()
	ts := &testServer{t: t, URL: "http://" + srv.Addr(), E: e, DB: db, srv: srv, token: signToken(t, jwt.MapClaims{"server": true})}
	t.Cleanup(ts.Stop)
	return ts
}

// Stop shuts the server down and closes the store; it is idempotent.
func (ts *testServer) Stop() {
	if ts.srv == nil {
		return
	}
	_ = ts.srv.Shutdown()
	ts.E.Stop()
	_ = ts.DB.Close()
	ts.srv = nil
}

func signToken(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatalf("cannot sign token: %s", err)
	}
	return s
}

// do sends a request with the server token; body may be nil, a string or any value to JSON-encode.
// It returns the status and the decoded JSON object (nil when the body is not an object).
func (ts *testServer) do(method, path string, body any) (int, map[string]any) {
	ts.t.Helper()
	return ts.doToken(ts.token, method, path, body)
}

func (ts *testServer) doToken(token, method, path string, body any) (int, map[string]any) {
	ts.t.Helper()
	status, raw := ts.doRaw(token, method, path, body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return status, m
}

func (ts *testServer) doRaw(token, method, path string, body any) (int, []byte) {
	ts.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatalf("cannot encode body: %s", err)
		}
		r = bytes.NewReader(j)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequest(method, ts.URL+path+sep+"api_key="+testKey, r)
	if err != nil {
		ts.t.Fatalf("cannot build request: %s", err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %s", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatalf("cannot read response: %s", err)
	}
	return resp.StatusCode, raw
}

// checkFor waits for fn to return nil (eventually.Check).
func checkFor(t testing.TB, timeout, every time.Duration, fn func() error) {
	t.Helper()
	eventually.Check(t, timeout, every, fn)
}

// wantError checks a Stream error envelope.
func wantError(t *testing.T, status int, m map[string]any, wantStatus, wantCode int) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("unexpected status; got %d; want %d; body %v", status, wantStatus, m)
	}
	code, ok := m["code"].(float64)
	if !ok || int(code) != wantCode {
		t.Fatalf("unexpected code; got %v; want %d; body %v", m["code"], wantCode, m)
	}
	for _, k := range []string{"message", "StatusCode", "duration", "more_info"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("error body lacks %q: %v", k, m)
		}
	}
	if int(m["StatusCode"].(float64)) != wantStatus {
		t.Fatalf("unexpected StatusCode; got %v; want %d", m["StatusCode"], wantStatus)
	}
}

// mustGetMetrics GETs /metrics and returns its series (name with labels → value), failing on a
// malformed line or a series written twice.
func (ts *testServer) mustGetMetrics() map[string]float64 {
	ts.t.Helper()
	status, raw := ts.doRaw("", "GET", "/metrics", nil)
	if status != 200 {
		ts.t.Fatalf("GET /metrics: unexpected status %d", status)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			ts.t.Fatalf("malformed metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			ts.t.Fatalf("malformed value in metrics line %q: %s", line, err)
		}
		if _, dup := out[line[:i]]; dup {
			ts.t.Fatalf("series %s written twice", line[:i])
		}
		out[line[:i]] = v
	}
	return out
}
