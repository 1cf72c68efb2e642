package httpd

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/campaignd/campaignd/engine"
)

// Options configures the HTTP server. A zero field means the default.
type Options struct {
	// ListenAddr is the TCP address to listen on. Default: 127.0.0.1:3030.
	ListenAddr string
	// APIKey and APISecret authenticate requests (wire spec §2). Both are required.
	APIKey    string
	APISecret string
	// MaxBodySize is the largest request body accepted, in bytes (413 code 22 above it), except
	// for streamed endpoints such as the bulk import. Default: 16 MiB.
	MaxBodySize int
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
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	if o.APIKey == "" || o.APISecret == "" {
		return errors.New("httpd: APIKey and APISecret must be set")
	}
	return nil
}

// Server serves the Stream-compatible REST API, /healthz and /metrics.
type Server struct {
	opts  Options
	e     *engine.Engine
	auth  *authenticator
	rt    router
	srv   *fasthttp.Server
	ln    net.Listener
	ready atomic.Bool
	log   *slog.Logger
}

// New builds a server over e. Call Serve to start it and Shutdown to stop it.
func New(e *engine.Engine, opts Options) (*Server, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, e: e, auth: newAuthenticator(opts.APIKey, opts.APISecret), log: opts.Logger}
	s.routes()
	s.srv = &fasthttp.Server{
		Handler:               s.handle,
		Name:                  "campaignd",
		StreamRequestBody:     true,
		MaxRequestBodySize:    opts.MaxBodySize,
		ReadTimeout:           5 * time.Minute,
		WriteTimeout:          5 * time.Minute,
		IdleTimeout:           2 * time.Minute,
		NoDefaultServerHeader: false,
		NoDefaultContentType:  true,
		ErrorHandler:          s.errorHandler,
		HeaderReceived: func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
			// NB: streamed routes read their own body without a size limit.
			return fasthttp.RequestConfig{MaxRequestBodySize: 1 << 40}
		},
	}
	return s, nil
}

// Listen binds the listen address; after it returns, Addr is known. Serve must follow.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.opts.ListenAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on %q: %w", s.opts.ListenAddr, err)
	}
	s.ln = ln
	return nil
}

// Addr returns the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers requests until Shutdown. /healthz answers 200 from here on.
func (s *Server) Serve() error {
	s.ready.Store(true)
	err := s.srv.Serve(s.ln)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections and waits for in-flight requests to finish.
func (s *Server) Shutdown() error {
	s.ready.Store(false)
	return s.srv.Shutdown()
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

// Engine returns the engine.
func (c *call) Engine() *engine.Engine { return c.s.e }

// reply writes a JSON object body with the Stream "duration" key added. obj must be a complete JSON
// object ("{...}").
func (c *call) reply(status int, obj []byte) error {
	buf := c.ctx.Response.Body()[:0]
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		panic("BUG: reply body is not a JSON object")
	}
	buf = append(buf, obj[:len(obj)-1]...)
	if len(obj) > 2 {
		buf = append(buf, ',')
	}
	buf = append(buf, `"duration":"`...)
	buf = appendDuration(buf, time.Since(c.start))
	buf = append(buf, `"}`...)
	c.ctx.Response.SetBodyRaw(buf)
	c.ctx.SetStatusCode(status)
	c.ctx.SetContentType("application/json")
	return nil
}

func appendDuration(dst []byte, d time.Duration) []byte {
	dst = strconv.AppendFloat(dst, float64(d.Microseconds())/1000, 'f', 2, 64)
	return append(dst, "ms"...)
}

var (
	requestsTotal = metrics.NewCounter(`campaignd_http_requests_total`)
	errorsTotal   = metrics.NewCounter(`campaignd_http_errors_total`)
)

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	requestsTotal.Inc()
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
		ctx.SetContentType("text/plain; version=0.0.4")
		metrics.WritePrometheus(ctx, true)
		s.e.WritePrometheus(ctx)
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
	if !r.stream {
		if !c.readBody() {
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
func (c *call) readBody() bool {
	limit := c.s.opts.MaxBodySize
	if cl := c.ctx.Request.Header.ContentLength(); cl > limit {
		c.discardBody()
		c.fail(&engine.Error{Code: engine.CodePayloadTooBig, Msg: fmt.Sprintf("request body is %d bytes; the limit is %d bytes: send smaller batches", cl, limit)}, 413)
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
		c.discardBody()
		c.fail(&engine.Error{Code: engine.CodePayloadTooBig, Msg: fmt.Sprintf("request body exceeds %d bytes: send smaller batches", limit)}, 413)
		return false
	}
	c.body = b
	return true
}

// maxDiscard bounds how much of a rejected body is read so that the client, still sending, gets the
// error reply instead of a connection reset. Larger bodies are cut off by closing the connection.
const maxDiscard = 256 << 20

func (c *call) discardBody() {
	n, _ := io.Copy(io.Discard, io.LimitReader(c.ctx.RequestBodyStream(), maxDiscard))
	if n >= maxDiscard {
		c.ctx.SetConnectionClose()
	}
}

func (s *Server) errorHandler(ctx *fasthttp.RequestCtx, err error) {
	c := &call{ctx: ctx, s: s, start: time.Now()}
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		c.fail(&engine.Error{Code: engine.CodePayloadTooBig, Msg: "request body is too large: send smaller batches"}, 413)
		return
	}
	var se *fasthttp.ErrSmallBuffer
	if errors.As(err, &se) {
		c.fail(&engine.Error{Code: 24, Msg: "request headers are too large"}, 431)
		return
	}
	c.fail(&engine.Error{Code: engine.CodeInput, Msg: "cannot parse the request: " + err.Error()}, 400)
}
