package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/campaignd/campaignd/storage"
)

// Fan-out tests through the engine's API: every recipient gets exactly one message, a stop lands
// between chunks and nothing commits after it, a run resumes from its stored cursor after a
// restart, and skipped targets are counted.

// mustAudience stores the user "sender" and n receivers r00000.. (named "R <id>"), in ordinal
// order, and an all_users segment "all" holding them. It returns the receivers' ids.
func mustAudience(t testing.TB, e *Engine, n int) []string {
	t.Helper()
	us := []storage.User{{ID: "sender", Name: "S"}}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%05d", i)
		us = append(us, storage.User{ID: ids[i], Name: "R " + ids[i]})
	}
	if err := e.UpsertUsers(us); err != nil {
		t.Fatalf("cannot upsert users: %s", err)
	}
	if _, err := e.CreateSegment(&SegmentParams{ID: strPtr("all"), Type: strPtr("user"), AllUsers: boolPtr(true)}); err != nil {
		t.Fatalf("cannot create segment: %s", err)
	}
	return ids
}

// fanoutCampaign is a campaign to segment "all" that creates the 1-1 channels.
const fanoutCampaign = `{"id":"c","sender_id":"sender","segment_ids":["all"],"message_template":{"text":"hi {{ receiver.name }}"},
	"channel_template":{"type":"messaging"},"create_channels":true}`

// wantSentPrefix checks that ids[:n] got exactly one campaign message each from "sender" and the
// others none: the fan-out goes through the audience in ascending order, chunk after chunk.
func wantSentPrefix(t testing.TB, e *Engine, ids []string, n int) {
	t.Helper()
	for i, id := range ids {
		texts := campaignTexts(t, e, "sender", id)
		want := []string(nil)
		if i < n {
			want = []string{"hi R " + id}
		}
		if !slices.Equal(texts, want) {
			t.Fatalf("unexpected messages to receiver %d (%s) of %d with %d sent; got %q; want %q", i, id, len(ids), n, texts, want)
		}
	}
}

// waitProgress waits until campaign id has committed at least one chunk.
func waitProgress(t testing.TB, e *Engine, id string) {
	t.Helper()
	waitCampaign(t, e, id, func(c *Campaign) error {
		if c.Run.Done == 0 {
			return fmt.Errorf("campaign %q is %s with nothing done", id, c.Status)
		}
		return nil
	})
}

// wantMidRun checks that r stopped between the first and the last chunk, with every processed
// receiver sent to.
func wantMidRun(t testing.TB, r storage.CampaignRun, total int) {
	t.Helper()
	if r.Total != uint64(total) || r.Done == 0 || r.Done >= r.Total {
		t.Fatalf("the run did not stop between chunks (%d of %d done); the audience is too small for this machine", r.Done, r.Total)
	}
	if r.MessagesSent != r.Done || r.UsersSent != r.Done || r.ChannelsCreated != r.Done || r.Skipped != 0 {
		t.Fatalf("unexpected stats of the stopped run %+v", r)
	}
}

func TestFanoutStopBetweenChunks(t *testing.T) {
	dir, clock := t.TempDir(), newTestClock()
	e := openTestEngine(t, dir, Options{Now: clock.Now})
	ids := mustAudience(t, e, 3*FanoutChunkSize+1)
	mustStart(t, e)
	mustCreateCampaign(t, e, fanoutCampaign)
	mustStartCampaign(t, e, "c", `{}`)
	waitProgress(t, e, "c")
	if _, err := e.StopCampaign("c"); err != nil {
		t.Fatalf("cannot stop the running campaign: %s", err)
	}
	atStop, err := e.GetCampaign("c")
	if err != nil {
		t.Fatal(err)
	}
	// Stop waits for the fan-out to end: anything it still committed would show after a restart.
	closeTestEngine(e)
	e = openTestEngine(t, dir, Options{Now: clock.Now})
	c, err := e.GetCampaign("c")
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != storage.CampaignStopped || c.Run != atStop.Run {
		t.Fatalf("a chunk committed after StopCampaign returned: %s %+v; at stop %+v", c.Status, c.Run, atStop.Run)
	}
	wantMidRun(t, c.Run, len(ids))
	wantSentPrefix(t, e, ids, int(c.Run.Done))
}

