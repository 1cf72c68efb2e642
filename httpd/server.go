package httpd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/wire"
)

// Options configures the HTTP server. A zero field means the default.
type Options struct {
	// ListenAddr is the TCP address to listen on. Default: 127.0.0.1:3030.
	ListenAddr string
	// APIKey and APISecret authenticate requests (api_key and a JWT signed with the secret). Both are required.
	APIKey    string
	APISecret string
	// MaxBodySize is the largest request body accepted, in bytes (413 code 22 above it), except
	// for streamed endpoints such as the bulk import. Default: 16 MiB.
	MaxBodySize int
	// MaxRequestHeaderSize bounds the request line and headers together, in bytes (fasthttp's
	// ReadBufferSize; 431 code 24 above it). The SDK sends queries such as queryUsers in the URL
	// (payload=), so it must hold a filter of 100 ids. Default: 32 KiB.
	MaxRequestHeaderSize int
	// MaxConcurrentConns bounds the connections open at once (fasthttp's Concurrency); past it a
	// new connection gets a 503 and is closed. Default: 10,000.
	MaxConcurrentConns int
	// HeaderReadTimeout is how long a client has to send a request's line and headers, from
	// the connection's opening or the request's first byte. Default: 10 s.
	HeaderReadTimeout time.Duration
	// BodyReadTimeout is how long a client has to send a request's body after its headers.
	// Default: 5 minutes.
	BodyReadTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its next request. Default: 2 minutes.
	IdleTimeout time.Duration
	// ShutdownTimeout bounds Shutdown: requests still in progress then (a client holding a
	// half-sent request, a client not reading its reply) have their connections closed.
	// Default: 10 s.
	ShutdownTimeout time.Duration
	// PprofAuthKey, when set, serves Go's profiles under /debug/pprof/ to requests carrying it as
	// the authKey query parameter. Empty: /debug/pprof/ is off.
	PprofAuthKey string
	// RateLimits are the requests per minute of each endpoint, by operation name (ratelimit.go;
	// 0 = unlimited). Default: DefaultRateLimits().
	RateLimits map[string]int
	// RateLimitsOff turns rate limiting off: no endpoint is limited and no X-RateLimit-* headers
	// are sent.
	RateLimitsOff bool
	// MetricsAuthKey, when set, is required as the authKey query parameter of /metrics.
	MetricsAuthKey string
	// FlagsAuthKey, when set, is required as the authKey query parameter of /flags.
	FlagsAuthKey string
	// Flags is the text /flags serves: the command line's flags, secrets hidden.
	Flags []byte
	// Version is the build's version, served as campaignd_build_info.
	Version string
	// TLSCertFile and TLSKeyFile, when set (both), make the server speak HTTPS only; the files
	// are read again when they change.
	TLSCertFile string
	TLSKeyFile  string
	// SnapshotsPath is the directory POST /campaignd/snapshot writes checkpoints into. Empty:
	// snapshots are off (400 code 4).
	SnapshotsPath string
	// Logger for request errors. Default: slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.ListenAddr == "" {
		o.ListenAddr = "127.0.0.1:3030"
	}
	if o.MaxBodySize == 0 {
		o.MaxBodySize = 16 << 20
	}
	if o.MaxRequestHeaderSize == 0 {
		o.MaxRequestHeaderSize = 32 << 10
	}
	if o.MaxConcurrentConns == 0 {
		o.MaxConcurrentConns = 10000
	}
	if o.HeaderReadTimeout == 0 {
		o.HeaderReadTimeout = 10 * time.Second
	}
	if o.BodyReadTimeout == 0 {
		o.BodyReadTimeout = 5 * time.Minute
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.RateLimits == nil && !o.RateLimitsOff {
		o.RateLimits = DefaultRateLimits()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	if o.APIKey == "" || o.APISecret == "" {
		return errors.New("httpd: APIKey and APISecret must be set")
	}
	if o.MaxRequestHeaderSize < 4<<10 {
		return fmt.Errorf("httpd: MaxRequestHeaderSize %d is below 4096 bytes", o.MaxRequestHeaderSize)
	}
	if o.MaxConcurrentConns < 1 || o.MaxBodySize < 1 {
		return errors.New("httpd: MaxConcurrentConns and MaxBodySize must be positive")
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return errors.New("httpd: TLSCertFile and TLSKeyFile must be set together")
	}
	if o.HeaderReadTimeout < 0 || o.BodyReadTimeout < 0 || o.IdleTimeout < 0 || o.ShutdownTimeout < 0 {
		return errors.New("httpd: timeouts must not be negative")
	}
	return nil
}

// Server serves the Stream-compatible REST API, /healthz and /metrics.
type Server struct {
	opts Options
	e    *engine.Engine
	// enc encodes every reply (Stream's legacy format, the only one served so far).
	enc   wire.Legacy
	auth  *authenticator
	rt    router
	srv   *fasthttp.Server
	ln    *listener
	ready atomic.Bool
	log   *slog.Logger
	// limits is nil when rate limiting is off.
	limits *rateLimiter
}

// New builds a server over e. Call Serve to start it and Shutdown to stop it.
func New(e *engine.Engine, opts Options) (*Server, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, e: e, auth: newAuthenticator(opts.APIKey, opts.APISecret), log: opts.Logger}
	s.routes()
	if !opts.RateLimitsOff {
		var err error
		if s.limits, err = newRateLimiter(opts.RateLimits, s.rt.ops(), time.Now); err != nil {
			return nil, err
		}
	}
	s.srv = &fasthttp.Server{
		Handler:           s.serve,
		Name:              "campaignd",
		StreamRequestBody: true,
		// NB: the listener refuses connections past MaxConcurrentConns (with a Stream-shaped
		// 503); fasthttp's bound, a little higher, only covers the moment between a connection's
		// close and its worker's release. ReduceMemoryUsage returns an idle connection's buffers.
		Concurrency:           opts.MaxConcurrentConns + 64,
		ReduceMemoryUsage:     true,
		ReadBufferSize:        opts.MaxRequestHeaderSize,
		MaxRequestBodySize:    opts.MaxBodySize,
		ReadTimeout:           opts.HeaderReadTimeout,
		WriteTimeout:          5 * time.Minute,
		IdleTimeout:           opts.IdleTimeout,
		CloseOnShutdown:       true,
		NoDefaultServerHeader: false,
		NoDefaultContentType:  true,
		ErrorHandler:          s.errorHandler,
		Logger:                fasthttpLogger{opts.Logger},
		HeaderReceived:        s.headerReceived,
		ExpectHandler:         s.expect,
	}
	return s, nil
}

