package httpd

import (
	"strconv"
	"time"

	"github.com/campaignd/campaignd/engine"
)

const moreInfo = "https://getstream.io/chat/docs/api_errors_response"

// statusOf maps a Stream error code to its HTTP status.
func statusOf(code int) int {
	switch code {
	case 2, 5, 40, 41, 42, 43:
		return 401
	case engine.CodeNotAllowed, 60, 99:
		return 403
	case engine.CodeNotFound:
		return 404
	case 23:
		return 408
	case engine.CodePayloadTooBig:
		return 413
	case engine.CodeRateLimit:
		return 429
	case 24:
		return 431
	case engine.CodeInternal:
		return 500
	default:
		return 400
	}
}

// failErr answers with err: an *engine.Error as its Stream code, anything else as a logged 500.
func (c *call) failErr(err error) {
	if e, ok := engine.AsError(err); ok {
		status := e.Status
		if status == 0 {
			status = statusOf(e.Code)
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

// fail writes the Stream error envelope (code, message, exception_fields, StatusCode, duration,
// more_info). It never writes a JSON null.
func (c *call) fail(e *engine.Error, status int) {
	errorsTotal.Inc()
	b := c.ctx.Response.Body()[:0]
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(e.Code), 10)
	b = append(b, `,"message":`...)
	b = engine.AppendJSONString(b, c.op()+` failed with error: "`+e.Msg+`"`)
	if len(e.Fields) > 0 {
		b = append(b, `,"exception_fields":{`...)
		first := true
		for k, v := range e.Fields {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = engine.AppendJSONString(b, k)
			b = append(b, ':')
			b = engine.AppendJSONString(b, v)
		}
		b = append(b, '}')
	}
	b = append(b, `,"StatusCode":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"duration":"`...)
	b = appendDuration(b, time.Since(c.start))
	b = append(b, `","more_info":"`+moreInfo+`","details":[]}`...)
	c.ctx.Response.SetBodyRaw(b)
	c.ctx.SetStatusCode(status)
	c.ctx.SetContentType("application/json")
}
