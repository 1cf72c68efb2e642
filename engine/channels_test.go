package engine

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
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

// TestBulkTxFanout drives the Tx-level functions the way the campaign fan-out does.
func TestBulkTxFanout(t *testing.T) {
	e, _ := newUsersTestEngine(t)
	const n = 100
	ords := mustChannelUsers(t, e, n)
	sender := ords[0]
	senderJSON, err := e.userJSON(nil, sender)
	if err != nil {
		t.Fatal(err)
	}
	send := func(round int) {
		t.Helper()
		cids := make([]string, n)
		ids := make([]string, n)
		for i := range ids {
			ids[i] = DistinctChannelID([]string{"sender", fmt.Sprintf("r%d", i)})
			cids[i] = "messaging:" + ids[i]
		}
		chanOrds, err := e.db.Channels.Intern(nil, cids)
		if err != nil {
			t.Fatal(err)
		}
		tx := e.NewBulkTx()
		shared := (*ChannelRef)(nil)
		for i := 0; i < n; i++ {
			ref, ok, err := e.ChannelTx(tx, "messaging", ids[i])
			if err != nil {
				t.Fatal(err)
			}
			if ok != (round > 0) {
				t.Fatalf("round %d: unexpected existence of %s: %v", round, ids[i], ok)
			}
			if !ok {
				rj, _ := e.userJSON(nil, ords[i+1])
				ref, err = e.CreateChannelTx(tx, &ChannelSpec{
					Type: "messaging", ID: ids[i], Ord: chanOrds[i], CreatedBy: sender, CreatorJSON: senderJSON,
					Custom:  []byte(`{"campaign":"c1"}`),
					Members: []MemberSpec{{User: sender, UserJSON: senderJSON}, {User: ords[i+1], UserJSON: rj}},
				})
				if err != nil || !ref.Created {
					t.Fatalf("cannot create: %v %v", err, ref)
				}
			}
			msg := &storage.Message{ID: fmt.Sprintf("c1-%d-r%d", round, i), User: sender, Text: "hi r" + fmt.Sprint(i), Custom: []byte(`{"campaign_id":"c1"}`)}
			if err := e.AppendMessageTx(tx, ref, msg, &MessageOptions{TrustID: true, EventID: "ev-" + msg.ID, UserJSON: senderJSON}); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				shared = ref
			}
		}
		// Two more messages to one channel in the same Tx: distinct seqs.
		for k := 0; k < 2; k++ {
			msg := &storage.Message{ID: fmt.Sprintf("extra-%d-%d", round, k), User: sender, Text: "x"}
			if err := e.AppendMessageTx(tx, shared, msg, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Commit(tx); err != nil {
			t.Fatal(err)
		}
	}
	send(0)
	send(1)

	if got := countKeys(t, e, []byte{storage.PrefixChannel}); got != n {
		t.Fatalf("unexpected channels; got %d; want %d", got, n)
	}
	if got := countKeys(t, e, []byte{storage.PrefixMember}); got != 2*n {
		t.Fatalf("unexpected members; got %d; want %d", got, 2*n)
	}
	if got := countKeys(t, e, storage.NewKey(nil, storage.PrefixUserChannel).U32(sender)); got != n {
		t.Fatalf("unexpected sender channels; got %d; want %d", got, n)
	}
	if got := countKeys(t, e, []byte{storage.PrefixMessage}); got != 2*n+4 {
		t.Fatalf("unexpected messages; got %d; want %d", got, 2*n+4)
	}
	if got := countKeys(t, e, []byte{storage.PrefixMessageID}); got != 2*n+4 {
		t.Fatalf("unexpected message ids; got %d; want %d", got, 2*n+4)
	}
	ord0, ch0, ok, err := e.ChannelByCID("messaging:" + DistinctChannelID([]string{"r0", "sender"}))
	if err != nil || !ok {
		t.Fatalf("channel 0 missing: %v", err)
	}
	if ch0.MessageCount != 6 || ch0.NextSeq != 7 || ch0.MemberCount != 2 || string(ch0.Custom) != `{"campaign":"c1"}` {
		t.Fatalf("unexpected channel 0: %+v", ch0)
	}
	msgs, err := e.ChannelMessages(ord0, &MessagePage{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.ID)
	}
	if want := []string{"c1-0-r0", "extra-0-0", "extra-0-1", "c1-1-r0", "extra-1-0", "extra-1-1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("unexpected messages of channel 0; got %v; want %v", got, want)
	}

	evs := testOutbox(t, e)
	var created, news int
	for _, ev := range evs {
		if !json.Valid(ev.JSON) {
			t.Fatalf("event %s is not valid JSON: %s", ev.ID, ev.JSON)
		}
		var body struct {
			Type    string `json:"type"`
			CID     string `json:"cid"`
			Members []struct {
				UserID string `json:"user_id"`
				User   struct {
					ID string `json:"id"`
				} `json:"user"`
			} `json:"members"`
			Message struct {
				ID         string `json:"id"`
				CampaignID string `json:"campaign_id"`
			} `json:"message"`
		}
		if err := json.Unmarshal(ev.JSON, &body); err != nil {
			t.Fatal(err)
		}
		if body.Type != ev.Type || body.CID != ev.Key || len(body.Members) != 2 {
			t.Fatalf("unexpected event %s: %s", ev.Type, ev.JSON)
		}
		var mids []string
		for _, m := range body.Members {
			if m.UserID != m.User.ID {
				t.Fatalf("member user mismatch: %s", ev.JSON)
			}
			mids = append(mids, m.UserID)
		}
		sort.Strings(mids)
		switch ev.Type {
		case "channel.created":
			created++
			if !ev.SkipPush || len(ev.Receivers) != 0 {
				t.Fatalf("channel.created goes to push: %+v", ev)
			}
		case "message.new":
			news++
			if len(ev.Receivers) != 1 || ev.Receivers[0] != mids[0] || mids[1] != "sender" {
				t.Fatalf("unexpected receivers %v for members %v", ev.Receivers, mids)
			}
			if strings.HasPrefix(body.Message.ID, "c1-") && (ev.ID != "ev-"+body.Message.ID || body.Message.CampaignID != "c1") {
				t.Fatalf("unexpected event id / custom: %s %s", ev.ID, ev.JSON)
			}
		}
	}
	if created != n || news != 2*n+4 {
		t.Fatalf("unexpected events; got %d channel.created and %d message.new; want %d and %d", created, news, n, 2*n+4)
	}
}

func TestAddMemberTx(t *testing.T) {
	e, _ := newUsersTestEngine(t)
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
	e, _ := newUsersTestEngine(t)
	tx := e.NewTx()
	defer tx.Discard()
	if _, _, err := e.ChannelTx(tx, "messaging", "a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.ChannelTx(tx, "messaging", "a"); err != nil { // the same one again is fine
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "NewBulkTx") {
			t.Fatalf("unexpected recover value %v", r)
		}
	}()
	e.ChannelTx(tx, "messaging", "b")
}

