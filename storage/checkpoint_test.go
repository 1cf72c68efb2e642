package storage

import (
	"fmt"
	"path/filepath"
	"testing"
)

// TestCheckpoint: a checkpoint holds every write committed before it (synced or not) and none
// after it, opens as a store of its own, and refuses an existing directory.
func TestCheckpoint(t *testing.T) {
	db := mustOpenTestStore(t)
	for i := range 1000 {
		b := db.NewBatch()
		b.Set([]byte(fmt.Sprintf("k%04d", i)), []byte(fmt.Sprintf("v%d", i)))
		if err := b.Commit(i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "cp")
	if err := db.Checkpoint(dir); err != nil {
		t.Fatalf("cannot checkpoint: %s", err)
	}
	b := db.NewBatch()
	b.Set([]byte("after"), []byte("x"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := db.Checkpoint(dir); err == nil {
		t.Fatalf("a checkpoint into an existing directory succeeded")
	}

	cp, err := Open(Options{Path: dir})
	if err != nil {
		t.Fatalf("cannot open the checkpoint: %s", err)
	}
	defer cp.Close()
	for i := range 1000 {
		v, err := cp.Get(nil, []byte(fmt.Sprintf("k%04d", i)))
		if err != nil || string(v) != fmt.Sprintf("v%d", i) {
			t.Fatalf("k%04d in the checkpoint: %q, %v", i, v, err)
		}
	}
	if ok, _ := cp.Has([]byte("after")); ok {
		t.Fatalf("a write after the checkpoint is in it")
	}
}
