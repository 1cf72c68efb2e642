package storage

import (
	"testing"
)

// TestRecordReader checks the forward reads against the keys written, in and out of order, with
// member scans in between (which move the members iterator past the key asked for).
func TestRecordReader(t *testing.T) {
	db := mustOpenTestStore(t)
	b := db.NewBatch()
	for ch := uint32(1); ch <= 50; ch += 2 {
		b.PutChannel(ch, []byte{byte(ch)})
		for u := uint32(1); u <= 3; u++ {
			b.PutMember(ch, ch*10+u, []byte{byte(u)})
		}
		b.PutMessage(ch, 1, "m", []byte{byte(ch), 1})
	}
	for u := uint32(1); u < 600; u += 3 {
		b.Set(UserKey(nil, u), []byte{byte(u)})
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	r := db.NewRecordReader()
	defer r.Close()
	check := func(what string, v []byte, ok bool, want []byte) {
		t.Helper()
		if ok != (want != nil) || string(v) != string(want) {
			t.Fatalf("%s: unexpected value %v (found %v); want %v", what, v, ok, want)
		}
	}
	f := func(ch uint32) {
		t.Helper()
		v, ok := r.Channel(ch)
		var want []byte
		if ch%2 == 1 && ch <= 50 {
			want = []byte{byte(ch)}
		}
		check("channel", v, ok, want)
		got := r.MemberOrds(nil, ch)
		if want != nil && (len(got) != 3 || got[0] != ch*10+1 || got[2] != ch*10+3) || want == nil && len(got) != 0 {
			t.Fatalf("unexpected members of %d: %v", ch, got)
		}
		// A member read after the scan of its own channel.
		v, ok = r.Member(ch, ch*10+2)
		if want != nil {
			check("member", v, ok, []byte{2})
		} else {
			check("member", v, ok, nil)
		}
		v, ok = r.Message(ch, 1)
		if want != nil {
			check("message", v, ok, []byte{byte(ch), 1})
		} else {
			check("message", v, ok, nil)
		}
	}
	for ch := uint32(0); ch <= 60; ch++ {
		f(ch)
	}
	for _, ch := range []uint32{41, 3, 3, 49, 1, 60, 2} {
		f(ch)
	}
	for _, u := range []uint32{1, 2, 4, 4, 300, 301, 598, 597, 10, 1000} {
		v, ok := r.User(u)
		var want []byte
		if u%3 == 1 && u < 600 {
			want = []byte{byte(u)}
		}
		check("user", v, ok, want)
	}
}
