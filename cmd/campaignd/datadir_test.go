package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestPebblePath: a fresh data directory keeps the store in pebble/; one written by an older
// campaignd (Pebble's files at its top) is used in place.
func TestPebblePath(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name   string
		files  []string
		legacy bool
	}{
		{"fresh", nil, false},
		{"current layout", []string{"pebble/MANIFEST-000001"}, false},
		{"older layout", []string{"MANIFEST-000001", "000002.log"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				p := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			dd, err := lockDataDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer dd.unlock()
			want := filepath.Join(dir, pebbleDirName)
			if tc.legacy {
				want = dir
			}
			if got := dd.pebblePath(log); got != want {
				t.Fatalf("pebblePath: got %q; want %q", got, want)
			}
		})
	}
}