// Listen binds the listen address; after it returns, Addr is known. Serve must follow.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.opts.ListenAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on %q: %w", s.opts.ListenAddr, err)
	}
	if s.opts.TLSCertFile != "" {
		certs, err := newCertLoader(s.opts.TLSCertFile, s.opts.TLSKeyFile, s.log)
		if err != nil {
			_ = ln.Close()
			return err
		}
		ln = tls.NewListener(ln, certs.tlsConfig())
	}
	s.ln = newListener(ln, s.opts.MaxConcurrentConns, s.log)
	return nil
}

// Addr returns the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the server's base URL: http:// or, with TLS, https:// and the bound address.
func (s *Server) URL() string {
	if s.opts.TLSCertFile != "" {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Serve answers requests until Shutdown. /healthz answers 200 from here on.
func (s *Server) Serve() error {
	s.ready.Store(true)
	err := s.srv.Serve(s.ln)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections and waits for in-flight requests to finish, for at most
// ShutdownTimeout: then it closes the connections still open (whatever their clients are doing)
// and waits briefly for their handlers to return. It returns an error when some did not.
func (s *Server) Shutdown() error {
	s.ready.Store(false)
	force := min(time.Second, s.opts.ShutdownTimeout/5)
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout-force)
	defer cancel()
	err := s.srv.ShutdownWithContext(ctx)
	if err == nil {
		return nil
	}
	n := s.ln.closeAll()
	s.log.Warn("closed the connections still open at the shutdown timeout", "connections", n, "timeout", s.opts.ShutdownTimeout)
	deadline := time.Now().Add(force)
	for s.srv.GetOpenConnectionsCount() > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("cannot shut down: %d requests still running after their connections were closed", s.srv.GetOpenConnectionsCount())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// handler serves one matched route.
type handler func(c *call) error

// call is the per-request context handed to handlers.
type call struct {
	ctx    *fasthttp.RequestCtx
	s      *Server
	r      *route
	params []string
	start  time.Time
	auth   authResult
	body   []byte
}

// Param returns the i-th path placeholder, unescaped.
func (c *call) Param(i int) string { return c.params[i] }

// Body returns the request body (already size-checked).
func (c *call) Body() []byte { return c.body }

// BodyStream returns the request body as a stream; only for routes added with stream set.
func (c *call) BodyStream() io.Reader { return c.ctx.RequestBodyStream() }

// Query returns a query-string argument.
func (c *call) Query(name string) []byte { return c.ctx.QueryArgs().Peek(name) }

// reply writes a JSON object body with the Stream "duration" key added. obj must be a complete JSON
// object ("{...}").
func (c *call) reply(status int, obj []byte) error {
	buf := wire.AppendReply(c.ctx.Response.Body()[:0], obj, time.Since(c.start))
	c.ctx.Response.SetBodyRaw(buf)
	c.ctx.SetStatusCode(status)
	c.ctx.SetContentType("application/json")
	return nil
}

var (
	errorsTotal = metrics.NewCounter(`campaignd_http_errors_total`)
)

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	path := ctx.Request.URI().PathOriginal()
	switch string(path) {
	case "/healthz":
		if s.ready.Load() {
			ctx.SetContentType("text/plain")
			ctx.SetBodyString("OK")
		} else {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		}
		return
	case "/metrics":
		if s.checkAuthKey(ctx, s.opts.MetricsAuthKey, "-metricsAuthKey") {
			s.writeMetrics(ctx)
		}
		return
	case "/flags":
		if s.checkAuthKey(ctx, s.opts.FlagsAuthKey, "-flagsAuthKey") {
			ctx.SetContentType("text/plain; charset=utf-8")
			ctx.SetBody(s.opts.Flags)
		}
		return
	}
	if s.serveDashboard(ctx, path) {
		return
	}
	if k := s.opts.PprofAuthKey; k != "" && bytes.HasPrefix(path, []byte("/debug/pprof/")) {
		if s.checkAuthKey(ctx, k, "-pprofAuthKey") {
			pprofhandler.PprofHandler(ctx)
		}
		return
	}
	var pbuf [4]string
	r, params, pathFound, badEscape := s.rt.match(ctx.Method(), path, pbuf[:0])
	c := &call{ctx: ctx, s: s, r: r, params: params, start: start}
	if r == nil {
		switch {
		case badEscape:
			c.fail(&engine.Error{Code: engine.CodeInput, Msg: "the request path holds an invalid percent-escape; encode ids with encodeURIComponent"}, 400)
		case pathFound:
			c.fail(&engine.Error{Code: engine.CodeInput, Msg: fmt.Sprintf("method %s is not allowed on %s", ctx.Method(), path)}, 405)
		default:
			c.fail(&engine.Error{Code: engine.CodeNotFound, Msg: fmt.Sprintf("no endpoint %s %s; check the path and the baseURL", ctx.Method(), path)}, 404)
		}
		return
	}
	res, aerr := s.auth.check(ctx.QueryArgs().Peek("api_key"), authHeader(ctx))
	if aerr != nil {
		c.fail(&engine.Error{Code: aerr.code, Msg: aerr.msg}, 401)
		return
	}
	c.auth = res
	if r.serverOnly && res.userID != "" {
		c.fail(engine.NotAllowedError("%s is a server-side endpoint: use a server token (no user_id claim), not a user token for %q", r.op, res.userID), 403)
		return
	}
	if !c.admit() {
		return
	}
	if !r.stream {
		if !c.readBody() {
			return
		}
	}
	if r.grows {
		if err := s.e.CheckDiskSpace(); err != nil {
			if r.stream {
				// The body is still coming: answer without reading it, as for a 413.
				ae, _ := engine.AsError(err)
				c.refuseBody(ae, ae.Status)
				return
			}
			c.failErr(err)
			return
		}
	}
	if err := r.h(c); err != nil {
		c.failErr(err)
	}
}

func authHeader(ctx *fasthttp.RequestCtx) []byte {
	h := ctx.Request.Header.Peek("Authorization")
	if len(h) > 7 && (string(h[:7]) == "Bearer " || string(h[:7]) == "bearer ") {
		h = h[7:]
	}
	return h
}

// readBody reads the whole body up to MaxBodySize; it answers 413 code 22 and returns false above it.
// A body declared larger is refused before any of it is read.
func (c *call) readBody() bool {
	limit := c.s.opts.MaxBodySize
	if cl := c.ctx.Request.Header.ContentLength(); cl > limit {
		c.refuseBody(&engine.Error{Code: engine.CodePayloadTooBig, Msg: fmt.Sprintf("request body is %d bytes; the limit is %d bytes (-http.maxBodySize): send smaller batches", cl, limit)}, 413)
		return false
	}
	if !c.ctx.Request.IsBodyStream() {
		c.body = c.ctx.Request.Body()
		return true
	}
	b, err := io.ReadAll(io.LimitReader(c.ctx.RequestBodyStream(), int64(limit)+1))
	if err != nil {
		c.fail(&engine.Error{Code: engine.CodeInput, Msg: "cannot read the request body: " + err.Error()}, 400)
		return false
	}
	if len(b) > limit {
		c.refuseBody(&engine.Error{Code: engine.CodePayloadTooBig, Msg: fmt.Sprintf("request body exceeds %d bytes (-http.maxBodySize): send smaller batches", limit)}, 413)
		return false
	}
	c.body = b
	return true
}

// refuseBody answers e (a 413, or a 507 for a streamed body) without reading (more of) the body,
// and closes the connection: the client may still be sending. So that the client reads the reply instead of a
// reset (closing a socket with unread data sends RST), the connection is closed after a FIN and
// a short, bounded drain: lingerMaxBytes or lingerTimeout, whichever comes first.
func (c *call) refuseBody(e *engine.Error, status int) {
	c.fail(e, status)
	// NB: no Connection: close header: fasthttp would then close at once, skipping the hijack;
	// the hijack ends the connection's use for requests all the same.
	raw := c.ctx.Conn()
	c.ctx.Hijack(func(hc net.Conn) { lingerClose(raw, hc) })
}

const (
	lingerMaxBytes = 16 << 20
	lingerTimeout  = time.Second
)

// lingerClose sends a FIN on raw (the accepted connection), then reads and drops what the client
// still sends through hc (the hijacked connection, which owns any buffered bytes), within bounds.
// The caller closes the connection afterwards.
func lingerClose(raw, hc net.Conn) {
	if cw, ok := raw.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = hc.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, io.LimitReader(hc, lingerMaxBytes))
}

// headerReceived configures the body read once a request's header arrived (within
// HeaderReadTimeout): the body gets BodyReadTimeout. Streamed routes read their own body without
// a size limit and the others check it in readBody.
//
// NB: fasthttp reads up to 8 KiB of a streamed body before calling the handler; a body declared
// over the limit gets a limit of 1 here, so the handler answers its 413 after one byte of it.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	limit := 1 << 40
	if h.ContentLength() > s.opts.MaxBodySize {
		path, _, _ := bytes.Cut(h.RequestURI(), []byte("?"))
		var pbuf [4]string
		if r, _, _, _ := s.rt.match(h.Method(), path, pbuf[:0]); r == nil || !r.stream {
			limit = 1
		}
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: limit, ReadTimeout: s.opts.BodyReadTimeout}
}

