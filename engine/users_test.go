package engine

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

func TestUpsertUsersReplaceAndCreatedAt(t *testing.T) {
	e, clock := newTestEngine(t)
	first := clock.Now()
	err := e.UpsertUsers([]storage.User{
		{ID: "a", Name: "Ann", Teams: []string{"red"}, Custom: []byte(`{"age":3}`)},
		{ID: "b", Role: "admin"},
	})
	if err != nil {
		t.Fatalf("cannot upsert: %s", err)
	}
	clock.Add(time.Hour)
	if err := e.UpsertUsers([]storage.User{{ID: "a", Custom: []byte(`{"color":"red"}`)}}); err != nil {
		t.Fatalf("cannot upsert: %s", err)
	}
	u, ok, err := e.GetUser("a")
	if err != nil || !ok {
		t.Fatalf("cannot get user a: %v %v", ok, err)
	}
	want := storage.User{
		ID: "a", Role: "user",
		CreatedAt: first.Truncate(time.Microsecond).UnixNano(),
		UpdatedAt: clock.Now().Truncate(time.Microsecond).UnixNano(),
		Custom:    []byte(`{"color":"red"}`),
	}
	if !reflect.DeepEqual(*u, want) {
		t.Fatalf("unexpected user after replace;\ngot  %+v\nwant %+v", *u, want)
	}
	b, ok, _ := e.GetUser("b")
	if !ok || b.Role != "admin" {
		t.Fatalf("unexpected user b: %+v", b)
	}
	if _, ok, err := e.GetUser("nope"); ok || err != nil {
		t.Fatalf("unexpected result for unknown user: %v %v", ok, err)
	}
}

func TestUpsertUsersInvalidWritesNothing(t *testing.T) {
	f := func(u storage.User) {
		t.Helper()
		e, _ := newTestEngine(t)
		err := e.UpsertUsers([]storage.User{{ID: "good"}, u})
		if ae, ok := AsError(err); !ok || ae.Code != CodeInput {
			t.Fatalf("unexpected error; got %v; want an input error", err)
		}
		if _, ok, _ := e.GetUser("good"); ok {
			t.Fatalf("a user was stored although the request was rejected")
		}
	}
	f(storage.User{ID: ""})
	f(storage.User{ID: strings.Repeat("x", 256)})
	f(storage.User{ID: "x", Custom: []byte(`[1]`)})
	f(storage.User{ID: "x", Custom: []byte(`{"a":`)})
	f(storage.User{ID: "x", Custom: []byte(`{"a":"` + strings.Repeat("y", MaxUserCustomSize) + `"}`)})
	f(storage.User{ID: "x", Teams: []string{""}})
}

