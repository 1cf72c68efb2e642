package engine

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/campaignd/campaignd/storage"
)

// mustChannel creates channel messaging:id by creator with members.
func mustChannel(t testing.TB, e *Engine, id, creator string, members ...string) *ChannelState {
	t.Helper()
	req := &ChannelRequest{Type: "messaging", ID: id, CreatedByID: creator}
	for _, m := range members {
		req.Members = append(req.Members, MemberInput{UserID: m})
	}
	st, err := e.GetOrCreateChannel(req)
	if err != nil {
		t.Fatalf("cannot create channel %s: %s", id, err)
	}
	return st
}

// mustSend sends text as user to messaging:id and returns the message's id.
func mustSend(t testing.TB, e *Engine, id, user, text string) string {
	t.Helper()
	m, err := e.SendMessage(&SendMessageRequest{Type: "messaging", ID: id, Message: MessageInput{UserID: user, Text: text}})
	if err != nil {
		t.Fatalf("cannot send to %s: %s", id, err)
	}
	return m.ID
}

// readOf returns user's read state in channel messaging:id.
func readOf(t testing.TB, e *Engine, id, user string) ReadState {
	t.Helper()
	st, err := e.GetOrCreateChannel(&ChannelRequest{Type: "messaging", ID: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Read) != len(st.Members) {
		t.Fatalf("unexpected read list of %d for %d members", len(st.Read), len(st.Members))
	}
	for _, r := range st.Read {
		if r.User.ID == user {
			return r
		}
	}
	t.Fatalf("no read state of %q in %s", user, id)
	return ReadState{}
}

func TestMarkRead(t *testing.T) {
	e, clock := newTestEngine(t)
	mustUpsertUsers(t, e, "a", "b", "c")
	created := clock.Now()
	mustChannel(t, e, "x", "a", "a", "b")
	m1 := mustSend(t, e, "x", "a", "one")
	m2 := mustSend(t, e, "x", "a", "two")
	mustSend(t, e, "x", "b", "mine")
	m4 := mustSend(t, e, "x", "a", "three")

	f := func(user string, unread int, lastID string) {
		t.Helper()
		r := readOf(t, e, "x", user)
		if r.Unread != unread || r.LastReadMessageID != lastID {
			t.Fatalf("unexpected read state of %s; got %d unread, last %q; want %d, %q", user, r.Unread, r.LastReadMessageID, unread, lastID)
		}
	}
	f("a", 1, "") // b's message
	f("b", 3, "") // not its own
	if r := readOf(t, e, "x", "b"); r.LastRead != truncMicros(created.UnixNano()) {
		t.Fatalf("unexpected last_read of a member that never read; got %d; want its joining %d", r.LastRead, created.UnixNano())
	}

	clock.Add(time.Minute)
	r, err := e.MarkRead(&MarkReadRequest{Type: "messaging", ID: "x", UserID: "b", MessageID: m2})
	if err != nil {
		t.Fatal(err)
	}
	if r.LastReadMessageID != m2 || r.User.ID != "b" || r.At != truncMicros(clock.Now().UnixNano()) || r.Channel.MessageCount != 4 {
		t.Fatalf("unexpected read %+v", r)
	}
	f("b", 1, m2)
	if r := readOf(t, e, "x", "b"); r.LastRead != truncMicros(clock.Now().UnixNano()) {
		t.Fatalf("unexpected last_read; got %d; want %d", r.LastRead, clock.Now().UnixNano())
	}
	if _, err := e.MarkRead(&MarkReadRequest{Type: "messaging", ID: "x", UserID: "b"}); err != nil {
		t.Fatal(err)
	}
	f("b", 0, m4)
	// A new member joins with the history read.
	tx := e.NewTx()
	ref, _, err := e.ChannelTx(tx, "messaging", "x")
	if err != nil {
		t.Fatal(err)
	}
	cOrd, _ := e.db.Users.Lookup("c")
	if _, err := e.AddMemberTx(tx, ref, &MemberSpec{User: cOrd}); err != nil {
		t.Fatal(err)
	}
	if err := e.Commit(tx); err != nil {
		t.Fatal(err)
	}
	f("c", 0, m4)
	mustSend(t, e, "x", "a", "four")
	f("c", 1, m4)

	// An older message_id moves the read back.
	if _, err := e.MarkRead(&MarkReadRequest{Type: "messaging", ID: "x", UserID: "b", MessageID: m1}); err != nil {
		t.Fatal(err)
	}
	f("b", 3, m1)

	var reads int
	for _, ev := range testOutbox(t, e) {
		if ev.Type == "message.read" {
			reads++
			var body map[string]any
			if err := json.Unmarshal(ev.JSON, &body); err != nil || body["cid"] != "messaging:x" || ev.Key != "messaging:x" {
				t.Fatalf("unexpected message.read %s (%v)", ev.JSON, err)
			}
		}
	}
	if reads != 3 {
		t.Fatalf("unexpected message.read events; got %d; want 3", reads)
	}

	g := func(req MarkReadRequest, code int, field string) {
		t.Helper()
		if req.Type == "" {
			req.Type = "messaging"
		}
		_, err := e.MarkRead(&req)
		wantCode(t, err, code)
		if field != "" {
			wantInputError(t, err, field)
		}
	}
	g(MarkReadRequest{ID: "x"}, CodeInput, "user_id")
	g(MarkReadRequest{ID: "x", UserID: "nobody"}, CodeInput, "user_id")
	mustUpsertUsers(t, e, "d")
	g(MarkReadRequest{ID: "x", UserID: "d"}, CodeInput, "user_id") // not a member
	g(MarkReadRequest{ID: "nope", UserID: "a"}, CodeNotFound, "")
	g(MarkReadRequest{ID: "x", UserID: "a", MessageID: "missing"}, CodeInput, "message_id")
	mustChannel(t, e, "y", "a", "a")
	other := mustSend(t, e, "y", "a", "elsewhere")
	g(MarkReadRequest{ID: "x", UserID: "a", MessageID: other}, CodeInput, "message_id")
}

func TestUnreadCountsAndMarkChannelsRead(t *testing.T) {
	e, _ := newTestEngine(t)
	mustUpsertUsers(t, e, "a", "b")
	mustChannel(t, e, "x", "a", "a", "b")
	mustChannel(t, e, "y", "a", "a", "b")
	if _, err := e.GetOrCreateChannel(&ChannelRequest{Type: "team", ID: "z", CreatedByID: "a", Team: "red", Members: []MemberInput{{UserID: "a"}, {UserID: "b"}}}); err != nil {
		t.Fatal(err)
	}
	mustSend(t, e, "x", "a", "1")
	mustSend(t, e, "x", "a", "2")
	y1 := mustSend(t, e, "y", "a", "3")
	mustSend(t, e, "y", "a", "4")
	if _, err := e.SendMessage(&SendMessageRequest{Type: "team", ID: "z", Message: MessageInput{UserID: "a", Text: "5"}}); err != nil {
		t.Fatal(err)
	}
	f := func(user string, total int, channels map[string]int) *UnreadCounts {
		t.Helper()
		u, err := e.UnreadCounts(user)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, c := range u.Channels {
			got[c.CID] = c.Unread
		}
		if u.Total != total || fmt.Sprint(got) != fmt.Sprint(channels) {
			t.Fatalf("unexpected unread counts of %s; got %d %v; want %d %v", user, u.Total, got, total, channels)
		}
		return u
	}
	u := f("b", 5, map[string]int{"messaging:x": 2, "messaging:y": 2, "team:z": 1})
	if fmt.Sprint(u.ByType) != "[{messaging 2 4} {team 1 1}]" || fmt.Sprint(u.ByTeam) != "map[red:1]" {
		t.Fatalf("unexpected sums; got %v %v", u.ByType, u.ByTeam)
	}
	f("a", 0, map[string]int{})

	if err := e.MarkChannelsRead("b", map[string]string{"messaging:y": y1}); err != nil {
		t.Fatal(err)
	}
	f("b", 4, map[string]int{"messaging:x": 2, "messaging:y": 1, "team:z": 1})
	if err := e.MarkChannelsRead("b", nil); err != nil {
		t.Fatal(err)
	}
	f("b", 0, map[string]int{})
	// Again: nothing moves, no event.
	before := len(testOutbox(t, e))
	if err := e.MarkChannelsRead("b", nil); err != nil {
		t.Fatal(err)
	}
	if after := len(testOutbox(t, e)); after != before {
		t.Fatalf("a mark of read channels emitted %d events", after-before)
	}

	wantInputError(t, e.MarkChannelsRead("b", map[string]string{"messaging:nope": ""}), "read_by_channel.messaging:nope")
	wantInputError(t, e.MarkChannelsRead("b", map[string]string{"nocolon": ""}), "read_by_channel.nocolon")
	wantInputError(t, e.MarkChannelsRead("b", map[string]string{"messaging:x": y1}), "read_by_channel.messaging:x")
	_, err := e.UnreadCounts("")
	wantInputError(t, err, "user_id")
}

// readCampaign is a campaign to segment "all" (mustAudience) creating the 1-1 channels.
const readCampaign = `{"id":"c","sender_id":"sender","segment_ids":["all"],"message_template":{"text":"hi"},
	"channel_template":{"type":"messaging"},"create_channels":true}`

// markReceiverRead marks the 1-1 channel of sender and receiver read for receiver; false when the
// channel does not exist (yet).
func markReceiverRead(t testing.TB, e *Engine, receiver string) bool {
	t.Helper()
	_, err := e.MarkRead(&MarkReadRequest{Type: DefaultCampaignChannelType, ID: DistinctChannelID([]string{"sender", receiver}), UserID: receiver})
	if ae, ok := AsError(err); ok && ae.Code == CodeNotFound {
		return false
	}
	if err != nil {
		t.Errorf("cannot mark %s read: %s", receiver, err)
		return false
	}
	return true
}

func usersRead(t testing.TB, e *Engine, id string) uint64 {
	t.Helper()
	c, err := e.GetCampaign(id)
	if err != nil {
		t.Fatal(err)
	}
	return c.UsersRead
}

func TestCampaignUsersRead(t *testing.T) {
	dir, clock := t.TempDir(), newTestClock()
	e := openTestEngine(t, dir, Options{Now: clock.Now})
	ids := mustAudience(t, e, 20)
	mustStart(t, e)
	mustCreateCampaign(t, e, readCampaign)
	mustStartCampaign(t, e, "c", `{}`)
	waitStatus(t, e, "c", storage.CampaignCompleted)
	if n := usersRead(t, e, "c"); n != 0 {
		t.Fatalf("unexpected stats_users_read before any read; got %d; want 0", n)
	}
	for _, id := range ids[:5] {
		markReceiverRead(t, e, id)
		markReceiverRead(t, e, id) // a second read does not count again
	}
	// The sender reading its side of the channel is no recipient's read.
	if _, err := e.MarkRead(&MarkReadRequest{Type: "messaging", ID: DistinctChannelID([]string{"sender", ids[6]}), UserID: "sender"}); err != nil {
		t.Fatal(err)
	}
	// A read that stops before the campaign's message does not count.
	cid := DistinctChannelID([]string{"sender", ids[7]})
	ord, _, _, _ := e.ChannelByCID("messaging:" + cid)
	mustSend(t, e, cid, ids[7], "reply")
	msgs, _ := e.ChannelMessages(ord, &MessagePage{Limit: 10})
	if _, err := e.MarkRead(&MarkReadRequest{Type: "messaging", ID: cid, UserID: ids[7], MessageID: msgs[1].ID}); err != nil {
		t.Fatal(err)
	}
	if n := usersRead(t, e, "c"); n != 6 {
		t.Fatalf("unexpected stats_users_read; got %d; want 6", n)
	}
	if n := countKeys(t, e, []byte{0x23}); n != 6 {
		t.Fatalf("unexpected read markers; got %d; want 6", n)
	}

	// Counted again from the markers after a restart.
	closeTestEngine(e)
	e = openTestEngine(t, dir, Options{Now: clock.Now})
	mustStart(t, e)
	markReceiverRead(t, e, ids[8])
	if n := usersRead(t, e, "c"); n != 7 {
		t.Fatalf("unexpected stats_users_read after a restart; got %d; want 7", n)
	}
	markReceiverRead(t, e, ids[9])
	if n := usersRead(t, e, "c"); n != 8 {
		t.Fatalf("unexpected stats_users_read; got %d; want 8", n)
	}

	// Deleting the campaign removes its markers; its messages stay and reads no longer count.
	if err := e.DeleteCampaign("c"); err != nil {
		t.Fatal(err)
	}
	markReceiverRead(t, e, ids[10])
	if n := countKeys(t, e, []byte{0x23}); n != 0 {
		t.Fatalf("unexpected read markers after the deletion; got %d; want 0", n)
	}
	mustCreateCampaign(t, e, `{"id":"c","sender_id":"sender","user_ids":["`+ids[0]+`"],"message_template":{"text":"again"}}`)
	if n := usersRead(t, e, "c"); n != 0 {
		t.Fatalf("a new campaign under a deleted one's id counts %d reads", n)
	}
}

func TestCampaignUsersReadChannelAudience(t *testing.T) {
	e, _ := newTestEngine(t)
	mustUpsertUsers(t, e, "sender", "a", "b")
	mustStart(t, e)
	mustChannel(t, e, "g1", "sender", "sender", "a", "b")
	mustChannel(t, e, "g2", "sender", "sender", "a")
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("chans"), Type: strPtr("channel")})
	if err := e.AddSegmentTargets("chans", []string{"messaging:g1", "messaging:g2"}); err != nil {
		t.Fatal(err)
	}
	mustCreateCampaign(t, e, `{"id":"cc","sender_id":"sender","segment_ids":["chans"],"message_template":{"text":"to {{ channel.id }}"}}`)
	mustStartCampaign(t, e, "cc", `{}`)
	waitStatus(t, e, "cc", storage.CampaignCompleted)
	for _, r := range []struct{ ch, user string }{{"g1", "a"}, {"g1", "b"}, {"g2", "a"}, {"g1", "a"}, {"g2", "sender"}} {
		if _, err := e.MarkRead(&MarkReadRequest{Type: "messaging", ID: r.ch, UserID: r.user}); err != nil {
			t.Fatal(err)
		}
	}
	if n := usersRead(t, e, "cc"); n != 3 {
		t.Fatalf("unexpected stats_users_read of a channel audience; got %d; want 3 (a and b in g1, a in g2)", n)
	}
}

