package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"time"
	"unicode/utf8"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/engine/filter"
)

// The JSON primitives every encoder and decoder of this package uses, whatever the generation:
// one string appender, one time appender, one compactor, one namer of JSON kinds. The appenders
// are append-style and do not allocate beyond growing dst.

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string literal, escaping as encoding/json does (minus HTML
// escaping). Invalid UTF-8 becomes U+FFFD.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// TimeLayout is the wire format of timestamps: RFC 3339, UTC, microseconds, as Stream writes them.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// AppendTime appends t as a quoted wire timestamp.
func AppendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, TimeLayout)
		return append(dst, '"')
	}
	// NB: hand-rolled TimeLayout for UTC: event bodies hold many timestamps and AppendFormat's
	// general path was a quarter of the fan-out's encoding time.
	h, mi, s := t.Clock()
	us := t.Nanosecond() / 1000
	return append(dst, '"',
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.',
		byte('0'+us/100000), byte('0'+us/10000%10), byte('0'+us/1000%10),
		byte('0'+us/100%10), byte('0'+us/10%10), byte('0'+us%10), 'Z', '"')
}

// appendNanos appends the unix nanoseconds n, a record's time, as a quoted wire timestamp.
func appendNanos(dst []byte, n int64) []byte {
	return AppendTime(dst, time.Unix(0, n))
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// appendStrings appends ss as a JSON array of strings.
func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, s)
	}
	return append(dst, ']')
}

// appendCustomFields appends the members of the raw JSON object custom, each preceded by a comma:
// custom fields as top-level keys of the object being encoded (Stream's legacy format flattens
// custom data).
func appendCustomFields(dst, custom []byte) []byte {
	if m := filter.ObjectMembers(custom); m != nil {
		dst = append(append(dst, ','), m...)
	}
	return dst
}

// ParseTime parses the request timestamp s of field (RFC 3339, fractional seconds optional) into
// unix nanoseconds truncated to microseconds, the precision of wire timestamps. Every decoder of
// request times uses it (users, campaign schedules; filters use filter.ParseTime, the same parser).
// A time outside filter.MinTime..filter.MaxTime, which int64 nanoseconds cannot all hold, is a
// code-4 *engine.Error naming field and the range, never a wrapped-around time.
func ParseTime(field, s string) (int64, error) {
	n, err := filter.ParseTime(s)
	switch {
	case errors.Is(err, filter.ErrTimeRange):
		return 0, engine.InputError(field, "%s %q is outside the supported range: times must be %s", field, s, filter.TimeRange)
	case err != nil:
		return 0, engine.InputError(field, "%s must be an RFC 3339 timestamp such as \"2030-01-02T15:04:05Z\", not %q", field, s)
	}
	return n - n%1000, nil // NB: n >= 0 (filter.MinTime is the epoch)
}

// Kind names the kind of the raw JSON value raw for error messages: "a string", "a number",
// "an object", "an array", "a boolean", "null" or "nothing".
func Kind(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	return kindOf(raw[0])
}

// kindOf names the kind of the JSON value that starts with byte c.
func kindOf(c byte) string {
	switch c {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// AppendCompact appends raw, which must be valid JSON, to dst without insignificant spaces.
func AppendCompact(dst, raw []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, raw); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

// decodeJSON decodes the JSON request body (or payload) body into v with encoding/json, turning
// syntax and type errors into a code-4 error that names the field and what to send instead. what
// names body in messages ("the request body"); field is the request field it came in ("" for a
// request body).
func decodeJSON(field, what string, body []byte, v any) error {
	if len(body) == 0 {
		return engine.InputError(field, "%s is empty; send a JSON object", what)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonInputError(field, what, err)
	}
	return nil
}

// decodeBody decodes a request body into v (decodeJSON).
func decodeBody(body []byte, v any) error {
	return decodeJSON("", "the request body", body, v)
}

// jsonInputError turns err, from decoding a JSON request with encoding/json, into a code-4 error
// naming the field of the wrong type and what to send instead.
func jsonInputError(field, what string, err error) *engine.Error {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		return engine.InputError(field, "%s is not valid JSON (offset %d: %s); send a JSON object", what, se.Offset, se)
	case errors.As(err, &te) && te.Field != "":
		return engine.InputError(te.Field, "field %q must be %s, not %s", te.Field, goKind(te.Type), te.Value)
	case errors.As(err, &te):
		return engine.InputError(field, "%s must be a JSON object, not %s", what, te.Value)
	}
	return engine.InputError(field, "cannot decode %s: %s", what, err)
}

// goKind names the JSON kind that decodes into a value of type t (kindOf's names).
func goKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return kindOf('"')
	case reflect.Bool:
		return kindOf('t')
	case reflect.Slice, reflect.Array:
		return kindOf('[')
	case reflect.Map, reflect.Struct:
		return kindOf('{')
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return kindOf('0')
	}
	return t.String()
}
