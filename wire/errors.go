package wire

import (
	"slices"
	"strconv"
	"time"

	"github.com/campaignd/campaignd/engine"
)

// Stream's envelopes: the error body every non-2xx reply carries and the "duration" every reply
// carries (doc.go).

// MoreInfo is the more_info of every error envelope: Stream's page on error replies.
const MoreInfo = "https://getstream.io/chat/docs/api_errors_response"

// HTTPStatus returns the HTTP status of Stream error code code (400 for codes without one).
func HTTPStatus(code int) int {
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

// AppendError appends the error envelope of e, answered with HTTP status by operation op (e.g.
// "UpdateUsers") took after the request began:
//
//	{"code", "message": "<op> failed with error: \"<e.Msg>\"", "exception_fields"?, "StatusCode",
//	 "duration", "more_info", "details": []}
//
// exception_fields, present when e names fields, lists them in key order. The envelope is never a
// JSON null (the SDK dereferences the body's code).
func AppendError(dst []byte, op string, e *engine.Error, status int, took time.Duration) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(e.Code), 10)
	dst = append(dst, `,"message":`...)
	dst = AppendString(dst, op+` failed with error: "`+e.Msg+`"`)
	if len(e.Fields) > 0 {
		dst = append(dst, `,"exception_fields":{`...)
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			dst = AppendString(dst, e.Fields[k])
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"StatusCode":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, `,"duration":"`...)
	dst = appendDuration(dst, took)
	return append(dst, `","more_info":"`+MoreInfo+`","details":[]}`...)
}

// AppendReply appends obj, the complete JSON object ("{...}") of a success reply, with Stream's
// "duration" key added as its last member. It panics when obj is not an object.
func AppendReply(dst, obj []byte, took time.Duration) []byte {
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		panic("BUG: reply body is not a JSON object")
	}
	dst = append(dst, obj[:len(obj)-1]...)
	if len(obj) > 2 {
		dst = append(dst, ',')
	}
	dst = append(dst, `"duration":"`...)
	dst = appendDuration(dst, took)
	return append(dst, `"}`...)
}

// appendDuration appends d as Stream's duration text: milliseconds with two decimals and "ms".
func appendDuration(dst []byte, d time.Duration) []byte {
	dst = strconv.AppendFloat(dst, float64(d.Microseconds())/1000, 'f', 2, 64)
	return append(dst, "ms"...)
}
