package httpd

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"
)

// The dashboard: a page served at /dashboard (embedded, no build step), behind a login with the
// API key and secret. The login sets a short-lived session cookie signed with a key derived from
// the secret (HMAC-SHA256), HttpOnly and SameSite=Strict; the page never holds the secret. Without
// a valid session, /dashboard answers the login page and everything under /dashboard/api/ a 401.
//
//	GET  /                                index page linking /dashboard
//	GET  /dashboard                       the app (with a session) or the login page
//	GET  /dashboard/{style.css,login.js}  assets of the login page (public: they hold no data)
//	GET  /dashboard/app.js                the app's code (session)
//	POST /dashboard/login                 {"api_key","api_secret"} → 204 + cookie, or 401
//	POST /dashboard/logout                clears the cookie
//	GET  /dashboard/api/state             campaigns, segments, sinks, dead letters, send rates
//	POST /dashboard/api/campaign/start    {"id"}
//	POST /dashboard/api/campaign/stop     {"id"}
//	POST /dashboard/api/deadletters/replay {"sink"}

//go:embed dashboard
var dashboardFS embed.FS

// DashboardSessionTTL is how long a dashboard session lasts; it is renewed while the page is used.
const DashboardSessionTTL = time.Hour

const sessionCookie = "campaignd_dashboard"

// dashboardAsset returns an embedded file.
func dashboardAsset(name string) []byte {
	b, err := dashboardFS.ReadFile("dashboard/" + name)
	if err != nil {
		panic("BUG: missing dashboard asset " + name)
	}
	return b
}

// sessionKey derives the cookie signing key from the API secret: rotating the secret ends every
// session.
func (s *Server) sessionKey() []byte {
	m := hmac.New(sha256.New, []byte(s.opts.APISecret))
	m.Write([]byte("campaignd dashboard session v1"))
	return m.Sum(nil)
}

// newSession returns a session token: base64url(expiry unix seconds, 16 random bytes) "."
// base64url(HMAC-SHA256 of that payload).
func (s *Server) newSession(now time.Time) string {
	var p [24]byte
	binary.BigEndian.PutUint64(p[:8], uint64(now.Add(DashboardSessionTTL).Unix()))
	_, _ = rand.Read(p[8:])
	m := hmac.New(sha256.New, s.sessionKey())
	m.Write(p[:])
	enc := base64.RawURLEncoding
	return enc.EncodeToString(p[:]) + "." + enc.EncodeToString(m.Sum(nil))
}

// checkSession returns the session's expiry and whether the token is a valid, unexpired session.
func (s *Server) checkSession(tok []byte, now time.Time) (time.Time, bool) {
	payload, sig, ok := bytes.Cut(tok, []byte("."))
	if !ok {
		return time.Time{}, false
	}
	enc := base64.RawURLEncoding
	p, err1 := enc.DecodeString(string(payload))
	got, err2 := enc.DecodeString(string(sig))
	if err1 != nil || err2 != nil || len(p) != 24 {
		return time.Time{}, false
	}
	m := hmac.New(sha256.New, s.sessionKey())
	m.Write(p)
	if !hmac.Equal(got, m.Sum(nil)) {
		return time.Time{}, false
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(p[:8])), 0)
	return exp, now.Before(exp)
}

func (s *Server) setSessionCookie(ctx *fasthttp.RequestCtx, value string, maxAge int) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(sessionCookie)
	c.SetValue(value)
	c.SetPath("/dashboard")
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetSecure(s.opts.TLSCertFile != "")
	if maxAge > 0 {
		c.SetMaxAge(maxAge)
	} else {
		c.SetExpire(fasthttp.CookieExpireDelete)
	}
	ctx.Response.Header.SetCookie(c)
}

// session reports whether the request carries a valid session, renewing it when less than half
// of its time is left.
func (s *Server) session(ctx *fasthttp.RequestCtx) bool {
	now := time.Now()
	exp, ok := s.checkSession(ctx.Request.Header.Cookie(sessionCookie), now)
	if ok && exp.Sub(now) < DashboardSessionTTL/2 {
		s.setSessionCookie(ctx, s.newSession(now), int(DashboardSessionTTL/time.Second))
	}
	return ok
}

