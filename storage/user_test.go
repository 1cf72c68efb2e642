package storage

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleUsers() []User {
	return []User{
		{},
		{ID: "u1", Role: "user", CreatedAt: 1, UpdatedAt: 2},
		{
			ID: "ü/ser 2", Role: "admin", Name: "Ann", Image: "http://x/y.png", Language: "nl",
			Teams: []string{"red", "blue", ""}, Banned: true, ShadowBanned: true, Invisible: true,
			CreatedAt: 1700000000123456000, UpdatedAt: 1700000000999999000, LastActive: -5,
			DeactivatedAt: 7, DeletedAt: 9, Custom: []byte(`{"age":31,"tags":["a"],"nested":{"k":null}}`),
		},
	}
}

func TestUserCodecRoundTrip(t *testing.T) {
	f := func(u User) {
		t.Helper()
		b := u.Marshal([]byte("prefix"))
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatalf("Marshal overwrote dst")
		}
		b = b[len("prefix"):]
		for _, alias := range []bool{false, true} {
			var got User
			got.Teams = []string{"stale", "stale", "stale", "stale"}
			var err error
			if alias {
				err = got.UnmarshalNoCopy(b)
			} else {
				err = got.Unmarshal(b)
			}
			if err != nil {
				t.Fatalf("unexpected error (alias=%v): %s", alias, err)
			}
			want := u
			if len(want.Custom) == 0 {
				want.Custom = got.Custom // nil vs empty
			}
			if len(got.Custom) != 0 || len(u.Custom) != 0 {
				if !bytes.Equal(got.Custom, u.Custom) {
					t.Fatalf("unexpected Custom; got %q; want %q", got.Custom, u.Custom)
				}
			}
			want.Custom, got.Custom = nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("unexpected user (alias=%v);\ngot  %+v\nwant %+v", alias, got, want)
			}
		}
	}
	for _, u := range sampleUsers() {
		f(u)
	}
}

func TestUserCodecCorrupt(t *testing.T) {
	f := func(b []byte) {
		t.Helper()
		var u User
		err := u.Unmarshal(b)
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("unexpected error for %x; got %v; want ErrCorrupt", b, err)
		}
	}
	good := sampleUsers()[2].Marshal(nil)
	f(nil)
	f([]byte{})
	f([]byte{99})
	f(good[:len(good)-1])
	f(append(append([]byte{}, good...), 0))
	for i := 1; i < len(good); i++ {
		f(good[:i])
	}
}

func TestUserUnmarshalNoCopyAllocs(t *testing.T) {
	b := sampleUsers()[2].Marshal(nil)
	var u User
	if err := u.UnmarshalNoCopy(b); err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(100, func() {
		if err := u.UnmarshalNoCopy(b); err != nil {
			panic(err)
		}
	})
	if n != 0 {
		t.Fatalf("unexpected allocations; got %v; want 0", n)
	}
}

func FuzzUserCodec(f *testing.F) {
	for _, u := range sampleUsers() {
		f.Add(u.Marshal(nil))
	}
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var u User
		if err := u.Unmarshal(b); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error %v", err)
			}
			var v User
			if err2 := v.UnmarshalNoCopy(b); err2 == nil {
				t.Fatalf("UnmarshalNoCopy accepted what Unmarshal rejected")
			}
			return
		}
		// A decodable record re-encodes to bytes that decode to the same user (the bytes may
		// differ: varints and the flags byte have non-canonical forms).
		b2 := u.Marshal(nil)
		var v User
		if err := v.UnmarshalNoCopy(b2); err != nil {
			t.Fatalf("cannot decode re-encoded user: %s", err)
		}
		if !bytes.Equal(u.Custom, v.Custom) {
			t.Fatalf("unexpected Custom; got %q; want %q", v.Custom, u.Custom)
		}
		u.Custom, v.Custom = nil, nil
		if !reflect.DeepEqual(u, v) {
			t.Fatalf("unexpected user;\ngot  %+v\nwant %+v", v, u)
		}
	})
}
