package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// The layout of -storageDataPath:
//
//	campaignd.lock        locked (flock) by the campaignd using the directory; holds its pid
//	pebble/               the store: users, channels, messages, segments, campaigns, the outbox
//	kafka/                the -kafka.embedded broker's data (development only)
//	dev-credentials.json  the -dev API key and secret
//	snapshots/<name>/     checkpoints of pebble/ made by POST /campaignd/snapshot
const (
	lockFileName     = "campaignd.lock"
	pebbleDirName    = "pebble"
	kafkaDirName     = "kafka"
	devCredsFileName = "dev-credentials.json"
	snapshotsDirName = "snapshots"
)

// dataDir is a locked -storageDataPath.
type dataDir struct {
	path string
	lock *os.File
}

// lockDataDir creates path if needed and takes its lock, before anything else is written there.
// A directory locked by another process is a clear error naming that process.
func lockDataDir(path string) (*dataDir, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create -storageDataPath %q: %w", path, err)
	}
	lockPath := filepath.Join(path, lockFileName)
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open the lock file %q: %w", lockPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if b, rerr := os.ReadFile(lockPath); rerr == nil {
				if pid, perr := strconv.Atoi(string(bytes.TrimSpace(b))); perr == nil {
					holder = fmt.Sprintf("another campaignd (pid %d)", pid)
				}
			}
			return nil, fmt.Errorf("-storageDataPath %q is in use by %s: stop it first, or give this one another -storageDataPath", path, holder)
		}
		return nil, fmt.Errorf("cannot lock %q: %w", lockPath, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataDir{path: path, lock: f}, nil
}

// unlock releases the lock; the lock file stays (its pid is stale from then on).
func (d *dataDir) unlock() { _ = d.lock.Close() }

// pebblePath returns the store's directory. A data directory written before the store moved into
// pebble/ (Pebble's files at its top) is used in place, with a warning saying how to move it.
func (d *dataDir) pebblePath(log *slog.Logger) string {
	sub := filepath.Join(d.path, pebbleDirName)
	if _, err := os.Stat(sub); err != nil && legacyPebble(d.path) {
		log.Warn("the store is at the top of -storageDataPath (older layout); it is used there. To move it: stop campaignd, move every file but "+
			lockFileName+", "+devCredsFileName+" and the "+kafkaDirName+"/ and "+snapshotsDirName+"/ directories into "+pebbleDirName+"/", "path", d.path)
		return d.path
	}
	return sub
}

// legacyPebble reports whether dir holds a Pebble store at its top (Pebble writes MANIFEST-* files).
func legacyPebble(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
	return len(m) > 0
}

func (d *dataDir) kafkaPath() string     { return filepath.Join(d.path, kafkaDirName) }
func (d *dataDir) devCredsPath() string  { return filepath.Join(d.path, devCredsFileName) }
func (d *dataDir) snapshotsPath() string { return filepath.Join(d.path, snapshotsDirName) }
