package httpd

import (
	"crypto/subtle"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// checkAuthKey guards an operational endpoint (/metrics, /flags, /debug/pprof/) the way
// VictoriaMetrics does: when key is set, the request must carry it as the authKey query
// parameter. It answers 401 naming flag and returns false otherwise.
func (s *Server) checkAuthKey(ctx *fasthttp.RequestCtx, key, flag string) bool {
	if key == "" || subtle.ConstantTimeCompare(ctx.QueryArgs().Peek("authKey"), []byte(key)) == 1 {
		return true
	}
	ctx.Error("pass the "+flag+" value as the authKey query parameter", fasthttp.StatusUnauthorized)
	return false
}

// writeMetrics writes /metrics: the process-wide set, then the engine's instance metrics.
func (s *Server) writeMetrics(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; version=0.0.4")
	metrics.WritePrometheus(ctx, true)
	s.e.WritePrometheus(ctx)
}
