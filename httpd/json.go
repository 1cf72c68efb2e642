package httpd

import (
	"encoding/json"

	"github.com/campaignd/campaignd/engine"
)

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
