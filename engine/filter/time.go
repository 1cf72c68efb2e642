package filter

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Times are held as int64 unix nanoseconds everywhere (records, filters, schedules), which spans
// 1677-09-21 to 2262-04-11. campaignd accepts the part of that span from the Unix epoch on, so that
// no stored time is negative and 0 can mean "not set".
var (
	// MinTime is the earliest time accepted: 1970-01-01T00:00:00Z.
	MinTime = time.Unix(0, 0).UTC()
	// MaxTime is the latest time accepted: 2262-04-11T23:47:16Z, the last whole second an int64
	// of nanoseconds holds.
	MaxTime = time.Unix(math.MaxInt64/int64(time.Second), 0).UTC()
)

// TimeRange names the accepted range in error messages: "between <MinTime> and <MaxTime>".
var TimeRange = "between " + MinTime.Format(time.RFC3339) + " and " + MaxTime.Format(time.RFC3339)

// Errors of ParseTime.
var (
	ErrTimeSyntax = errors.New("filter: not an RFC 3339 timestamp")
	ErrTimeRange  = errors.New("filter: timestamp outside the supported range")
)

// ParseTime parses an RFC 3339 timestamp, with or without fractional seconds and in any UTC
// offset, into unix nanoseconds. It is the one parser of request timestamps: times outside
// [MinTime, MaxTime] fail with an error wrapping ErrTimeRange, other input with ErrTimeSyntax.
func ParseTime(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrTimeSyntax, s)
	}
	if t.Before(MinTime) || t.After(MaxTime) {
		return 0, fmt.Errorf("%w: %q is not %s", ErrTimeRange, s, TimeRange)
	}
	return t.UnixNano(), nil
}

// timeReason is the message of a filter operand that ParseTime refused.
func timeReason(s string, err error) string {
	if errors.Is(err, ErrTimeRange) {
		return fmt.Sprintf("%q is outside the supported range: times must be %s", s, TimeRange)
	}
	return fmt.Sprintf(`%q is not an RFC 3339 time; use e.g. "2024-01-02T15:04:05Z" or "2024-01-02T15:04:05.123456Z"`, s)
}
