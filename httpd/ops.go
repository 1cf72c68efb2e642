package httpd

import (
	"crypto/subtle"

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
