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
		return engine.JSONInputError("", "the request body", err)
	}
	return nil
}
