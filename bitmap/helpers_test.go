package bitmap

import (
	"testing"

	"github.com/campaignd/campaignd/storage"
)

// mustOpenTestStore opens a store in t.TempDir() and closes it on cleanup.
func mustOpenTestStore(tb testing.TB) *storage.DB {
	tb.Helper()
	db, err := storage.Open(storage.Options{Path: tb.TempDir(), CacheSize: 64 << 20})
	if err != nil {
		tb.Fatalf("cannot open store: %s", err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

func mustCommit(tb testing.TB, b *storage.Batch) {
	tb.Helper()
	if err := b.Commit(false); err != nil {
		tb.Fatalf("cannot commit: %s", err)
	}
}

func mustLoad(tb testing.TB, r storage.Reader, bits storage.Bits) *Bitmap {
	tb.Helper()
	bm, err := Load(r, bits)
	if err != nil {
		tb.Fatalf("cannot load: %s", err)
	}
	if err := bm.rb.Validate(); err != nil {
		tb.Fatalf("loaded bitmap is invalid: %s", err)
	}
	return bm
}

func testBits(owner string) storage.Bits { return storage.SegmentBits(owner) }