func TestFanoutResumesAfterRestart(t *testing.T) {
	// Many cheap chunks: most receivers have no channel and are skipped (create_channels is
	// false); every 48th has its 1-1 channel from an earlier campaign. A shutdown lands between
	// chunks, but not always at the first boundary after it, hence the many chunks.
	const every = 48
	dir, clock := t.TempDir(), newTestClock()
	e := openTestEngine(t, dir, Options{Now: clock.Now})
	ids := mustAudience(t, e, 24*FanoutChunkSize)
	mustStart(t, e)
	var withChannel []string
	for i := 0; i < len(ids); i += every {
		withChannel = append(withChannel, ids[i])
	}
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("some"), Type: strPtr("user")})
	if err := e.AddSegmentTargets("some", withChannel); err != nil {
		t.Fatalf("cannot add targets: %s", err)
	}
	mustCreateCampaign(t, e, `{"id":"first","sender_id":"sender","segment_ids":["some"],"message_template":{"text":"hello"},
		"channel_template":{"type":"messaging"},"create_channels":true}`)
	mustStartCampaign(t, e, "first", `{}`)
	waitStatus(t, e, "first", storage.CampaignCompleted)
	mustCreateCampaign(t, e, `{"id":"c","sender_id":"sender","segment_ids":["all"],"message_template":{"text":"hi {{ receiver.name }}"}}`)
	mustStartCampaign(t, e, "c", `{}`)
	waitProgress(t, e, "c")
	closeTestEngine(e) // the run stops between chunks and resumes at the next Start

	// wantSent checks the stats of c with n receivers done, and every receiver's messages.
	wantSent := func(e *Engine, r storage.CampaignRun, n int) {
		t.Helper()
		sent := (n + every - 1) / every
		if r.Total != uint64(len(ids)) || r.Done != uint64(n) || r.MessagesSent != uint64(sent) || r.UsersSent != uint64(sent) ||
			r.Skipped != uint64(n-sent) || r.ChannelsCreated != 0 {
			t.Fatalf("unexpected stats %+v with %d of %d done", r, n, len(ids))
		}
		for i := 0; i < len(ids); i += every {
			want := []string{"hello"}
			if i < n {
				want = append(want, "hi R "+ids[i])
			}
			if got := campaignTexts(t, e, "sender", ids[i]); !slices.Equal(got, want) {
				t.Fatalf("unexpected messages to receiver %d (%s) with %d done; got %q; want %q", i, ids[i], n, got, want)
			}
		}
	}
	e = openTestEngine(t, dir, Options{Now: clock.Now})
	mid, err := e.GetCampaign("c")
	if err != nil {
		t.Fatal(err)
	}
	if mid.Status != storage.CampaignInProgress || mid.Run.Done == 0 || mid.Run.Done >= mid.Run.Total {
		t.Fatalf("the shutdown did not land between chunks: %s with %d of %d done", mid.Status, mid.Run.Done, mid.Run.Total)
	}
	wantSent(e, mid.Run, int(mid.Run.Done))

	mustStart(t, e)
	c := waitStatus(t, e, "c", storage.CampaignCompleted)
	if c.Run.StartedAt != mid.Run.StartedAt || c.Run.CompletedAt == 0 {
		t.Fatalf("unexpected times of the resumed run %+v", c.Run)
	}
	wantSent(e, c.Run, len(ids))
}