// TestCampaignUsersReadWhileRunning marks receivers' channels read while a campaign of 100,000
// recipients runs: stats_users_read rises during the run, never goes back, and ends at exactly the
// number of receivers whose read found their message (some read twice, some concurrently), also
// after a restart.
func TestCampaignUsersReadWhileRunning(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	dir, clock := t.TempDir(), newTestClock()
	clock.Run()
	e := openTestEngine(t, dir, Options{Now: clock.Now})
	ids := mustAudience(t, e, n)
	mustStart(t, e)
	mustCreateCampaign(t, e, readCampaign)

	var (
		mu      sync.Mutex
		readers = map[string]bool{}
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for !stop.Load() {
				id := ids[rnd.IntN(len(ids))]
				if markReceiverRead(t, e, id) {
					mu.Lock()
					readers[id] = true
					mu.Unlock()
				}
			}
		}()
	}
	mustStartCampaign(t, e, "c", `{}`)
	var last uint64
	sawRunning := false
	checkFor(t, 3*time.Minute, 20*time.Millisecond, func() error {
		c, err := e.GetCampaign("c")
		if err != nil {
			return err
		}
		if c.UsersRead < last {
			t.Fatalf("stats_users_read went back from %d to %d", last, c.UsersRead)
		}
		if c.Status == storage.CampaignInProgress && c.UsersRead > 0 && c.Run.Done < c.Run.Total {
			sawRunning = true
		}
		last = c.UsersRead
		if c.Status != storage.CampaignCompleted {
			return fmt.Errorf("campaign is %s (%d of %d)", c.Status, c.Run.Done, c.Run.Total)
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond) // reads after the completion count as well
	stop.Store(true)
	wg.Wait()
	if !sawRunning {
		t.Fatalf("stats_users_read did not rise while the campaign ran (%d at the end)", last)
	}
	want := uint64(len(readers))
	if got := usersRead(t, e, "c"); got != want {
		t.Fatalf("unexpected stats_users_read; got %d; want %d receivers who read", got, want)
	}
	closeTestEngine(e)
	e = openTestEngine(t, dir, Options{Now: clock.Now})
	if got := usersRead(t, e, "c"); got != want {
		t.Fatalf("unexpected stats_users_read after a restart; got %d; want %d", got, want)
	}
	t.Logf("%d of %d receivers read during and after the run", want, n)
}

// TestReadCountLoad checks readCount's protocol: a count loaded while a marker's Tx is in flight
// waits for it and counts it once; a marker committed later is counted by its end; a campaign
// being deleted takes no marker.
func TestReadCountLoad(t *testing.T) {
	e, _ := newTestEngine(t)
	put := func(recipient uint32) {
		t.Helper()
		b := e.db.NewBatch()
		b.PutCampaignRead("x", storage.CampaignRead{Recipient: recipient}, 1)
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
	}
	put(1)
	c := e.readCount("x")
	if !c.begin() {
		t.Fatal("begin refused")
	}
	loaded := make(chan uint64)
	go func() {
		n, err := e.usersRead("x")
		if err != nil {
			t.Error(err)
		}
		loaded <- n
	}()
	select {
	case n := <-loaded:
		t.Fatalf("the count loaded (%d) while a marker's Tx was in flight", n)
	case <-time.After(50 * time.Millisecond):
	}
	put(2)
	c.end(true)
	if n := <-loaded; n != 2 {
		t.Fatalf("unexpected loaded count; got %d; want 2", n)
	}
	if !c.begin() {
		t.Fatal("begin refused")
	}
	put(3)
	c.end(true)
	if !c.begin() {
		t.Fatal("begin refused")
	}
	c.end(false) // a Tx that failed: nothing to count
	if n, _ := e.usersRead("x"); n != 3 {
		t.Fatalf("unexpected count; got %d; want 3", n)
	}
	stopped := e.stopReads("x")
	if c.begin() {
		t.Fatal("begin accepted a marker of a campaign being deleted")
	}
	e.dropReads("x", stopped, true)
	if e.readCount("x") == c {
		t.Fatal("the count of a deleted campaign was kept")
	}
}
