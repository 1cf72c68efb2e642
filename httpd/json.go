package httpd

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/campaignd/campaignd/engine"
)

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

// decodeJSON decodes the request body into v, turning syntax and type errors into a code-4 error
// that names the field and what to send instead.
func decodeJSON(body []byte, v any) error {
	if len(body) == 0 {
		return engine.InputError("", "the request body is empty; send a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonInputError(err)
	}
	return nil
}

func jsonInputError(err error) error {
	switch e := err.(type) {
	case *json.SyntaxError:
		return engine.InputError("", "the request body is not valid JSON (offset %d: %s); send a JSON object", e.Offset, e.Error())
	case *json.UnmarshalTypeError:
		field := e.Field
		if field == "" {
			return engine.InputError("", "the request body must be a JSON object, not %s", e.Value)
		}
		return engine.InputError(field, "field %q must be %s, not %s", field, jsonKind(e.Type.Kind().String()), e.Value)
	default:
		return engine.InputError("", "cannot decode the request body: %s", err)
	}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "int", "int64", "int32", "uint32", "uint64", "float64", "float32":
		return "a number"
	default:
		return k
	}
}