func TestUsersByOrdinalsAndScan(t *testing.T) {
	e, _ := newTestEngine(t)
	var us []storage.User
	for i := 0; i < 50; i++ {
		us = append(us, storage.User{ID: fmt.Sprintf("u%02d", i), Name: fmt.Sprintf("n%d", i)})
	}
	if err := e.UpsertUsers(us); err != nil {
		t.Fatal(err)
	}
	ord := func(id string) uint32 {
		o, ok := e.DB().Users.Lookup(id)
		if !ok {
			t.Fatalf("id %q not interned", id)
		}
		return o
	}
	// An interned id without a record (e.g. referenced elsewhere) is skipped.
	ghost, err := e.DB().Users.InternOne("ghost")
	if err != nil {
		t.Fatal(err)
	}
	f := func(ords []uint32, want []string) {
		t.Helper()
		var got []string
		err := e.UsersByOrdinals(ords, func(o uint32, u *storage.User) {
			if o != ord(u.ID) {
				t.Fatalf("ordinal %d does not belong to %q", o, u.ID)
			}
			got = append(got, u.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("unexpected users; got %v; want %v", got, want)
		}
	}
	f(nil, nil)
	f([]uint32{ord("u00")}, []string{"u00"})
	f([]uint32{ord("u00"), ord("u01"), ord("u02"), ord("u10"), ord("u49")}, []string{"u00", "u01", "u02", "u10", "u49"})
	f([]uint32{ord("u03"), ghost, 9999, ord("u04")}, []string{"u03", "u04"})
	f([]uint32{ord("u05"), 1000, 1001}, []string{"u05"})
	f([]uint32{ord("u07"), ord("u02"), ord("u07")}, []string{"u07", "u02", "u07"}) // any order works

	var n int
	prev := uint32(0)
	if err := e.ScanUsers(func(o uint32, u *storage.User) bool {
		if o <= prev {
			t.Fatalf("scan not ascending: %d after %d", o, prev)
		}
		prev = o
		n++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if n != 50 {
		t.Fatalf("unexpected scan count; got %d; want 50", n)
	}
	n = 0
	_ = e.ScanUsers(func(uint32, *storage.User) bool { n++; return n < 7 })
	if n != 7 {
		t.Fatalf("scan did not stop; got %d calls; want 7", n)
	}
}

func TestUserDocMatch(t *testing.T) {
	u := &storage.User{
		ID: "john", Name: "John Doe", Role: "admin", Teams: []string{"red", "blue"}, Banned: false,
		CreatedAt: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC).UnixNano(), UpdatedAt: 1,
		Language: "nl", Custom: []byte(`{"age":31,"tags":["a","b"],"address":{"city":"Oslo"}}`),
	}
	f := func(raw string, want bool) {
		t.Helper()
		fl, err := filter.Compile([]byte(raw), filter.UserSchema)
		if err != nil {
			t.Fatalf("cannot compile %s: %s", raw, err)
		}
		if got := fl.Match((*UserDoc)(u)); got != want {
			t.Fatalf("unexpected match of %s; got %v; want %v", raw, got, want)
		}
	}
	f(`{"id":"john"}`, true)
	f(`{"id":{"$in":["x","john"]}}`, true)
	f(`{"name":{"$autocomplete":"do"}}`, true)
	f(`{"role":"user"}`, false)
	f(`{"team":"red"}`, true)
	f(`{"teams":{"$in":["green"]}}`, false)
	f(`{"banned":false}`, true)
	f(`{"created_at":{"$gte":"2026-01-01T00:00:00Z"}}`, true)
	f(`{"created_at":{"$gt":"2026-01-02T00:00:00Z"}}`, false)
	f(`{"last_active":{"$exists":true}}`, false)
	f(`{"age":{"$gt":30}}`, true)
	f(`{"tags":"b"}`, true)
	f(`{"address.city":"Oslo"}`, true)
	f(`{"language":"nl"}`, true)
	f(`{"missing":{"$exists":false}}`, true)
}

func TestUserDocAllocs(t *testing.T) {
	u := &storage.User{ID: "john", Name: "John", Teams: []string{"red"}, Custom: []byte(`{"age":31}`)}
	fl, err := filter.Compile([]byte(`{"team":"red","age":{"$gt":30},"name":{"$autocomplete":"jo"}}`), filter.UserSchema)
	if err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(100, func() {
		if !fl.Match((*UserDoc)(u)) {
			panic("no match")
		}
	})
	if n != 0 {
		t.Fatalf("unexpected allocations; got %v; want 0", n)
	}
}

func TestPatchUsersConcurrentNoLostUpdates(t *testing.T) {
	e, _ := newTestEngine(t)
	if err := e.UpsertUsers([]storage.User{{ID: "c"}}); err != nil {
		t.Fatal(err)
	}
	const writers = 8
	done := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func(w int) {
			key := fmt.Sprintf("k%d", w)
			_, err := e.PatchUsers([]UserPatch{{ID: "c", SetCustom: []CustomField{{Key: key, Member: fmt.Appendf(nil, "%q:%d", key, w)}}}})
			done <- err
		}(w)
	}
	for w := 0; w < writers; w++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	u, _, _ := e.GetUser("c")
	var m map[string]int
	if err := json.Unmarshal(u.Custom, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != writers {
		t.Fatalf("lost updates: custom %s", u.Custom)
	}
}

func TestUsersPersistAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	e := openTestEngine(t, dir, Options{})
	if err := e.UpsertUsers([]storage.User{{ID: "a", Name: "A", Custom: []byte(`{"x":1}`)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DeleteUser("a", false); err != nil {
		t.Fatal(err)
	}
	if err := e.UpsertUsers([]storage.User{{ID: "b"}}); err != nil {
		t.Fatal(err)
	}
	closeTestEngine(e)
	e2 := openTestEngine(t, dir, Options{})
	if _, ok, _ := e2.GetUser("a"); ok {
		t.Fatalf("soft-deleted user visible after reopen")
	}
	if _, ok, _ := e2.GetUser("b"); !ok {
		t.Fatalf("user b lost after reopen")
	}
	if u, found, _ := e2.getUserRecord(mustOrd(t, e2, "a")); !found || u.DeletedAt == 0 || string(u.Custom) != `{"x":1}` {
		t.Fatalf("soft-deleted record not kept: %+v", u)
	}
}

func mustOrd(t *testing.T, e *Engine, id string) uint32 {
	t.Helper()
	o, ok := e.DB().Users.Lookup(id)
	if !ok {
		t.Fatalf("id %q not interned", id)
	}
	return o
}

func TestUserPatchApply(t *testing.T) {
	member := func(key, raw string) CustomField {
		return CustomField{Key: key, Member: fmt.Appendf(nil, "%q:%s", key, raw)}
	}
	f := func(custom string, p UserPatch, want string) {
		t.Helper()
		u := storage.User{ID: "u", Role: "admin", Name: "n", LastActive: 5, Custom: []byte(custom)}
		if err := p.Apply(&u); err != nil {
			t.Fatalf("cannot apply %+v to %s: %s", p, custom, err)
		}
		if string(u.Custom) != want {
			t.Fatalf("unexpected custom after %+v on %s; got %s; want %s", p, custom, u.Custom, want)
		}
	}
	f(`{"a":1}`, UserPatch{}, `{"a":1}`)
	f(`{"a":1,"b":[2]}`, UserPatch{UnsetCustom: []string{"a"}}, `{"b":[2]}`)
	f(`{"a":1}`, UserPatch{UnsetCustom: []string{"a"}}, ``)
	f(`{"a":1,"b":2}`, UserPatch{SetCustom: []CustomField{member("a", `{"x":3}`)}}, `{"b":2,"a":{"x":3}}`)
	f(``, UserPatch{SetCustom: []CustomField{member("c", `"v"`)}}, `{"c":"v"}`)
	f(`{"k\u00e9":1,"z":0}`, UserPatch{UnsetCustom: []string{"ké"}}, `{"z":0}`) // keys compare decoded

	u := storage.User{ID: "u", Role: "admin", Name: "n", Teams: []string{"t"}, LastActive: 5}
	p := UserPatch{Set: storage.User{Name: "m", LastActive: 1234567}, SetMask: UserName | UserLastActive, UnsetMask: UserRole | UserTeams}
	if err := p.Apply(&u); err != nil {
		t.Fatal(err)
	}
	if want := (storage.User{ID: "u", Role: DefaultUserRole, Name: "m", LastActive: 1234000}); !reflect.DeepEqual(u, want) {
		t.Fatalf("unexpected user after %+v;\ngot  %+v\nwant %+v", p, u, want)
	}
	big := UserPatch{SetCustom: []CustomField{member("b", `"`+strings.Repeat("x", MaxUserCustomSize)+`"`)}}
	wantInputError(t, big.Apply(&storage.User{ID: "u"}), "set")
}
