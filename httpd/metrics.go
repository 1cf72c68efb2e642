package httpd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

func init() {
	// # HELP and # TYPE lines for every family; writeMetrics fills in the help text.
	metrics.ExposeMetadata(true)
}

// requestBuckets are the upper bounds, in seconds, of the request latency histograms: 100 µs to
// about 100 s.
var requestBuckets = metrics.ExponentialBuckets(0.0001, 2.5, 16)

// routeMetrics are one route's and status's request counter and latency histogram.
type routeMetrics struct {
	requests *metrics.Counter
	latency  *metrics.PrometheusHistogram
}

type routeStatus struct {
	route  string
	status int
}

// httpMetrics caches the series of each route and status so that a request costs a map lookup.
var httpMetrics sync.Map // routeStatus → *routeMetrics

func metricsFor(route string, status int) *routeMetrics {
	k := routeStatus{route, status}
	if m, ok := httpMetrics.Load(k); ok {
		return m.(*routeMetrics)
	}
	labels := fmt.Sprintf(`{route=%s,status="%d"}`, strconv.Quote(route), status)
	m := &routeMetrics{
		requests: metrics.GetOrCreateCounter(`campaignd_http_requests_total` + labels),
		latency:  metrics.GetOrCreatePrometheusHistogramExt(`campaignd_http_request_duration_seconds`+labels, requestBuckets),
	}
	actual, _ := httpMetrics.LoadOrStore(k, m)
	return actual.(*routeMetrics)
}

// routeLabel names a request's endpoint for metrics and the access log: "METHOD /pattern" of the
// matched route (placeholders, not ids, so the label set stays small), the fixed paths as they
// are, "unmatched" otherwise.
func (s *Server) routeLabel(ctx *fasthttp.RequestCtx) string {
	path := ctx.Request.URI().PathOriginal()
	switch string(path) {
	case "/healthz", "/metrics", "/flags", "/":
		return string(ctx.Method()) + " " + string(path)
	}
	if bytes.HasPrefix(path, []byte("/debug/pprof/")) {
		return string(ctx.Method()) + " /debug/pprof/"
	}
	if bytes.HasPrefix(path, []byte("/dashboard")) {
		return string(ctx.Method()) + " /dashboard"
	}
	var pbuf [4]string
	if r, _, _, _ := s.rt.match(ctx.Method(), path, pbuf[:0]); r != nil {
		return r.method + " " + r.pattern
	}
	return "unmatched"
}

// serve is fasthttp's handler: handle, then observe.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	s.handle(ctx)
	s.observe(ctx, start)
}

// observe counts a served request, times it, and logs it: at DEBUG always (method, route, status,
// duration, bytes), at WARN when the server failed (5xx).
func (s *Server) observe(ctx *fasthttp.RequestCtx, start time.Time) {
	took := time.Since(start)
	status := ctx.Response.StatusCode()
	route := s.routeLabel(ctx)
	m := metricsFor(route, status)
	m.requests.Inc()
	m.latency.Update(took.Seconds())
	if status >= 500 {
		s.log.Warn("request failed", "method", string(ctx.Method()), "path", string(ctx.Path()), "route", route, "status", status,
			"took", took, "bytes", len(ctx.Response.Body()), "remote", ctx.RemoteAddr().String())
	} else if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("request", "method", string(ctx.Method()), "path", string(ctx.Path()), "route", route, "status", status,
			"took", took, "bytes", len(ctx.Response.Body()), "remote", ctx.RemoteAddr().String())
	}
}

// writeMetrics writes /metrics: the process-wide set, the build info, then the engine's instance
// metrics, with every family's # HELP text filled in (see metricHelp).
func (s *Server) writeMetrics(ctx *fasthttp.RequestCtx) {
	var buf bytes.Buffer
	metrics.WritePrometheus(&buf, true)
	metrics.WriteMetadataIfNeeded(&buf, "campaignd_build_info", "gauge")
	fmt.Fprintf(&buf, "campaignd_build_info{version=%s,goversion=%q} 1\n", strconv.Quote(s.opts.Version), runtime.Version())
	s.e.WritePrometheus(&buf)
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	w := bufio.NewWriter(ctx)
	addHelp(w, buf.Bytes())
	_ = w.Flush()
}

// addHelp copies exposition text to w, completing each bare "# HELP name" line with its text from
// metricHelp (or a generic text for a family without one, which TestMetricsHaveHelp reports), and
// fixing the few process metrics of VictoriaMetrics/metrics that break Prometheus' naming rules
// (renamedMetrics, retypedMetrics), so that promtool check metrics passes.
func addHelp(w *bufio.Writer, text []byte) {
	for len(text) > 0 {
		line := text
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i+1], text[i+1:]
		} else {
			text = nil
		}
		line = bytes.TrimRight(line, "\n")
		prefix := ""
		switch {
		case bytes.HasPrefix(line, []byte("# HELP ")):
			prefix = "# HELP "
		case bytes.HasPrefix(line, []byte("# TYPE ")):
			prefix = "# TYPE "
		}
		rest := line[len(prefix):]
		end := bytes.IndexAny(rest, " {")
		if end < 0 {
			end = len(rest)
		}
		name, tail := string(rest[:end]), rest[end:]
		if to, ok := renamedMetrics[name]; ok {
			name = to
		}
		switch prefix {
		case "# HELP ":
			if len(bytes.TrimSpace(tail)) == 0 {
				tail = []byte(" " + helpFor(name))
			}
		case "# TYPE ":
			if t, ok := retypedMetrics[name]; ok {
				tail = []byte(" " + t)
			}
		}
		_, _ = w.WriteString(prefix)
		_, _ = w.WriteString(name)
		_, _ = w.Write(tail)
		_ = w.WriteByte('\n')
	}
}

// renamedMetrics are VictoriaMetrics/metrics' runtime families whose names break Prometheus'
// rules (a counter ending in _count, a gauge ending in _count), by the names /metrics uses.
var renamedMetrics = map[string]string{
	"go_cgo_calls_count": "go_cgo_calls_total",
	"go_gc_forced_count": "go_gc_forced_total",
	"go_cpu_count":       "go_cpus",
}

// retypedMetrics are families VictoriaMetrics/metrics types as gauges that are counters.
var retypedMetrics = map[string]string{
	"process_io_read_bytes_total":            "counter",
	"process_io_read_syscalls_total":         "counter",
	"process_io_storage_read_bytes_total":    "counter",
	"process_io_storage_written_bytes_total": "counter",
	"process_io_write_syscalls_total":        "counter",
	"process_io_written_bytes_total":         "counter",
}

func helpFor(name string) string {
	if h, ok := metricHelp[name]; ok {
		return h
	}
	if h, ok := runtimeHelp(name); ok {
		return h
	}
	return undocumented
}

const undocumented = "campaignd metric (undocumented)"
