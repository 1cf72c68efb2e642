package storage

import (
	"testing"
	"time"
)

// mustOpenTestStore opens a store in a fresh t.TempDir() and closes it on cleanup.
func mustOpenTestStore(t *testing.T) *DB {
	t.Helper()
	db, err := Open(Options{Path: t.TempDir()})
	if err != nil {
		t.Fatalf("cannot open store: %s", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// checkFor calls fn every `every` until it returns nil or timeout passes, then fails with its error.
func checkFor(t *testing.T, timeout, every time.Duration, fn func() error) {
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
