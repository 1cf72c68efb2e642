package httpd

import (
	"net/url"
	"strings"
	"testing"

	"github.com/campaignd/campaignd/engine"
)

// TestLowDiskSpaceRefusesWrites: with a free-space threshold above what the disk has, writes
// that add data answer a Stream-shaped 507 (the streamed import too, read by the client while it
// still sends), and reads, stops and deletes answer as usual. The tmpfs test in cmd/campaignd
// fills a real filesystem and shows the recovery.
func TestLowDiskSpaceRefusesWrites(t *testing.T) {
	dir := t.TempDir()
	ts := mustStartTestServerAt(t, dir) // fill it while space is fine
	ts.mustUsers("admin", "u1")
	ts.mustOK("POST", "/channels/messaging/m/query", map[string]any{"data": map[string]any{"members": []string{"admin", "u1"}, "created_by_id": "admin"}})
	ts.mustCreateSegment(map[string]any{"id": "s", "type": "user"})
	id := ts.mustCreateCampaign(map[string]any{"sender_id": "admin", "user_ids": []string{"u1"}, "message_template": map[string]any{"text": "hi"}})
	ts.Stop()

	ts = mustStartTestServerWith(t, dir, engine.Options{MinFreeDiskSpace: 1 << 62}, Options{})
	if !ts.E.DiskSpaceLow() {
		t.Fatal("the engine does not see the disk as low")
	}
	for _, w := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/users", map[string]any{"users": map[string]any{"x": map[string]any{"id": "x"}}}},
		{"PATCH", "/users", map[string]any{"users": []any{map[string]any{"id": "u1", "set": map[string]any{"k": 1}}}}},
		{"POST", "/users/import", `{"id":"y"}` + "\n" + strings.Repeat(`{"id":"z","bio":"`+strings.Repeat("b", 1000)+`"}`+"\n", 5000)},
		{"POST", "/channels/messaging/m/message", map[string]any{"message": map[string]any{"user_id": "admin", "text": "x"}}},
		{"POST", "/channels/messaging/new/query", map[string]any{"data": map[string]any{"created_by_id": "admin"}}},
		{"POST", "/segments", map[string]any{"type": "user"}},
		{"PUT", "/segments/s", map[string]any{"name": "n"}},
		{"POST", "/segments/s/addtargets", map[string]any{"target_ids": []string{"u1"}}},
		{"POST", "/campaigns", map[string]any{"sender_id": "admin", "user_ids": []string{"u1"}, "message_template": map[string]any{"text": "x"}}},
		{"PUT", "/campaigns/" + id, map[string]any{"name": "n"}},
		{"POST", "/campaigns/" + id + "/start", "{}"},
	} {
		status, m := ts.do(w.method, w.path, w.body)
		wantErrorMsg(t, status, m, 507, -1, "low on disk space")
		if !strings.Contains(m["message"].(string), "-storage.minFreeDiskSpaceBytes") {
			t.Fatalf("%s %s: the 507 does not name the flag: %v", w.method, w.path, m)
		}
	}
	if _, found, err := ts.E.GetUser("x"); err != nil || found {
		t.Fatalf("a refused user was stored (%v)", err)
	}
	payload := url.QueryEscape(`{"filter_conditions":{"id":"u1"}}`)
	for _, r := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", "/users?payload=" + payload, nil, 200},
		{"POST", "/channels/messaging/m/query", map[string]any{}, 201},
		{"POST", "/channels", map[string]any{"filter_conditions": map[string]any{"id": "m"}}, 201},
		{"GET", "/segments/s", nil, 200},
		{"POST", "/segments/query", map[string]any{"filter": map[string]any{}}, 201},
		{"GET", "/campaigns/" + id, nil, 200},
		{"POST", "/campaigns/query", map[string]any{"filter": map[string]any{}}, 201},
		{"POST", "/segments/s/deletetargets", map[string]any{"target_ids": []string{"u1"}}, 201},
		{"DELETE", "/campaigns/" + id, nil, 200},
		{"DELETE", "/users/u1", nil, 200},
	} {
		status, m := ts.do(r.method, r.path, r.body)
		if status != r.want {
			t.Fatalf("%s %s while the disk is low: %d %v", r.method, r.path, status, m)
		}
	}
}
