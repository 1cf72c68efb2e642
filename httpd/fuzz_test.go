package httpd

import (
	"testing"
)

// FuzzRouterMatch: any raw path either matches a route whose placeholders unescape cleanly, or
// matches nothing; it never panics, and a matched literal segment equals the pattern's.
func FuzzRouterMatch(f *testing.F) {
	s := &Server{}
	s.routes()
	for _, p := range []string{"/segments/a%2Fb/target/x", "/channels/messaging/q/message", "//users/", "/segments/%zz", "/campaigns/query"} {
		f.Add("GET", p)
		f.Add("POST", p)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		r, params, _, _ := s.rt.match([]byte(method), []byte(path), nil)
		if r == nil {
			return
		}
		n := 0
		for _, seg := range r.segs {
			if seg[0] == '{' {
				n++
			}
		}
		if len(params) != n {
			t.Fatalf("route %s %v returned %d params for %d placeholders", r.method, r.segs, len(params), n)
		}
	})
}

// FuzzAuthCheck: arbitrary api keys and tokens never panic and never authenticate without the secret.
func FuzzAuthCheck(f *testing.F) {
	a := newAuthenticator("k", "secret")
	f.Add("k", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzZXJ2ZXIiOnRydWV9.c3gLyYYgWMGAO9pMhg81wLvrv6XQ_r-dTelnLXfnDIM")
	f.Add("k", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzZXJ2ZXIiOnRydWV9.")
	f.Add("", "a.b.c")
	f.Fuzz(func(t *testing.T, key, token string) {
		if _, aerr := a.check([]byte(key), []byte(token)); aerr == nil {
			t.Fatalf("token %q authenticated without being signed with the secret", token)
		}
	})
}
