package engine

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/campaignd/campaignd/storage"
)

// mustChannelUsers stores users "sender" and r0..r{n-1} and returns their ordinals (sender first).
func mustChannelUsers(t testing.TB, e *Engine, n int) []uint32 {
	t.Helper()
	us := []storage.User{{ID: "sender", Name: "S"}}
	ids := []string{"sender"}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("r%d", i)
		us = append(us, storage.User{ID: id, Custom: []byte(fmt.Sprintf(`{"i":%d}`, i))})
		ids = append(ids, id)
	}
	if err := e.UpsertUsers(us); err != nil {
		t.Fatalf("cannot upsert users: %s", err)
	}
	ords, missing, err := e.resolveUsers(ids)
	if err != nil || len(missing) > 0 {
		t.Fatalf("cannot resolve users: %v %v", err, missing)
	}
	return ords
}

// testOutbox decodes every stored outbox event.
func testOutbox(t testing.TB, e *Engine) []storage.OutboxEvent {
	t.Helper()
	it := e.db.NewIter([]byte{storage.PrefixOutbox}, []byte{storage.PrefixOutbox + 1})
	var evs []storage.OutboxEvent
	for ok := it.First(); ok; ok = it.Next() {
		var ev storage.OutboxEvent
		if err := ev.Unmarshal(append([]byte(nil), it.Value()...)); err != nil {
			t.Fatalf("cannot decode event: %s", err)
		}
		evs = append(evs, ev)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return evs
}

func countKeys(t testing.TB, e *Engine, prefix []byte) int {
	t.Helper()
	it := e.db.NewIter(prefix, storage.PrefixEnd(nil, prefix))
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDistinctChannelID(t *testing.T) {
	f := func(a, b []string, same bool) {
		t.Helper()
		x, y := DistinctChannelID(a), DistinctChannelID(b)
		if (x == y) != same {
			t.Fatalf("unexpected equality of %v (%s) and %v (%s); want same=%v", a, x, b, y, same)
		}
		for _, id := range []string{x, y} {
			if !strings.HasPrefix(id, DistinctChannelIDPrefix) || len(id) != len(DistinctChannelIDPrefix)+43 {
				t.Fatalf("unexpected distinct id %q", id)
			}
			if err := CheckChannelRef("id", id); err != nil || !IsDistinctChannelID(id) {
				t.Fatalf("distinct id %q is not a valid channel reference: %v", id, err)
			}
		}
	}
	f([]string{"a", "b"}, []string{"b", "a"}, true)
	f([]string{"a", "b"}, []string{"a", "b", "a"}, true)
	f([]string{"a", "b"}, []string{"a", "c"}, false)
	f([]string{"ab"}, []string{"a", "b"}, false)
	f([]string{"a\x01b"}, []string{"a", "b"}, false)
	f([]string{"a"}, []string{"a", "a"}, true)
	in := []string{"z", "a"}
	DistinctChannelID(in)
	if !reflect.DeepEqual(in, []string{"z", "a"}) {
		t.Fatalf("DistinctChannelID modified its input: %v", in)
	}
}

func TestCheckChannelTypeAndID(t *testing.T) {
	f := func(typ, id string, okType, okID bool) {
		t.Helper()
		if err := CheckChannelType("type", typ); (err == nil) != okType {
			t.Fatalf("unexpected CheckChannelType(%q) = %v", typ, err)
		}
		if err := CheckChannelID("id", id); (err == nil) != okID {
			t.Fatalf("unexpected CheckChannelID(%q) = %v", id, err)
		}
	}
	f("messaging", "general", true, true)
	f("a_b-C9", "x_Y-9", true, true)
	// "!" is Stream's reserved character: explicit ids never hold it.
	f("messaging", "!members-x_Y-9", true, false)
	f("messaging", "a!b", true, false)
	f("", "", false, false)
	f("a:b", "a:b", false, false)
	f("a!", "a b", false, false)
	f("ü", "ü", false, false)
	f(strings.Repeat("t", 64), strings.Repeat("i", 255), true, true)
	f(strings.Repeat("t", 65), strings.Repeat("i", 256), false, false)

	// A path may name an existing distinct channel by its derived id.
	g := func(id string, ok bool) {
		t.Helper()
		if err := CheckChannelRef("id", id); (err == nil) != ok {
			t.Fatalf("unexpected CheckChannelRef(%q) = %v", id, err)
		}
	}
	g(DistinctChannelID([]string{"a", "b"}), true)
	g("general", true)
	g("!members-x_Y-9", false)
	g(DistinctChannelID([]string{"a", "b"})+"x", false)
	g(strings.Replace(DistinctChannelID([]string{"a", "b"}), "-", "!", 2), false)
}

func TestAddMemberTx(t *testing.T) {
	e, _ := newTestEngine(t)
	ords := mustChannelUsers(t, e, 3)
	tx := e.NewTx()
	ref, err := e.CreateChannelTx(tx, &ChannelSpec{Type: "messaging", ID: "m", CreatedBy: ords[0], Members: []MemberSpec{{User: ords[1]}, {User: ords[1]}}})
	if err != nil {
		t.Fatal(err)
	}
	if ref.Ch.MemberCount != 1 {
		t.Fatalf("a member listed twice counted twice: %d", ref.Ch.MemberCount)
	}
	for _, c := range []struct {
		ord  uint32
		want bool
	}{{ords[2], true}, {ords[2], false}, {ords[1], false}} {
		added, err := e.AddMemberTx(tx, ref, &MemberSpec{User: c.ord, ChannelRole: "channel_moderator"})
		if err != nil || added != c.want {
			t.Fatalf("unexpected AddMemberTx(%d); got %v %v; want %v", c.ord, added, err, c.want)
		}
	}
	if err := e.AppendMessageTx(tx, ref, &storage.Message{User: ords[0], Text: "t"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Commit(tx); err != nil {
		t.Fatal(err)
	}
	_, ch, _, _ := e.ChannelByCID("messaging:m")
	if ch.MemberCount != 2 || ch.MessageCount != 1 {
		t.Fatalf("unexpected counts: %+v", ch)
	}
	evs := testOutbox(t, e)
	if len(evs) != 2 || evs[1].Type != "message.new" || !reflect.DeepEqual(evs[1].Receivers, []string{"r0", "r1"}) {
		t.Fatalf("unexpected events: %+v", evs)
	}
}

func TestPlainTxLocksOneChannel(t *testing.T) {
	e, _ := newTestEngine(t)
	if _, err := e.db.Channels.Intern(nil, []string{"messaging:a", "messaging:b"}); err != nil {
		t.Fatal(err)
	}
	tx := e.NewTx()
	defer tx.Discard()
	if _, _, err := e.ChannelTx(tx, "messaging", "a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.ChannelTx(tx, "messaging", "a"); err != nil { // the same one again is fine
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "second channel") {
			t.Fatalf("unexpected recover value %v", r)
		}
	}()
	e.ChannelTx(tx, "messaging", "b")
}

// mustLockChannels interns cids and returns a Tx holding all their latches (the way a fan-out
// chunk takes them), and their ordinals in cids' order.
func mustLockChannels(t testing.TB, e *Engine, cids []string) (*Tx, []uint32) {
	t.Helper()
	ords, err := e.db.Channels.Intern(nil, cids)
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(ords)
	slices.Sort(sorted)
	tx := e.NewTx()
	e.lockChannels(tx, slices.Compact(sorted))
	return tx, ords
}

func TestChannelLocksReleased(t *testing.T) {
	e, _ := newTestEngine(t)
	ords := mustChannelUsers(t, e, 1)
	cids := make([]string, 10)
	for c := range cids {
		cids[c] = fmt.Sprintf("t:%d", c)
	}
	// Txs holding every channel's latch (as fan-out chunks) and plain Txs on overlapping channels,
	// concurrently: no deadlock, all stored.
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					tx, chanOrds := mustLockChannels(t, e, cids)
					for c := range cids {
						ref, err := e.CreateChannelTx(tx, &ChannelSpec{Type: "t", ID: fmt.Sprint(c), Ord: chanOrds[c], CreatedBy: ords[0]})
						if err != nil {
							t.Error(err)
							return
						}
						if err := e.AppendMessageTx(tx, ref, &storage.Message{User: ords[0], Text: "b"}, &MessageOptions{NoEvent: true}); err != nil {
							t.Error(err)
						}
					}
					if err := e.Commit(tx); err != nil {
						t.Error(err)
					}
					tx = e.NewTx()
					ref, err := e.CreateChannelTx(tx, &ChannelSpec{Type: "t", ID: fmt.Sprint((w + i) % 10), CreatedBy: ords[0]})
					if err != nil {
						t.Error(err)
						return
					}
					if err := e.AppendMessageTx(tx, ref, &storage.Message{User: ords[0], Text: "p"}, nil); err != nil {
						t.Error(err)
					}
					if i%2 == 0 {
						tx.Discard()
					} else if err := e.Commit(tx); err != nil {
						t.Error(err)
					}
				}
			}(w)
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("deadlock: writers did not finish")
	}
	total := 0
	for c := 0; c < 10; c++ {
		_, ch, ok, err := e.ChannelByCID(fmt.Sprintf("t:%d", c))
		if err != nil || !ok {
			t.Fatalf("channel %d missing: %v", c, err)
		}
		total += int(ch.MessageCount)
		if ch.NextSeq != ch.MessageCount+1 {
			t.Fatalf("channel %d: seq %d after %d messages", c, ch.NextSeq, ch.MessageCount)
		}
	}
	if want := 4*20*10 + 4*10; total != want {
		t.Fatalf("unexpected message total; got %d; want %d", total, want)
	}
	// Nothing is held any more.
	for i := range e.channels.latches.shards {
		if n := len(e.channels.latches.shards[i].held); n != 0 {
			t.Fatalf("latch shard %d still holds %d latches", i, n)
		}
	}
}

