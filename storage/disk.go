package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Disk space. The store keeps an emergency ballast file in its directory (CockroachDB's
// EMERGENCY_BALLAST): space reserved while the disk is fine, released when it runs out so that
// the engine's own small writes (relay cursors, campaign status) and Pebble's flushes still find
// room, and restored once space is back. The engine decides when (engine/disk.go).

// BallastFile is the name of the ballast in the data directory.
const BallastFile = "EMERGENCY_BALLAST"

// DiskSpace returns the bytes available to an unprivileged writer on the filesystem holding the
// store (what Pebble can still use) and the filesystem's size.
func (db *DB) DiskSpace() (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(db.path, &st); err != nil {
		return 0, 0, fmt.Errorf("cannot read the free disk space of %q: %w", db.path, err)
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// BallastSize returns Options.BallastSize: the size of the ballast when in place (0: none).
func (db *DB) BallastSize() int64 { return db.ballastSize }

// HasBallast reports whether the ballast file is in place.
func (db *DB) HasBallast() bool {
	st, err := os.Stat(db.ballastPath())
	return err == nil && st.Size() >= db.ballastSize
}

// ReleaseBallast deletes the ballast, freeing its space; it reports whether there was one.
func (db *DB) ReleaseBallast() (bool, error) {
	err := os.Remove(db.ballastPath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("cannot release the disk ballast: %w", err)
	}
	return true, nil
}

// RestoreBallast creates the ballast of BallastSize bytes, its blocks allocated (fallocate, or
// zeros written where the filesystem cannot allocate); nothing when none is configured or it is
// in place. A half-made ballast is removed.
func (db *DB) RestoreBallast() error {
	if db.ballastSize <= 0 || db.HasBallast() {
		return nil
	}
	path := db.ballastPath()
	tmp := path + ".tmp"
	if err := writeBallast(tmp, db.ballastSize); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("cannot create the disk ballast %q: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("cannot create the disk ballast %q: %w", path, err)
	}
	return nil
}

func (db *DB) ballastPath() string { return filepath.Join(db.path, BallastFile) }

func writeBallast(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		err = writeZeros(f, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func writeZeros(f *os.File, size int64) error {
	buf := make([]byte, 1<<20)
	for size > 0 {
		n := int64(len(buf))
		if size < n {
			n = size
		}
		if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
		size -= n
	}
	return nil
}
