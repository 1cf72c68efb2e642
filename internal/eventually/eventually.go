// Package eventually waits in tests for conditions that become true after a while (a relay that
// delivers, a campaign that completes), instead of sleeping for a fixed time.
package eventually

import (
	"testing"
	"time"
)

// Check calls fn every `every` until it returns nil or timeout passes, then fails t with fn's last
// error.
func Check(t testing.TB, timeout, every time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %s", timeout, err)
		}
		time.Sleep(every)
	}
}