func TestChannelLocksReleased(t *testing.T) {
	e, _ := newUsersTestEngine(t)
	ords := mustChannelUsers(t, e, 1)
	// A bulk Tx and plain Txs on overlapping channels, concurrently: no deadlock, all stored.
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					tx := e.NewBulkTx()
					for c := 0; c < 10; c++ {
						ref, err := e.CreateChannelTx(tx, &ChannelSpec{Type: "t", ID: fmt.Sprint(c), CreatedBy: ords[0]})
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
}

func TestMessageJSONAllocs(t *testing.T) {
	ch := &storage.Channel{Type: "messaging", ID: "x", CreatedAt: 1, UpdatedAt: 2, Custom: []byte(`{"c":1}`)}
	m := &storage.Message{ID: "m", Type: "regular", Text: "hello <world>", User: 1, CreatedAt: 5, UpdatedAt: 5, Attachments: []byte(`[{"a":1}]`), Custom: []byte(`{"k":"v"}`)}
	user := []byte(`{"id":"u"}`)
	buf := make([]byte, 0, 8192)
	n := testing.AllocsPerRun(100, func() {
		buf = AppendMessageJSON(buf[:0], ch.Type, ch.ID, m, user, nil)
		buf = AppendChannelJSON(buf, ch, user)
		buf = AppendMemberJSON(buf, "u", &storage.Member{ChannelRole: "channel_member"}, true, user)
	})
	if n != 0 {
		t.Fatalf("unexpected allocations; got %v; want 0", n)
	}
	var v map[string]any
	if err := json.Unmarshal(AppendMessageJSON(nil, "messaging", `a"b`, m, user, [][]byte{user}), &v); err != nil {
		t.Fatalf("invalid message JSON: %s", err)
	}
	if v["cid"] != `messaging:a"b` || v["html"] != "<p>hello &lt;world&gt;</p>\n" || v["k"] != "v" {
		t.Fatalf("unexpected message JSON: %v", v)
	}
}

// BenchmarkFanoutChunk measures the fan-out's building blocks: one bulk Tx per chunk of 4096
// recipients (distinct 1-1 channel lookup or creation, message, events, one fsync).
func BenchmarkFanoutChunk(b *testing.B) {
	const chunk = 4096
	for _, mode := range []string{"new", "existing"} {
		b.Run(fmt.Sprintf("recipients=%d/channels=%s", chunk, mode), func(b *testing.B) {
			e, _ := newUsersTestEngine(b)
			ords := mustChannelUsers(b, e, chunk)
			sender := ords[0]
			senderJSON, _ := e.userJSON(nil, sender)
			users := e.NewUserJSONCache()
			rcptJSON := make([][]byte, chunk)
			ids := make([]string, chunk)
			cids := make([]string, chunk)
			for i := range ids {
				rcptJSON[i], _ = e.userJSON(nil, ords[i+1])
				users.Put(ords[i+1], rcptJSON[i])
				ids[i] = DistinctChannelID([]string{"sender", fmt.Sprintf("r%d", i)})
				cids[i] = "messaging:" + ids[i]
			}
			round := 0
			batchBytes := 0
			var commitTime time.Duration
			users.Put(sender, senderJSON)
			var internTime time.Duration
			run := func() {
				t0 := time.Now()
				chanOrds, err := e.db.Channels.Intern(nil, cids)
				if err != nil {
					b.Fatal(err)
				}
				internTime += time.Since(t0)
				tx := e.NewBulkTxSize(chunk * 6 << 10)
				for i := 0; i < chunk; i++ {
					ref, ok, err := e.ChannelTx(tx, "messaging", ids[i])
					if err != nil {
						b.Fatal(err)
					}
					if !ok {
						if ref, err = e.CreateChannelTx(tx, &ChannelSpec{
							Type: "messaging", ID: ids[i], Ord: chanOrds[i], CreatedBy: sender, CreatorJSON: senderJSON,
							Members: []MemberSpec{{User: sender, UserJSON: senderJSON}, {User: ords[i+1], UserJSON: rcptJSON[i]}},
						}); err != nil {
							b.Fatal(err)
						}
					}
					msg := &storage.Message{ID: fmt.Sprintf("c-%d-%d", round, i), User: sender, Text: "hello"}
					if err := e.AppendMessageTx(tx, ref, msg, &MessageOptions{TrustID: true, EventID: "e-" + msg.ID, UserJSON: senderJSON, Users: users}); err != nil {
						b.Fatal(err)
					}
				}
				batchBytes = tx.B.Len()
				t0 = time.Now()
				if err := e.Commit(tx); err != nil {
					b.Fatal(err)
				}
				commitTime += time.Since(t0)
				round++
			}
			if mode == "existing" {
				run()
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if mode == "new" && i > 0 {
					b.StopTimer()
					for j := range ids {
						ids[j] = DistinctChannelID([]string{"sender", fmt.Sprintf("r%d-%d", j, i)})
						cids[j] = "messaging:" + ids[j]
					}
					b.StartTimer()
				}
				run()
			}
			b.ReportMetric(float64(b.N*chunk)/time.Since(start).Seconds(), "sends/s")
			b.ReportMetric(float64(batchBytes)/chunk, "batch-bytes/send")
			b.ReportMetric(float64(commitTime.Milliseconds())/float64(round), "commit-ms/chunk")
			b.ReportMetric(float64(internTime.Milliseconds())/float64(round), "intern-ms/chunk")
		})
	}
}

// BenchmarkQueryChannelsScan measures queryChannels over channels=N when the filter pins no index
// (a custom field): one scan decoding every channel without copying.
func BenchmarkQueryChannelsScan(b *testing.B) {
	const n = 100_000
	e, _ := newUsersTestEngine(b)
	ords := mustChannelUsers(b, e, 0)
	cids := make([]string, n)
	for i := range cids {
		cids[i] = fmt.Sprintf("messaging:c%d", i)
	}
	chanOrds, err := e.db.Channels.Intern(nil, cids)
	if err != nil {
		b.Fatal(err)
	}
	tx := e.NewBulkTx()
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
		var out []byte
		for i := 0; i < b.N; i++ {
			req := &QueryChannelsRequest{Filter: []byte(`{"color":"red"}`), Limit: 30, MessageLimit: -1, MemberLimit: -1}
			if out, err = e.QueryChannels(out[:0], req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "channels/s")
	})
}

