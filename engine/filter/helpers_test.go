package filter

import (
	"testing"
	"time"
)

// testUser is a record shaped like storage's user record.
type testUser struct {
	ID, Name, Role        string
	Teams                 []string
	Banned                bool
	CreatedAt, LastActive int64
	Custom                []byte
}

func (u *testUser) Field(name string) (Value, bool) {
	switch name {
	case "id":
		return StringValue(u.ID), true
	case "name":
		return StringValue(u.Name), u.Name != ""
	case "role":
		return StringValue(u.Role), true
	case "teams":
		return ListValue(u.Teams), len(u.Teams) > 0
	case "banned":
		return BoolValue(u.Banned), true
	case "shadow_banned":
		return BoolValue(false), true
	case "created_at", "updated_at":
		return TimeValue(u.CreatedAt), true
	case "last_active":
		return TimeValue(u.LastActive), u.LastActive != 0
	}
	return CustomValue(u.Custom, name)
}

// testChannel is a record shaped like storage's channel record.
type testChannel struct {
	Type, ID, CreatedBy string
	Members             []string
	Custom              []byte
}

func (c *testChannel) Field(name string) (Value, bool) {
	switch name {
	case "cid":
		return StringValue(c.Type + ":" + c.ID), true
	case "id":
		return StringValue(c.ID), true
	case "type":
		return StringValue(c.Type), true
	case "members":
		return ListValue(c.Members), true
	case "created_by_id":
		return StringValue(c.CreatedBy), true
	case "team", "last_message_at", "created_at", "updated_at":
		return Value{}, false
	}
	return CustomValue(c.Custom, name)
}

// mapDoc answers from a map; anything else is missing.
type mapDoc map[string]Value

func (m mapDoc) Field(name string) (Value, bool) {
	v, ok := m[name]
	return v, ok
}

func mustTime(t testing.TB, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("cannot parse time %q: %s", s, err)
	}
	return tm.UnixNano()
}

func mustCompile(t testing.TB, raw string, s *Schema) *Filter {
	t.Helper()
	f, err := Compile([]byte(raw), s)
	if err != nil {
		t.Fatalf("cannot compile %s: %s", raw, err)
	}
	return f
}

func sampleUser(t testing.TB) *testUser {
	return &testUser{
		ID:         "u-42",
		Name:       "Ada Lovelace-Byron",
		Role:       "admin",
		Teams:      []string{"red", "blue"},
		CreatedAt:  mustTime(t, "2024-03-01T10:00:00Z"),
		LastActive: mustTime(t, "2024-05-01T10:00:00.5Z"),
		Custom: []byte(`{"age": 36, "score": 7.5, "country": "UK", "vip": true, "nick": null,
			"tags": ["math", "poetry", 3], "address": {"city": "London", "zip": "N1"},
			"esc\"key": "q\"uote \u00e9t\u00e9", "a.b": 1, "price": "12"}`),
	}
}
