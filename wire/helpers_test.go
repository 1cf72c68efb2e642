package wire

import (
	"testing"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
)

// newTestEngine opens an engine (not started) encoding with Legacy over a fresh store in
// t.TempDir(); cleanup stops it and closes the store.
func newTestEngine(t testing.TB) *engine.Engine {
	t.Helper()
	db, err := storage.Open(storage.Options{Path: t.TempDir()})
	if err != nil {
		t.Fatalf("cannot open storage: %s", err)
	}
	e, err := engine.Open(db, engine.Options{Encoder: Legacy{}})
	if err != nil {
		_ = db.Close()
		t.Fatalf("cannot open engine: %s", err)
	}
	t.Cleanup(func() {
		e.Stop()
		if err := db.Close(); err != nil {
			t.Errorf("cannot close storage: %s", err)
		}
	})
	return e
}