// BenchmarkQueryChannelsScan measures queryChannels over channels=N when the filter pins no index
// (a custom field): one scan decoding every channel without copying.
func BenchmarkQueryChannelsScan(b *testing.B) {
	const n = 100_000
	e, _ := newTestEngine(b)
	ords := mustChannelUsers(b, e, 0)
	cids := make([]string, n)
	for i := range cids {
		cids[i] = fmt.Sprintf("messaging:c%d", i)
	}
	tx, chanOrds := mustLockChannels(b, e, cids)
	for i := range cids {
		custom := []byte(`{"color":"blue","n":1}`)
		if i%1000 == 0 {
			custom = []byte(`{"color":"red","n":1}`)
		}
		if _, err := e.CreateChannelTx(tx, &ChannelSpec{Type: "messaging", ID: cids[i][len("messaging:"):], Ord: chanOrds[i], CreatedBy: ords[0], Custom: custom, NoEvent: true}); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.Commit(tx); err != nil {
		b.Fatal(err)
	}
	b.Run(fmt.Sprintf("channels=%d", n), func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			req := &QueryChannelsRequest{Filter: []byte(`{"color":"red"}`), Limit: 30, MessageLimit: -1, MemberLimit: -1}
			if _, err := e.QueryChannels(req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "channels/s")
	})
}