func TestFanoutSkips(t *testing.T) {
	e, _ := newTestEngine(t)
	users := []storage.User{{ID: "admin"}, {ID: "a"}, {ID: "b"}, {ID: "d"},
		{ID: "x", Custom: []byte(`{"slug":"ok"}`)}, {ID: "y", Custom: []byte(`{"slug":"not ok"}`)}}
	if err := e.UpsertUsers(users); err != nil {
		t.Fatalf("cannot upsert users: %s", err)
	}
	mustStart(t, e)
	run := func(body string) storage.CampaignRun {
		t.Helper()
		c := mustCreateCampaign(t, e, body)
		mustStartCampaign(t, e, c.ID, `{}`)
		return waitStatus(t, e, c.ID, storage.CampaignCompleted).Run
	}
	f := func(got storage.CampaignRun, total, sent, users, created, skipped uint64) {
		t.Helper()
		if got.Total != total || got.Done != total || got.MessagesSent != sent || got.UsersSent != users ||
			got.ChannelsCreated != created || got.Skipped != skipped {
			t.Fatalf("unexpected stats %+v; want total %d, sent %d, users %d, created %d, skipped %d", got, total, sent, users, created, skipped)
		}
	}
	// The 1-1 channel of admin and a exists after this one.
	f(run(`{"sender_id":"admin","user_ids":["a"],"message_template":{"text":"one"},"channel_template":{"type":"messaging"},"create_channels":true}`),
		1, 1, 1, 1, 0)

	// Without create_channels only a has a channel; d is deleted; ghost never was a user.
	if _, err := e.DeleteUser("d", false); err != nil {
		t.Fatalf("cannot delete user: %s", err)
	}
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("s"), Type: strPtr("user")})
	if err := e.AddSegmentTargets("s", []string{"a", "b", "d", "ghost", "admin"}); err != nil {
		t.Fatalf("cannot add targets: %s", err)
	}
	f(run(`{"sender_id":"admin","segment_ids":["s"],"message_template":{"text":"two"}}`), 4, 1, 1, 0, 3)
	if got := campaignTexts(t, e, "admin", "a"); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("unexpected messages to a: %q", got)
	}
	if got := campaignTexts(t, e, "admin", "b"); got != nil {
		t.Fatalf("b got messages in a channel that should not exist: %q", got)
	}

	// A rendered channel id that is not a valid channel id is skipped.
	f(run(`{"sender_id":"admin","user_ids":["x","y"],"message_template":{"text":"three"},
		"channel_template":{"type":"messaging","id":"c-{{ receiver.slug }}"},"create_channels":true}`), 2, 1, 1, 1, 1)
	if _, _, ok, err := e.ChannelByCID("messaging:c-ok"); err != nil || !ok {
		t.Fatalf("the templated channel was not created: %v %v", ok, err)
	}

	// A channel segment: one message per existing channel, users_sent counts its members.
	mustCreateSegment(t, e, SegmentParams{ID: strPtr("chans"), Type: strPtr("channel")})
	cid := DefaultCampaignChannelType + ":" + DistinctChannelID([]string{"admin", "a"})
	if err := e.AddSegmentTargets("chans", []string{cid, "messaging:nope"}); err != nil {
		t.Fatalf("cannot add targets: %s", err)
	}
	f(run(`{"sender_id":"admin","segment_ids":["chans"],"message_template":{"text":"four {{ channel.id }}"}}`), 2, 1, 2, 0, 1)
	if got := campaignTexts(t, e, "admin", "a"); len(got) != 3 || got[2] != "four "+DistinctChannelID([]string{"admin", "a"}) {
		t.Fatalf("unexpected messages to a: %q", got)
	}

	// A text over the message limit once rendered (by the receiver's data, or by the channel's) is
	// skipped; nothing is written for that recipient, not even the channel.
	long := strings.Repeat("n", 2000)
	if err := e.UpsertUsers([]storage.User{{ID: "big", Name: long}, {ID: "small", Name: "s"}}); err != nil {
		t.Fatalf("cannot upsert users: %s", err)
	}
	f(run(`{"sender_id":"admin","user_ids":["big","small"],"message_template":{"text":"{{ receiver.name }}{{ receiver.name }}{{ receiver.name }}"},
		"channel_template":{"type":"messaging"},"create_channels":true}`), 2, 1, 1, 1, 1)
	if got := campaignTexts(t, e, "admin", "small"); !slices.Equal(got, []string{"sss"}) {
		t.Fatalf("unexpected messages to small: %q", got)
	}
	if got := campaignTexts(t, e, "admin", "big"); got != nil {
		t.Fatalf("a text over the limit was sent to big: %d messages", len(got))
	}
	f(run(`{"sender_id":"admin","user_ids":["big","small"],"message_template":{"text":"{{ channel.id }} {{ receiver.name }}{{ receiver.name }}{{ receiver.name }}"},
		"channel_template":{"type":"messaging","id":"x-{{ receiver.id }}"},"create_channels":true}`), 2, 1, 1, 1, 1)
	if _, _, ok, err := e.ChannelByCID("messaging:x-big"); err != nil || ok {
		t.Fatalf("the channel of a skipped recipient was created: %v %v", ok, err)
	}
	if _, _, ok, err := e.ChannelByCID("messaging:x-small"); err != nil || !ok {
		t.Fatalf("the channel of small was not created: %v %v", ok, err)
	}
}

