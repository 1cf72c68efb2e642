package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/campaignd/campaignd/engine/filter"
)

// JSON helpers of the encoders that are still in the engine (channels, segments, campaigns);
// package wire holds the same primitives for everything it encodes.

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal, escaping as encoding/json does (minus HTML
// escaping). Invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
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

// timeLayout is the wire format of timestamps: RFC 3339, UTC, microseconds, as Stream writes them.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// appendTime appends t as a quoted wire timestamp.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, timeLayout)
		return append(dst, '"')
	}
	// NB: hand-rolled timeLayout for UTC: event bodies hold many timestamps and AppendFormat's
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

// parseTime parses the request timestamp s of field (RFC 3339, fractional seconds optional) into
// unix nanoseconds truncated to microseconds, the precision of wire timestamps. Every decoder of
// request times uses it (users, campaign schedules; filters use filter.ParseTime, the same parser).
// A time outside filter.MinTime..filter.MaxTime, which int64 nanoseconds cannot all hold, is a
// code-4 *Error naming field and the range, never a wrapped-around time.
func parseTime(field, s string) (int64, error) {
	n, err := filter.ParseTime(s)
	switch {
	case errors.Is(err, filter.ErrTimeRange):
		return 0, InputError(field, "%s %q is outside the supported range: times must be %s", field, s, filter.TimeRange)
	case err != nil:
		return 0, InputError(field, "%s must be an RFC 3339 timestamp such as \"2030-01-02T15:04:05Z\", not %q", field, s)
	}
	return truncMicros(n), nil
}

// jsonKindOf names the kind of the JSON value that starts with byte c.
func jsonKindOf(c byte) string {
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

// appendCompactJSON appends raw, which must be valid JSON, to dst without insignificant spaces.
func appendCompactJSON(dst, raw []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, raw); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

func appendNanos(dst []byte, n int64) []byte {
	return appendTime(dst, time.Unix(0, n))
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// appendCustomFields appends the members of the raw JSON object custom, each preceded by a comma:
// custom fields as top-level keys of the object being encoded.
func appendCustomFields(dst, custom []byte) []byte {
	if m := filter.ObjectMembers(custom); m != nil {
		dst = append(append(dst, ','), m...)
	}
	return dst
}