func TestChannelLatches(t *testing.T) {
	var l latchTable
	blocked := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return false
		case <-time.After(100 * time.Millisecond):
			return true
		}
	}
	within := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still blocked", what)
		}
	}
	// A chunk holds 1, 65 (same shard) and 3.
	l.lockMany([]uint32{1, 3, 65})
	// Another channel of the same shard is free.
	free := make(chan struct{})
	go func() { l.lock(129); l.unlock(129); close(free) }()
	within(free, "a free channel sharing a shard")
	// A writer of 65 waits for the chunk.
	got := make(chan struct{})
	go func() { l.lock(65); close(got) }()
	if !blocked(got) {
		t.Fatal("a writer got a latch the chunk holds")
	}
	// The next chunk (3, 4) waits too, and gets 3 once the chunk ended.
	next := make(chan struct{})
	go func() { l.lockMany([]uint32{3, 4}); close(next) }()
	if !blocked(next) {
		t.Fatal("an overlapping chunk got a latch the chunk holds")
	}
	l.unlockMany([]uint32{1, 3, 65})
	within(got, "writer after the chunk ended")
	within(next, "next chunk after the chunk ended")
	l.unlock(65)
	l.unlockMany([]uint32{3, 4})
	for i := range l.shards {
		if n := len(l.shards[i].held); n != 0 {
			t.Fatalf("latch shard %d still holds %d latches", i, n)
		}
	}
	defer func() {
		if r := recover(); r == nil {
			t.Fatalf("unlocking a free latch did not panic")
		}
	}()
	l.unlock(7)
}
