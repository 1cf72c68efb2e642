package storage

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Checkpoint writes a consistent copy of the store into dir, which must not exist: every batch
// committed before the call, none after it. Table files are hard-linked where dir is on the same
// filesystem (so a checkpoint costs little space until compactions replace the tables), copied
// otherwise; the WAL is flushed and copied. The copy is a complete store: Open it in place of the
// original to restore.
func (db *DB) Checkpoint(dir string) error {
	if err := db.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("cannot checkpoint the store into %q: %w", dir, err)
	}
	return nil
}
