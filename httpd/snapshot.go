package httpd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/campaignd/campaignd/engine"
)

// Snapshot extension endpoints (not part of Stream's API), over Options.SnapshotsPath:
//
//	POST   /campaignd/snapshot           a consistent checkpoint of the store → {"snapshot": {name, path, created_at}}
//	GET    /campaignd/snapshots          {"snapshots": [{name, path, created_at}, ...]}, oldest first
//	DELETE /campaignd/snapshots/{name}   removes one
//
// A snapshot is a complete store directory: restoring is copying it into a data directory's
// pebble/ (README "Backup and restore").

// snapshotNameRE matches the names createSnapshot gives: a UTC time, a counter when two fall in
// one second.
var snapshotNameRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$`)

// snapshotMu serialises snapshot creation and removal (names are picked by looking at the directory).
var snapshotMu sync.Mutex

type snapshotInfo struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	CreatedAt string `json:"created_at"`
}

func (s *Server) snapshotsDir() (string, error) {
	if s.opts.SnapshotsPath == "" {
		return "", &engine.Error{Code: engine.CodeInput, Msg: "snapshots are off: this server has no snapshots directory"}
	}
	return s.opts.SnapshotsPath, nil
}

func (s *Server) createSnapshot(c *call) error {
	dir, err := s.snapshotsDir()
	if err != nil {
		return err
	}
	snapshotMu.Lock()
	defer snapshotMu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create the snapshots directory: %w", err)
	}
	now := time.Now().UTC()
	name := now.Format("20060102T150405Z")
	for i := 2; ; i++ {
		if _, err := os.Lstat(filepath.Join(dir, name)); os.IsNotExist(err) {
			break
		}
		name = fmt.Sprintf("%s-%d", now.Format("20060102T150405Z"), i)
	}
	// The checkpoint is written under a temporary name and renamed once complete, so a
	// directory with a snapshot's name is always a whole store.
	tmp := filepath.Join(dir, ".tmp-"+name)
	_ = os.RemoveAll(tmp)
	if err := s.e.Checkpoint(tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	final := filepath.Join(dir, name)
	if err := os.Rename(tmp, final); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("cannot rename the snapshot: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	s.log.Info("created a snapshot", "name", name, "path", final, "took", time.Since(c.start).String())
	b, _ := json.Marshal(map[string]snapshotInfo{"snapshot": {Name: name, Path: final, CreatedAt: now.Format(time.RFC3339)}})
	return c.reply(201, b)
}

func (s *Server) listSnapshots(c *call) error {
	dir, err := s.snapshotsDir()
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("cannot list the snapshots: %w", err)
	}
	out := []snapshotInfo{}
	for _, e := range ents {
		if !e.IsDir() || !snapshotNameRE.MatchString(e.Name()) {
			continue
		}
		info := snapshotInfo{Name: e.Name(), Path: filepath.Join(dir, e.Name())}
		if t, err := time.Parse("20060102T150405Z", e.Name()[:16]); err == nil {
			info.CreatedAt = t.Format(time.RFC3339)
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	b, _ := json.Marshal(map[string][]snapshotInfo{"snapshots": out})
	return c.reply(200, b)
}

func (s *Server) deleteSnapshot(c *call) error {
	dir, err := s.snapshotsDir()
	if err != nil {
		return err
	}
	name := c.Param(0)
	if !snapshotNameRE.MatchString(name) {
		return engine.InputError("name", "%q is not a snapshot name (such as 20260102T150405Z); list them with GET /campaignd/snapshots", name)
	}
	snapshotMu.Lock()
	defer snapshotMu.Unlock()
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); os.IsNotExist(err) {
		return engine.NotFoundError("no snapshot %q; list them with GET /campaignd/snapshots", name)
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("cannot remove snapshot %q: %w", name, err)
	}
	s.log.Info("removed a snapshot", "name", name)
	return c.reply(200, []byte(`{}`))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot open %q: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("cannot sync %q: %w", dir, err)
	}
	return nil
}
