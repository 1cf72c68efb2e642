package httpd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/campaignd/campaignd/engine"
)

// TestSnapshotRestore: a snapshot taken after a campaign completed, copied into a new data
// directory, is a store holding every user, the campaign with its stats, and every message; a
// write made after the snapshot is not in it.
func TestSnapshotRestore(t *testing.T) {
	snaps := t.TempDir()
	ts := mustStartTestServerWith(t, t.TempDir(), engine.Options{}, Options{SnapshotsPath: snaps})
	ids := []string{"admin"}
	for i := range 50 {
		ids = append(ids, fmt.Sprintf("u%d", i))
	}
	ts.mustCreateUsers(ids...)
	id := ts.mustCreateCampaign(map[string]any{
		"id": "snap-camp", "sender_id": "admin", "user_ids": ids[1:],
		"message_template": map[string]any{"text": "Hi {{ receiver.name }}"},
		"create_channels":  true, "channel_template": map[string]any{"type": "messaging"},
	})
	if status, m := ts.do("POST", "/campaigns/"+id+"/start", "{}"); status != 201 {
		t.Fatalf("cannot start; status %d; body %v", status, m)
	}
	ts.waitCampaignStatus(id, "completed")

	status, m := ts.do("POST", "/campaignd/snapshot", nil)
	if status != 201 {
		t.Fatalf("POST /campaignd/snapshot: status %d; body %v", status, m)
	}
	snap := m["snapshot"].(map[string]any)
	name := snap["name"].(string)
	if snap["path"] != filepath.Join(snaps, name) {
		t.Fatalf("unexpected snapshot %v", snap)
	}
	ts.mustCreateUsers("after-snapshot")
	status, m = ts.do("GET", "/campaignd/snapshots", nil)
	if list := m["snapshots"].([]any); status != 200 || len(list) != 1 || list[0].(map[string]any)["name"] != name {
		t.Fatalf("GET /campaignd/snapshots: status %d; body %v", status, m)
	}
	ts.Stop()

	// Restore: copy the snapshot into a new data directory and open it.
	restored := filepath.Join(t.TempDir(), "pebble")
	copyDir(t, filepath.Join(snaps, name), restored)
	rs := mustStartTestServerAt(t, restored)
	for _, u := range ids {
		if _, ok, err := rs.E.GetUser(u); err != nil || !ok {
			t.Fatalf("user %q missing from the restored store: %v", u, err)
		}
	}
	if _, ok, _ := rs.E.GetUser("after-snapshot"); ok {
		t.Fatalf("a user created after the snapshot is in it")
	}
	c := rs.getCampaign(id)
	if stats := c["stats"].(map[string]any); c["status"] != "completed" || stats["stats_messages_sent"] != 50.0 {
		t.Fatalf("unexpected restored campaign %v", c)
	}
	for _, u := range ids[1:] {
		cid := "messaging:" + engine.DistinctChannelID([]string{"admin", u})
		if texts, ok := rs.channelTexts(cid); !ok || len(texts) != 1 || texts[0] != "Hi Name "+u {
			t.Fatalf("channel %s in the restored store: %q (exists %v)", cid, texts, ok)
		}
	}

	// Deleting: a bad name is a 400, an unknown one a 404, a snapshot goes away.
	rs2 := mustStartTestServerWith(t, t.TempDir(), engine.Options{}, Options{SnapshotsPath: snaps})
	status, m = rs2.do("DELETE", "/campaignd/snapshots/..", nil)
	wantError(t, status, m, 400, 4)
	status, m = rs2.do("DELETE", "/campaignd/snapshots/20000101T000000Z", nil)
	wantError(t, status, m, 404, 16)
	if status, m = rs2.do("DELETE", "/campaignd/snapshots/"+name, nil); status != 200 {
		t.Fatalf("DELETE snapshot: status %d; body %v", status, m)
	}
	if _, err := os.Stat(filepath.Join(snaps, name)); !os.IsNotExist(err) {
		t.Fatalf("the deleted snapshot is still there: %v", err)
	}
}

// copyDir copies the regular files of src (a store has no subdirectories) into a new dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			t.Fatalf("unexpected non-regular file %s in a snapshot", e.Name())
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