// expect answers "Expect: 100-continue": a body declared over the limit gets the 413 at once,
// instead of a 100 Continue inviting the client to send it.
func (s *Server) expect(ctx *fasthttp.RequestCtx) int {
	cl := ctx.Request.Header.ContentLength()
	if cl <= s.opts.MaxBodySize || s.streamed(ctx) {
		return fasthttp.StatusContinue
	}
	// NB: fasthttp then closes the connection without calling the handler and writes the response
	// as it is; the Stream-shaped body set here is kept (checked by the tests).
	c := &call{ctx: ctx, s: s, start: time.Now()}
	c.fail(&engine.Error{Code: engine.CodePayloadTooBig, Msg: fmt.Sprintf("request body is %d bytes; the limit is %d bytes (-http.maxBodySize): send smaller batches", cl, s.opts.MaxBodySize)}, 413)
	return fasthttp.StatusRequestEntityTooLarge
}

// streamed reports whether the request goes to a route that reads its own body (no size limit).
func (s *Server) streamed(ctx *fasthttp.RequestCtx) bool {
	var pbuf [4]string
	r, _, _, _ := s.rt.match(ctx.Method(), ctx.Request.URI().PathOriginal(), pbuf[:0])
	return r != nil && r.stream
}

func (s *Server) errorHandler(ctx *fasthttp.RequestCtx, err error) {
	c := &call{ctx: ctx, s: s, start: time.Now()}
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		c.fail(&engine.Error{Code: engine.CodePayloadTooBig, Msg: "request body is too large: send smaller batches"}, 413)
		return
	}
	var se *fasthttp.ErrSmallBuffer
	if errors.As(err, &se) {
		c.fail(&engine.Error{Code: 24, Msg: fmt.Sprintf("the request line and headers exceed %d bytes (-http.maxRequestHeaderSize): send long query payloads (payload=) in several requests", s.opts.MaxRequestHeaderSize)}, 431)
		c.ctx.SetConnectionClose()
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.fail(&engine.Error{Code: codeRequestTimeout, Msg: fmt.Sprintf("the request was not received in time: headers within %s (-http.headerReadTimeout), the body within %s (-http.bodyReadTimeout)", s.opts.HeaderReadTimeout, s.opts.BodyReadTimeout)}, 408)
		c.ctx.SetConnectionClose()
		return
	}
	c.fail(&engine.Error{Code: engine.CodeInput, Msg: "cannot parse the request: " + err.Error()}, 400)
}

// codeRequestTimeout is Stream's RequestTimeoutError (HTTP 408).
const codeRequestTimeout = 23

// fasthttpLogger sends fasthttp's own log lines to the server's logger.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Warn(fmt.Sprintf(format, args...), "component", "fasthttp")
}