func TestSealedBulkTxHandoff(t *testing.T) {
	e, _ := newUsersTestEngine(t)
	ords := mustChannelUsers(t, e, 1)
	send := func(tx *Tx, ref *ChannelRef) {
		t.Helper()
		if err := e.AppendMessageTx(tx, ref, &storage.Message{User: ords[0], Text: "m"}, &MessageOptions{NoEvent: true}); err != nil {
			t.Fatal(err)
		}
	}
	// b shares a's lock stripe.
	b := ""
	for i := 0; b == ""; i++ {
		if id := fmt.Sprint("x", i); channelStripe("t", id) == channelStripe("t", "a") {
			b = id
		}
	}
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

	p := e.NewBulkTx()
	ra, err := e.CreateChannelTx(p, &ChannelSpec{Type: "t", ID: "a", CreatedBy: ords[0]})
	if err != nil {
		t.Fatal(err)
	}
	send(p, ra)
	e.SealBulkTx(p)

	// The next bulk Tx starts while p is sealed and claims the shared stripe for b at once.
	s := e.NewBulkTx()
	gotB := make(chan struct{})
	var rb *ChannelRef
	go func() {
		defer close(gotB)
		rb, err = e.CreateChannelTx(s, &ChannelSpec{Type: "t", ID: b, CreatedBy: ords[0]})
	}()
	within(gotB, "claiming a stripe of a sealed Tx")
	if err != nil || !rb.Created {
		t.Fatalf("cannot create b: %v %v", err, rb)
	}
	send(s, rb)

	// A plain writer of b waits for s (not only p).
	plainDone := make(chan struct{})
	go func() {
		defer close(plainDone)
		tx := e.NewTx()
		ref, ok, err := e.ChannelTx(tx, "t", b)
		if err != nil || !ok || ref.Ch.MessageCount != 1 {
			t.Errorf("plain Tx read b before s committed it: %v %v %+v", err, ok, ref)
			tx.Discard()
			return
		}
		tx.Discard()
	}()

	// s reading a (written by p) waits until p committed, then sees p's message.
	gotA := make(chan struct{})
	var ra2 *ChannelRef
	var okA bool
	go func() {
		defer close(gotA)
		ra2, okA, err = e.ChannelTx(s, "t", "a")
	}()
	if !blocked(gotA) {
		t.Fatal("the next bulk Tx read a channel the sealed Tx has not committed")
	}
	if err := e.Commit(p); err != nil {
		t.Fatal(err)
	}
	within(gotA, "reading a after p committed")
	if err != nil || !okA || ra2.Ch.MessageCount != 1 {
		t.Fatalf("a after p committed: %v %v %+v", err, okA, ra2)
	}
	send(s, ra2)
	if !blocked(plainDone) {
		t.Fatal("a plain Tx got b's stripe while s holds it")
	}
	if err := e.Commit(s); err != nil {
		t.Fatal(err)
	}
	within(plainDone, "plain Tx after s committed")
	_, cha, ok, err := e.ChannelByCID("t:a")
	if err != nil || !ok || cha.MessageCount != 2 {
		t.Fatalf("a: %v %v %+v", err, ok, cha)
	}
	// Every stripe is free again: a new bulk Tx locks both channels at once.
	tx := e.NewBulkTx()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = e.ChannelTx(tx, "t", "a")
		_, _, _ = e.ChannelTx(tx, "t", b)
	}()
	within(done, "locking after both ended")
	tx.Discard()
}
