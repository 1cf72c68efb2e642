package wire

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/campaignd/campaignd/storage"
)

func TestUserJSON(t *testing.T) {
	u := &storage.User{
		ID: "a\"b", Role: "admin", Name: "Ann", Teams: []string{"red", "blue"}, Banned: true,
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC).UnixNano(),
		UpdatedAt: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC).UnixNano(),
		Custom:    []byte(`{"color":"red","n":{"x":[1,2]}}`),
	}
	got := string(Legacy{}.AppendUser(nil, u))
	want := `{"id":"a\"b","role":"admin","name":"Ann","created_at":"2026-01-02T03:04:05.123456Z","updated_at":"2026-01-02T03:04:06.000000Z","banned":true,"online":false,"shadow_banned":false,"invisible":false,"language":"","teams":["red","blue"],"blocked_user_ids":[],"color":"red","n":{"x":[1,2]}}`
	if got != want {
		t.Fatalf("unexpected JSON;\ngot  %s\nwant %s", got, want)
	}
	full := Legacy{}.AppendFullUser(nil, &storage.User{ID: "x", CreatedAt: 1000, UpdatedAt: 2000, LastActive: 3000})
	var m map[string]any
	if err := json.Unmarshal(full, &m); err != nil {
		t.Fatalf("invalid JSON %s: %s", full, err)
	}
	for k, v := range map[string]any{
		"role": "user", "devices": []any{}, "mutes": []any{}, "channel_mutes": []any{}, "total_unread_count": 0.0,
		"unread_count": 0.0, "unread_channels": 0.0, "unread_threads": 0.0, "teams": []any{}, "language": "",
		"last_active": "1970-01-01T00:00:00.000003Z", "online": false,
	} {
		if !reflect.DeepEqual(m[k], v) {
			t.Fatalf("unexpected %q; got %#v; want %#v in %s", k, m[k], v, full)
		}
	}
	for _, k := range []string{"name", "image", "deleted_at", "deactivated_at"} {
		if _, ok := m[k]; ok {
			t.Fatalf("unexpected key %q in %s", k, full)
		}
	}
	// Empty custom objects add nothing.
	for _, c := range []string{"", "{}", "{ }"} {
		b := Legacy{}.AppendUser(nil, &storage.User{ID: "x", Custom: []byte(c)})
		if !json.Valid(b) {
			t.Fatalf("invalid JSON for custom %q: %s", c, b)
		}
	}
}

func TestUserJSONAllocs(t *testing.T) {
	u := &storage.User{ID: "abc", Name: "n", Teams: []string{"t"}, CreatedAt: 5, UpdatedAt: 6, Custom: []byte(`{"k":1}`)}
	buf := make([]byte, 0, 4096)
	n := testing.AllocsPerRun(100, func() {
		buf = Legacy{}.AppendUser(buf[:0], u)
		buf = Legacy{}.AppendFullUser(buf[:0], u)
	})
	if n != 0 {
		t.Fatalf("unexpected allocations; got %v; want 0", n)
	}
}
