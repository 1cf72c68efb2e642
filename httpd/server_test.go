package httpd

import (
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
	// The token the SDK sends for secret SECRET (wire spec §2.1) must fail with our secret.
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
