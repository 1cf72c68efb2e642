package httpd

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

// dashboardClient is an HTTP client with a cookie jar, like a browser.
func dashboardClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func dashReq(t *testing.T, c *http.Client, method, url, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %s", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestDashboardSession: without a session /dashboard is the login page and nothing else is
// served; a wrong key or secret is refused; the right ones give an HttpOnly, SameSite=Strict
// session cookie holding neither; a tampered or expired session is refused; logout ends it.
func TestDashboardSession(t *testing.T) {
	ts := mustStartTestServer(t)
	c := dashboardClient(t)
	resp, body := dashReq(t, c, "GET", ts.URL+"/", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `href="/dashboard"`) {
		t.Fatalf("GET /: %d %q", resp.StatusCode, body)
	}
	resp, body = dashReq(t, c, "GET", ts.URL+"/dashboard", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `id="login"`) || strings.Contains(body, "app.js") {
		t.Fatalf("GET /dashboard without a session is not the login page: %d %q", resp.StatusCode, body)
	}
	for _, p := range []string{"/dashboard/app.js", "/dashboard/api/state"} {
		if resp, _ := dashReq(t, c, "GET", ts.URL+p, ""); resp.StatusCode != 401 {
			t.Fatalf("GET %s without a session: %d; want 401", p, resp.StatusCode)
		}
	}
	if resp, _ := dashReq(t, c, "POST", ts.URL+"/dashboard/api/campaign/start", `{"id":"x"}`); resp.StatusCode != 401 {
		t.Fatalf("an action without a session: %d; want 401", resp.StatusCode)
	}
	for _, bad := range []string{`{"api_key":"` + testKey + `","api_secret":"nope"}`, `{"api_key":"nope","api_secret":"` + testSecret + `"}`, `{}`} {
		if resp, _ := dashReq(t, c, "POST", ts.URL+"/dashboard/login", bad); resp.StatusCode != 401 {
			t.Fatalf("login with %s: %d; want 401", bad, resp.StatusCode)
		}
	}
	resp, _ = dashReq(t, c, "POST", ts.URL+"/dashboard/login", `{"api_key":"`+testKey+`","api_secret":"`+testSecret+`"}`)
	if resp.StatusCode != 204 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"campaignd_dashboard=", "HttpOnly", "SameSite=Strict", "path=/dashboard", "max-age=3600"} {
		if !strings.Contains(strings.ToLower(sc), strings.ToLower(want)) {
			t.Fatalf("session cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(sc, testSecret) || strings.Contains(sc, testKey) {
		t.Fatalf("the cookie holds a credential: %q", sc)
	}
	resp, body = dashReq(t, c, "GET", ts.URL+"/dashboard", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "app.js") {
		t.Fatalf("GET /dashboard with a session: %d %q", resp.StatusCode, body)
	}
	resp, body = dashReq(t, c, "GET", ts.URL+"/dashboard/api/state", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"campaigns":[]`) || !strings.Contains(body, `"rates":`) {
		t.Fatalf("state: %d %q", resp.StatusCode, body)
	}
	if resp, _ := dashReq(t, c, "POST", ts.URL+"/dashboard/api/campaign/start", ""); resp.StatusCode != 415 {
		t.Fatalf("an action that is not JSON: %d; want 415", resp.StatusCode)
	}
	resp, body = dashReq(t, c, "POST", ts.URL+"/dashboard/api/campaign/start", `{"id":"nope"}`)
	if resp.StatusCode != 404 || !strings.Contains(body, "nope") {
		t.Fatalf("starting an unknown campaign: %d %q", resp.StatusCode, body)
	}

	// Tampered and expired sessions.
	tok := strings.TrimPrefix(strings.Split(sc, ";")[0], "campaignd_dashboard=")
	now := time.Now()
	if _, ok := ts.srv.checkSession([]byte(tok), now); !ok {
		t.Fatalf("the issued session does not check")
	}
	if _, ok := ts.srv.checkSession([]byte(tok), now.Add(DashboardSessionTTL+time.Second)); ok {
		t.Fatalf("an expired session checks")
	}
	b := []byte(tok)
	b[2] ^= 1
	if _, ok := ts.srv.checkSession(b, now); ok {
		t.Fatalf("a tampered session checks")
	}
	other := &Server{opts: Options{APIKey: testKey, APISecret: "another-secret"}}
	if _, ok := other.checkSession([]byte(tok), now); ok {
		t.Fatalf("a session of another secret checks")
	}
	raw := &http.Client{}
	req, _ := http.NewRequest("GET", ts.URL+"/dashboard/api/state", nil)
	req.Header.Set("Cookie", "campaignd_dashboard="+string(b))
	if resp, err := raw.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("a tampered cookie: %v %v", resp.StatusCode, err)
	}

	resp, _ = dashReq(t, c, "POST", ts.URL+"/dashboard/logout", "")
	if resp.StatusCode != 204 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if resp, _ := dashReq(t, c, "GET", ts.URL+"/dashboard/api/state", ""); resp.StatusCode != 401 {
		t.Fatalf("state after logout: %d; want 401", resp.StatusCode)
	}
}