func TestFanoutSkipsInactiveReceivers(t *testing.T) {
	e, clock := newTestEngine(t)
	mustUpsertUsers(t, e, "sender", "ok", "soft", "hard", "frozen", "ok2")
	now := clock.Now().UnixNano()
	if err := e.UpsertUsers([]storage.User{{ID: "deact", DeactivatedAt: now}, {ID: "banned", Banned: true}}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		id   string
		hard bool
	}{{"soft", false}, {"hard", true}} {
		if _, err := e.DeleteUser(d.id, d.hard); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.GetOrCreateChannel(&ChannelRequest{Type: "messaging", ID: DistinctChannelID([]string{"sender", "frozen"}), CreatedByID: "sender", Frozen: true,
		Members: []MemberInput{{UserID: "sender"}, {UserID: "frozen"}}}); err != nil {
		t.Fatal(err)
	}
	mustStart(t, e)
	mustCreateCampaign(t, e, `{"id":"c","sender_id":"sender","user_ids":["ok","soft","hard","deact","banned","frozen","ok2"],
		"message_template":{"text":"hi"},"channel_template":{"type":"messaging"},"create_channels":true}`)
	mustStartCampaign(t, e, "c", `{}`)
	c := waitStatus(t, e, "c", storage.CampaignCompleted)
	if c.Run.MessagesSent != 2 || c.Run.Skipped != 5 || c.Run.Done != 7 {
		t.Fatalf("unexpected stats %+v; want 2 sent and 5 skipped", c.Run)
	}
	for _, id := range []string{"ok", "ok2"} {
		if texts := campaignTexts(t, e, "sender", id); len(texts) != 1 {
			t.Fatalf("unexpected messages to %s: %q", id, texts)
		}
	}
	for _, id := range []string{"soft", "deact", "banned", "frozen"} {
		if texts := campaignTexts(t, e, "sender", id); len(texts) != 0 {
			t.Fatalf("a skipped receiver %s got %q", id, texts)
		}
	}
}

func TestSkipReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for r := SkipUserNotFound; r <= SkipUnresolvedTarget; r++ {
		name := r.String()
		if name == "" || seen[name] || strings.Contains(name, "(") {
			t.Fatalf("reason %d has a bad or repeated name %q", r, name)
		}
		seen[name] = true
	}
	if SkipNone.String() != "" || SkipReason(200).String() != "SkipReason(200)" {
		t.Fatalf("unexpected names of SkipNone or an unknown reason")
	}
}
