package storage

import (
	"testing"
	"time"

	"github.com/campaignd/campaignd/internal/eventually"
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

// checkFor waits for fn to return nil (eventually.Check).
func checkFor(t testing.TB, timeout, every time.Duration, fn func() error) {
	t.Helper()
	eventually.Check(t, timeout, every, fn)
}
