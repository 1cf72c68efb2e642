package engine

import (
	"strings"
	"testing"

	"github.com/campaignd/campaignd/storage"
)

func TestOpenNeedsEncoder(t *testing.T) {
	db, err := storage.Open(storage.Options{Path: t.TempDir()})
	if err != nil {
		t.Fatalf("cannot open storage: %s", err)
	}
	defer db.Close()
	if _, err := Open(db, Options{}); err == nil || !strings.Contains(err.Error(), "Options.Encoder is required") {
		t.Fatalf("unexpected error of Open without an Encoder; got %v; want one naming Options.Encoder", err)
	}
}
