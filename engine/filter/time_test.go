package filter

import (
	"errors"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	f := func(s string, want int64, wantErr error) {
		t.Helper()
		got, err := ParseTime(s)
		if !errors.Is(err, wantErr) {
			t.Fatalf("unexpected error for %q; got %v; want %v", s, err, wantErr)
		}
		if got != want {
			t.Fatalf("unexpected nanoseconds for %q; got %d; want %d", s, got, want)
		}
	}
	f("1970-01-01T00:00:00Z", 0, nil)
	f("2024-01-02T15:04:05.123456789Z", 1704207845123456789, nil)
	f("2024-01-02T16:04:05+01:00", 1704207845000000000, nil)
	f("2262-04-11T23:47:16Z", 9223372036000000000, nil)
	f("2262-04-11T23:47:16.5Z", 0, ErrTimeRange) // fits int64, but past the documented end
	f("2263-01-01T00:00:00Z", 0, ErrTimeRange)   // wrapped to 1678 before
	f("3000-01-01T00:00:00Z", 0, ErrTimeRange)   // wrapped to 1830 before
	f("1969-12-31T23:59:59.999Z", 0, ErrTimeRange)
	f("1600-01-01T00:00:00Z", 0, ErrTimeRange) // wrapped to 2184 before
	f("9999-12-31T23:59:59Z", 0, ErrTimeRange)
	f("2024-01-02", 0, ErrTimeSyntax)
	f("yesterday", 0, ErrTimeSyntax)
	f("", 0, ErrTimeSyntax)
	if MaxTime.UnixNano() < 0 || MaxTime.Add(time.Second).UnixNano() > 0 {
		t.Fatalf("MaxTime %s is not the last whole second int64 nanoseconds hold", MaxTime)
	}
}

// FuzzParseTime: whatever parses is inside [MinTime, MaxTime] and is the instant time.Parse reads.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-01-02T15:04:05Z", "3000-01-01T00:00:00Z", "1600-01-01T00:00:00-07:00", "2262-04-11T23:47:16.854775807Z", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseTime(s)
		if err != nil {
			if !errors.Is(err, ErrTimeRange) && !errors.Is(err, ErrTimeSyntax) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if n < 0 || n > MaxTime.UnixNano() {
			t.Fatalf("%q parsed outside the range: %d", s, n)
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || tm.UnixNano() != n {
			t.Fatalf("%q parsed to %d; time.Parse gives %v, %v", s, n, tm, err)
		}
	})
}
