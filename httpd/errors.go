package httpd

import (
	"time"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/wire"
)

// failErr answers with err: an *engine.Error as its Stream code, anything else as a logged 500.
func (c *call) failErr(err error) {
	if e, ok := engine.AsError(err); ok {
		status := e.Status
		if status == 0 {
			status = wire.HTTPStatus(e.Code)
		}
		c.fail(e, status)
		return
	}
	c.s.log.Error("request failed", "op", c.op(), "path", string(c.ctx.Path()), "err", err)
	c.fail(&engine.Error{Code: engine.CodeInternal, Msg: "internal error: " + err.Error()}, 500)
}

func (c *call) op() string {
	if c.r == nil {
		return "Request"
	}
	return c.r.op
}

// fail writes the Stream error envelope of e (wire.AppendError) with HTTP status.
func (c *call) fail(e *engine.Error, status int) {
	errorsTotal.Inc()
	b := wire.AppendError(c.ctx.Response.Body()[:0], c.op(), e, status, time.Since(c.start))
	c.ctx.Response.SetBodyRaw(b)
	c.ctx.SetStatusCode(status)
	c.ctx.SetContentType("application/json")
}