// serveDashboard answers / and everything under /dashboard. It returns false for other paths.
func (s *Server) serveDashboard(ctx *fasthttp.RequestCtx, path []byte) bool {
	if string(path) != "/" && string(path) != "/dashboard" && !bytes.HasPrefix(path, []byte("/dashboard/")) {
		return false
	}
	h := &ctx.Response.Header
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	method := string(ctx.Method())
	page := func(name, typ string) {
		ctx.SetContentType(typ)
		ctx.SetBody(dashboardAsset(name))
	}
	switch p := string(path); {
	case method == "GET" && p == "/":
		page("index.html", "text/html; charset=utf-8")
	case method == "GET" && (p == "/dashboard" || p == "/dashboard/"):
		if s.session(ctx) {
			page("app.html", "text/html; charset=utf-8")
		} else {
			page("login.html", "text/html; charset=utf-8")
		}
	case method == "GET" && p == "/dashboard/style.css":
		page("style.css", "text/css; charset=utf-8")
	case method == "GET" && p == "/dashboard/login.js":
		page("login.js", "text/javascript; charset=utf-8")
	case method == "POST" && p == "/dashboard/login":
		s.dashboardLogin(ctx)
	case method == "POST" && p == "/dashboard/logout":
		s.setSessionCookie(ctx, "", 0)
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	default:
		if !s.session(ctx) {
			dashboardError(ctx, fasthttp.StatusUnauthorized, "log in at /dashboard with the API key and secret")
			return true
		}
		// NB: besides the SameSite=Strict cookie, actions must be JSON: a cross-site form cannot send it.
		if method == "POST" && !bytes.HasPrefix(ctx.Request.Header.ContentType(), []byte("application/json")) {
			dashboardError(ctx, fasthttp.StatusUnsupportedMediaType, "send actions as application/json")
			return true
		}
		switch {
		case method == "GET" && p == "/dashboard/app.js":
			page("app.js", "text/javascript; charset=utf-8")
		case method == "GET" && p == "/dashboard/api/state":
			s.dashboardState(ctx)
		case method == "POST" && (p == "/dashboard/api/campaign/start" || p == "/dashboard/api/campaign/stop"):
			s.dashboardCampaignAction(ctx, p[len("/dashboard/api/campaign/"):])
		case method == "POST" && p == "/dashboard/api/deadletters/replay":
			s.dashboardReplay(ctx)
		default:
			dashboardError(ctx, fasthttp.StatusNotFound, "no dashboard endpoint "+method+" "+p)
		}
	}
	return true
}

// dashboardLogin checks the key and secret (constant time) and sets the session cookie.
func (s *Server) dashboardLogin(ctx *fasthttp.RequestCtx) {
	var req struct {
		APIKey    string `json:"api_key"`
		APISecret string `json:"api_secret"`
	}
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
		dashboardError(ctx, fasthttp.StatusBadRequest, `send {"api_key": "...", "api_secret": "..."} as JSON`)
		return
	}
	keyOK := subtle.ConstantTimeCompare([]byte(req.APIKey), []byte(s.opts.APIKey)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(req.APISecret), []byte(s.opts.APISecret)) == 1
	if !keyOK || !secretOK {
		s.log.Warn("dashboard login refused", "remote", ctx.RemoteAddr().String())
		dashboardError(ctx, fasthttp.StatusUnauthorized, "wrong API key or secret")
		return
	}
	s.setSessionCookie(ctx, s.newSession(time.Now()), int(DashboardSessionTTL/time.Second))
	s.log.Info("dashboard login", "remote", ctx.RemoteAddr().String())
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

func dashboardError(ctx *fasthttp.RequestCtx, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

func dashboardJSON(ctx *fasthttp.RequestCtx, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		dashboardError(ctx, fasthttp.StatusInternalServerError, err.Error())
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
