package engine

import (
	"errors"
	"fmt"

	"github.com/campaignd/campaignd/storage"
)

// Stream error codes that the engine produces. httpd maps each to its HTTP status.
const (
	CodeInternal      = -1
	CodeInput         = 4
	CodeNotFound      = 16
	CodeNotAllowed    = 17
	CodePayloadTooBig = 22
	CodeRateLimit     = 9
)

// Error is a client-visible error: a Stream code, a message that says what to fix and, for input
// errors, the offending fields. Handlers return it as is; anything else is an internal error.
type Error struct {
	Code   int
	Msg    string
	Fields map[string]string
	// Status is the HTTP status when the code's own does not fit (0: the code's).
	Status int
}

func (e *Error) Error() string { return e.Msg }

// InputError returns a code-4 error; field names the offending request field ("" for none).
func InputError(field, format string, args ...any) *Error {
	err := &Error{Code: CodeInput, Msg: fmt.Sprintf(format, args...)}
	if field != "" {
		err.Fields = map[string]string{field: err.Msg}
	}
	return err
}

// NotFoundError returns a code-16 error.
func NotFoundError(format string, args ...any) *Error {
	return &Error{Code: CodeNotFound, Msg: fmt.Sprintf(format, args...)}
}

// NotAllowedError returns a code-17 error.
func NotAllowedError(format string, args ...any) *Error {
	return &Error{Code: CodeNotAllowed, Msg: fmt.Sprintf(format, args...)}
}

// AsError returns the *Error inside err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// isNotFound reports whether err is the store's not-found.
func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

// MaxIDLength is the longest id (user, channel, segment, campaign) accepted, in bytes.
const MaxIDLength = 255

// CheckID validates an id given in field: non-empty and at most MaxIDLength bytes.
func CheckID(field, id string) error {
	if id == "" {
		return InputError(field, "%s must not be empty", field)
	}
	if len(id) > MaxIDLength {
		return InputError(field, "%s is %d characters long; the maximum is %d", field, len(id), MaxIDLength)
	}
	return nil
}
