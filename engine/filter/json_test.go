package filter

import (
	"strings"
	"testing"
)

func TestLookupJSON(t *testing.T) {
	obj := []byte(` { "a" : 1 , "s":"x\"y", "n":null, "arr":[1,{"a":2},"]"], "o":{"b":{"c":true}, "d.e":"de"},
		"k\u00e9y":"unicode", "a.b":"dotted", "a":2, "br}":"{", "x.y":{"z":1}, "x":{"y.z":2}} `)
	f := func(path, want string, wantOK bool) {
		t.Helper()
		got, ok := LookupJSON(obj, path)
		if ok != wantOK || string(got) != want {
			t.Fatalf("unexpected LookupJSON(%q); got %q, %v; want %q, %v", path, got, ok, want, wantOK)
		}
	}
	f("a", "1", true) // the first of repeated keys
	f("s", `"x\"y"`, true)
	f("n", "null", true)
	f("arr", `[1,{"a":2},"]"]`, true)
	f("o", `{"b":{"c":true}, "d.e":"de"}`, true)
	f("o.b", `{"c":true}`, true)
	f("o.b.c", "true", true)
	f("o.d.e", `"de"`, true)
	f("kéy", `"unicode"`, true)
	f("a.b", `"dotted"`, true) // the exact key wins over a path
	f("br}", `"{"`, true)
	f("x.y", `{"z":1}`, true)
	f("x.y.z", "2", true) // "x" then "y.z"; "x.y" then "z" is not tried
	f("missing", "", false)
	f("o.missing", "", false)
	f("a.c", "", false)   // a is not an object
	f("arr.0", "", false) // no array indexing
	f("", "", false)

	// Not objects, or malformed: no panic, not found.
	bad := func(in, path string) {
		t.Helper()
		if got, ok := LookupJSON([]byte(in), path); ok {
			t.Fatalf("unexpected hit in %q for %q: %q", in, path, got)
		}
	}
	bad(``, "a")
	bad(`[1]`, "a")
	bad(`"a"`, "a")
	bad(`{"a"`, "a")
	bad(`{"a":`, "a")
	bad(`{"b":1 "a":2}`, "a")
	bad(`{"b":"unterminated`, "a")
	bad(`{"b":[1,2`, "a")
}

func TestLookupJSONDottedFallback(t *testing.T) {
	obj := []byte(`{"x":{"y.z":2}}`)
	got, ok := LookupJSON(obj, "x.y.z")
	if !ok || string(got) != "2" {
		t.Fatalf("unexpected LookupJSON(x.y.z); got %q, %v; want 2, true", got, ok)
	}
}

func TestRawHelpers(t *testing.T) {
	fs := func(raw, want string, wantOK bool) {
		t.Helper()
		got, ok := rawString([]byte(raw))
		if ok != wantOK || got != want {
			t.Fatalf("unexpected rawString(%q); got %q, %v; want %q, %v", raw, got, ok, want, wantOK)
		}
	}
	fs(`"abc"`, "abc", true)
	fs(`""`, "", true)
	fs(`"a\nb\t\"\\\/"`, "a\nb\t\"\\/", true)
	fs(`"\u00e9\ud83d\ude00"`, "é😀", true)
	fs(`"\ud83d"`, "\uFFFD", true) // lone surrogate
	fs(`"\x"`, "", false)
	fs(`12`, "", false)
	fs(`"`, "", false)

	fn := func(raw string, want float64, wantOK bool) {
		t.Helper()
		got, ok := rawNumber([]byte(raw))
		if ok != wantOK || got != want {
			t.Fatalf("unexpected rawNumber(%q); got %v, %v; want %v, %v", raw, got, ok, want, wantOK)
		}
	}
	fn(`12`, 12, true)
	fn(`-1.5e2`, -150, true)
	fn(`"12"`, 0, false)
	fn(`true`, 0, false)
	fn(`-`, 0, false)
}

func TestArrayIter(t *testing.T) {
	f := func(raw string, want ...string) {
		t.Helper()
		it, ok := newArrayIter([]byte(raw))
		if !ok {
			t.Fatalf("not an array: %q", raw)
		}
		var got []string
		for e, ok := it.next(); ok; e, ok = it.next() {
			got = append(got, string(e))
		}
		if len(got) != len(want) {
			t.Fatalf("unexpected elements of %s; got %q; want %q", raw, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("unexpected elements of %s; got %q; want %q", raw, got, want)
			}
		}
	}
	f(`[]`)
	f(`[ ]`)
	f(`[1]`, "1")
	f(` [1, "a,b" ,[2,3], {"x":[]}, null]`[1:], "1", `"a,b"`, "[2,3]", `{"x":[]}`, "null")
	f(`[1,`, "1")
}

func TestObjectMembers(t *testing.T) {
	f := func(obj, want string) {
		t.Helper()
		if got := ObjectMembers([]byte(obj)); string(got) != want || (want == "") != (got == nil) {
			t.Fatalf("unexpected ObjectMembers(%q); got %q; want %q", obj, got, want)
		}
	}
	f(``, ``)
	f(`{}`, ``)
	f(`{ }`, ``)
	f(`[1]`, ``)
	f(`{"a":1}`, `"a":1`)
	f(`{ "a":1,"b":[2]}`, `"a":1,"b":[2]`)
}

func TestEachMember(t *testing.T) {
	f := func(obj string, want ...string) {
		t.Helper()
		var got []string
		EachMember([]byte(obj), func(key string, member []byte) {
			got = append(got, key+"="+string(member))
		})
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("unexpected members of %q; got %q; want %q", obj, got, want)
		}
	}
	f(``)
	f(`{}`)
	f(`[1,2]`)
	f(`{"a":1}`, `a="a":1`)
	f(` { "a" : 1 , "b":{"c":[1,"}"]},"k\u00e9":null}`, `a="a" : 1`, `b="b":{"c":[1,"}"]}`, `ké="k\u00e9":null`)
	f(`{"a":1,"b":`, `a="a":1`) // malformed: stops
	f(`{"a":1 "b":2}`, `a="a":1`)
}
