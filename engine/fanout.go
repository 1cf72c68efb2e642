package engine

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/campaignd/campaignd/bitmap"
	"github.com/campaignd/campaignd/internal/bytesconv"
	"github.com/campaignd/campaignd/storage"
)

// The fan-out pipeline:
//
//	frozen audience ─► chunks of FanoutChunkSize ascending ordinals
//	  ─► prepare workers (parallel): load receivers with one forward scan, render channel ids,
//	     intern the chunk's new cids (one fsync), render texts
//	  ─► ONE ordered committer: latch the chunk's channels at once, read their records (and an
//	     existing channel's members) in one forward pass, write channels, members, messages, the
//	     chunk's events by reference and the run record (stats, cursor) into one batch, and commit
//	     it with fsync in a goroutine while the next chunk is built (one commit in flight, in order).
//
// A crash loses at most the chunks not yet committed; the run resumes after the stored cursor and
// replays them with the same derived message and event ids.

// DefaultCampaignChannelType is the type of the 1-1 channels a campaign without channel_template
// (or without its type) writes to: the distinct sender-receiver channel of this type.
const DefaultCampaignChannelType = "messaging"

// FanoutChunkSize is the number of audience ordinals one chunk (one batch, one fsync) covers; a
// run's first chunks are smaller, from firstChunkSize doubling up to it.
const (
	FanoutChunkSize = 4096
	firstChunkSize  = 128
)

// errFanoutStopped ends a fan-out that was stopped, deleted, or whose engine is stopping.
var errFanoutStopped = errors.New("engine: campaign fan-out stopped")

// campaignRun is the in-memory handle of one running fan-out.
type campaignRun struct {
	// stopped is set, under the campaign lock, when the campaign is stopped or deleted; the
	// committer checks it under the same lock before each commit.
	stopped atomic.Bool
	// done is closed with stopped set, to end the throttle's waits.
	done     chan struct{}
	doneOnce sync.Once
	// progress is what the logs and /metrics show of the run (campaignprogress.go).
	progress runProgress
	// scan is the audience scan of a run whose audience is not frozen yet (nil otherwise).
	scan atomic.Pointer[audienceScan]
}

// unfrozenScan returns the audience scan of campaign id's running fan-out while its audience is
// not frozen yet, or nil.
func (e *Engine) unfrozenScan(id string) *audienceScan {
	cs := &e.campaigns
	cs.mu.Lock()
	r := cs.runs[id]
	cs.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.scan.Load()
}

// launchFanout runs campaign id's fan-out in the background unless it runs already.
func (e *Engine) launchFanout(id string) {
	cs := &e.campaigns
	cs.mu.Lock()
	if cs.runs == nil {
		cs.runs = make(map[string]*campaignRun)
	}
	if _, ok := cs.runs[id]; ok {
		cs.mu.Unlock()
		return
	}
	r := &campaignRun{done: make(chan struct{})}
	cs.runs[id] = r
	cs.mu.Unlock()
	e.goBackground(func(stop <-chan struct{}) {
		defer func() {
			cs.mu.Lock()
			delete(cs.runs, id)
			cs.mu.Unlock()
		}()
		for attempt := 0; ; attempt++ {
			err := e.runFanout(id, r, stop)
			if err == nil || errors.Is(err, errFanoutStopped) {
				return
			}
			// NB: internal errors (disk full, I/O) are retried: the cursor makes a retry safe.
			e.log.Error("campaign fan-out failed; retrying", "campaign", id, "attempt", attempt, "err", err)
			select {
			case <-stop:
				return
			case <-time.After(min(time.Duration(attempt+1)*time.Second, 30*time.Second)):
			}
		}
	})
}

// signalFanoutStop tells campaign id's fan-out to end. The caller holds the campaign lock.
func (e *Engine) signalFanoutStop(id string) {
	cs := &e.campaigns
	cs.mu.Lock()
	r := cs.runs[id]
	cs.mu.Unlock()
	if r != nil {
		r.stopped.Store(true)
		r.doneOnce.Do(func() { close(r.done) })
	}
}

// fanoutPlan is what every chunk of one campaign needs, computed once per run.
type fanoutPlan struct {
	c          *Campaign
	text       *Template
	chanID     *Template // nil: the distinct channel of sender and receiver
	senderOrd  uint32
	senderID   string
	senderJSON []byte
	// members are the template members of new channels (channel_template.members and
	// members_template, existing users only, sender and duplicates removed).
	members []MemberSpec
	custom  []byte // message custom: message_template.custom + campaign_id
	// chanType is channel_template.type, or DefaultCampaignChannelType without a template.
	chanType string
	// senderNew adds the sender to the channels the campaign creates (sender_mode not
	// "exclude"); senderAll to existing channels too (sender_mode "include").
	senderNew, senderAll bool
	// chunkMembers are members as the chunk's outbox entry records them.
	chunkMembers []storage.ChunkMember
}

func (e *Engine) newFanoutPlan(c *Campaign) (*fanoutPlan, error) {
	p := &fanoutPlan{c: c, senderID: c.SenderID, chanType: c.Channel.Type,
		senderNew: c.SenderMode != "exclude", senderAll: c.SenderMode == "include"}
	if p.chanType == "" {
		p.chanType = DefaultCampaignChannelType
	}
	sender, found, err := e.GetUser(c.SenderID)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, InputError("sender_id", "the sender %q no longer exists", c.SenderID)
	}
	p.senderOrd, _ = e.db.Users.Lookup(c.SenderID)
	p.senderJSON = e.enc.AppendUser(nil, sender)
	cp, err := e.runPlan(&c.Campaign)
	if err != nil {
		return nil, err
	}
	p.text, p.chanID = cp.text, cp.chanID
	seen := map[uint32]bool{p.senderOrd: true}
	addMember := func(id, role string, custom []byte) {
		ord, ok := e.db.Users.Lookup(id)
		if !ok || seen[ord] {
			return
		}
		_, found, err := e.GetUserByOrdinal(ord)
		if err != nil || !found {
			e.log.Warn("campaign channel template member does not exist; leaving it out", "campaign", c.ID, "user", id)
			return
		}
		seen[ord] = true
		p.members = append(p.members, MemberSpec{User: ord, ChannelRole: role, Custom: custom})
	}
	for _, id := range c.Channel.Members {
		addMember(id, "", nil)
	}
	for _, mt := range c.Channel.MembersTemplate {
		addMember(mt.UserID, mt.ChannelRole, mt.Custom)
	}
	for i := range p.members {
		m := &p.members[i]
		p.chunkMembers = append(p.chunkMembers, storage.ChunkMember{User: m.User, Role: m.ChannelRole, Custom: m.Custom})
	}
	p.custom = campaignMessageCustom(c.Message.Custom, c.ID)
	return p, nil
}

// fanoutItem is one recipient of a prepared chunk.
type fanoutItem struct {
	recipient string // user id, or cid for channel audiences
	userOrd   uint32 // receiver (user audiences)
	userJSON  []byte
	chanType  string
	chanID    string
	chanOrd   uint32 // interned cid (0 when the channel is not known and will not be created)
	text      []byte // nil when the text needs the channel and is rendered at commit
	// skip is why the recipient gets no message (SkipNone: it gets one, unless buildChunk finds
	// a reason).
	skip SkipReason
}

// SkipReason is why a campaign recipient got no message (counted in stats_targets_skipped).
type SkipReason uint8

// The reasons a recipient is skipped.
const (
	SkipNone SkipReason = iota
	// SkipUserNotFound: no user record (never created, or hard-deleted).
	SkipUserNotFound
	// SkipUserDeleted, SkipUserDeactivated, SkipUserBanned: the receiver is soft-deleted,
	// deactivated, or banned from the app (an unexpired ban).
	SkipUserDeleted
	SkipUserDeactivated
	SkipUserBanned
	// SkipInvalidChannelID: channel_template.id rendered to no valid channel id.
	SkipInvalidChannelID
	// SkipMessageTooLong: the rendered text is over the maximum message length.
	SkipMessageTooLong
	// SkipChannelNotFound: no channel, and the campaign does not create channels (or the
	// audience's channel is gone).
	SkipChannelNotFound
	// SkipNotMember: an existing channel the campaign did not create, of which the receiver is
	// not a member.
	SkipNotMember
	// SkipChannelFrozen: the channel is frozen and refuses new messages.
	SkipChannelFrozen
	// SkipUnresolvedTarget: a segment target that never named a user or channel (counted when
	// the audience is frozen).
	SkipUnresolvedTarget
)

var skipReasonNames = [...]string{
	SkipNone: "", SkipUserNotFound: "user_not_found", SkipUserDeleted: "user_deleted",
	SkipUserDeactivated: "user_deactivated", SkipUserBanned: "user_banned",
	SkipInvalidChannelID: "invalid_channel_id", SkipMessageTooLong: "message_too_long",
	SkipChannelNotFound: "channel_not_found", SkipNotMember: "not_a_member",
	SkipChannelFrozen: "channel_frozen", SkipUnresolvedTarget: "unresolved_target",
}

// String returns the reason's name ("user_banned"); "" for SkipNone.
func (r SkipReason) String() string {
	if int(r) < len(skipReasonNames) {
		return skipReasonNames[r]
	}
	return fmt.Sprintf("SkipReason(%d)", uint8(r))
}

// userSkip returns why user u, read at now, cannot receive a campaign message (SkipNone: it can).
func userSkip(u *storage.User, now int64) SkipReason {
	switch {
	case UserDeleted(u):
		return SkipUserDeleted
	case u.DeactivatedAt != 0:
		return SkipUserDeactivated
	case userBanned(u, now):
		return SkipUserBanned
	}
	return SkipNone
}

// userBanned reports whether u is banned from the app at now.
func userBanned(u *storage.User, now int64) bool {
	return u.Banned
}

// fanoutChunk is one chunk on its way from a prepare worker to the committer; or, after the last
// chunk of a scanned audience, the audience to freeze.
type fanoutChunk struct {
	ords   []uint32
	items  []fanoutItem
	freeze *bitmap.Bitmap
	err    error
	done   chan struct{}
}

// split cuts prepared chunk ch after its first n ordinals: head covers them and their items,
// tail the rest (both alias ch). Items are in ascending ordinal order, as prepareChunk makes them.
func (ch *fanoutChunk) split(n int, kind storage.AudienceKind) (head, tail *fanoutChunk) {
	if n >= len(ch.ords) {
		return ch, &fanoutChunk{done: ch.done}
	}
	last := ch.ords[n-1]
	j := 0
	for j < len(ch.items) {
		it := &ch.items[j]
		ord := it.userOrd
		if kind == storage.AudienceChannels {
			ord = it.chanOrd
		}
		if ord > last {
			break
		}
		j++
	}
	head = &fanoutChunk{ords: ch.ords[:n:n], items: ch.items[:j:j], done: ch.done}
	tail = &fanoutChunk{ords: ch.ords[n:], items: ch.items[j:], done: ch.done}
	return head, tail
}

// runFanout sends campaign id from its stored cursor to the end of its frozen audience, then marks
// it completed. It returns errFanoutStopped when stopped, deleted or when the engine stops.
func (e *Engine) runFanout(id string, r *campaignRun, stop <-chan struct{}) (err error) {
	c, found, err := e.getCampaign(id)
	if err != nil {
		return err
	}
	if !found || c.Status != storage.CampaignInProgress {
		return errFanoutStopped
	}
	// src yields the audience after a cursor: the frozen bitmap, or (an audience that needs a user
	// scan, not frozen yet) the scan as it goes; the scan's result is frozen once it ended.
	var (
		src  func(after uint32, n int, fn func(ords []uint32) error) error
		scan *audienceScan
	)
	scanQuit := make(chan struct{})
	defer close(scanQuit)
	if !c.Run.Frozen {
		parts, kind, estimate, err := e.campaignAudienceParts(&c.Campaign)
		if err != nil {
			if _, ok := AsError(err); ok {
				// The audience cannot be resolved any more (a segment vanished): stop.
				return e.stopBroken(id, err)
			}
			return err
		}
		if parts.needsScan() {
			c.Run.Kind = kind
			c.Run.Total = max(estimate, c.Run.Done)
			scan = e.scanAudience(parts, scanQuit)
			src = scan.each
			r.scan.Store(scan)
			defer r.scan.Store(nil)
		} else if err := e.freezeAudience(c, r, parts.base, kind, parts.unresolved); err != nil {
			return err
		}
	}
	plan, err := e.newFanoutPlan(c)
	if err != nil {
		if _, ok := AsError(err); ok {
			// The sender or the templates became invalid: nothing can be sent; stop the campaign.
			return e.stopBroken(id, err)
		}
		return err
	}
	if src == nil {
		aud, err := bitmap.Load(e.db, storage.CampaignBits(id))
		if err != nil {
			return fmt.Errorf("cannot load the audience of campaign %q: %w", id, err)
		}
		src = aud.ForEachChunkAfter
	}

	workers := max(1, runtime.GOMAXPROCS(0))
	jobs := make(chan *fanoutChunk, workers)
	queue := make(chan *fanoutChunk, 2*workers)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ch := range jobs {
				ch.err = e.prepareChunk(plan, ch)
				close(ch.done)
			}
		}()
	}
	// Producer: cut the audience after the cursor into chunks, in order; then, after a scan, hand
	// the committer the audience to freeze.
	go func() {
		defer close(queue)
		defer close(jobs)
		frozen := false
		// freeze queues the scanned audience (or the scan's error) for the committer.
		freeze := func(err error) bool {
			frozen = true
			last := &fanoutChunk{err: err, done: make(chan struct{})}
			if err == nil {
				last.freeze = scan.frozen()
			}
			close(last.done)
			select {
			case queue <- last:
				return true
			case <-quit:
				return false
			}
		}
		// NB: the first chunks are small (firstChunkSize, doubling up to FanoutChunkSize): the
		// first messages commit within milliseconds of the start instead of after a whole chunk.
		size := firstChunkSize
		err := src(c.Run.Cursor, FanoutChunkSize, func(ords []uint32) error {
			if scan != nil && !frozen && scan.frozen() != nil && !freeze(nil) {
				return errFanoutStopped // the scan ended: freeze its result as early as it can be
			}
			for len(ords) > 0 {
				n := min(len(ords), size)
				size = min(2*size, FanoutChunkSize)
				ch := &fanoutChunk{ords: slices.Clone(ords[:n]), done: make(chan struct{})}
				ords = ords[n:]
				select {
				case queue <- ch:
				case <-quit:
					return errFanoutStopped
				}
				select {
				case jobs <- ch:
				case <-quit:
					return errFanoutStopped
				}
			}
			return nil
		})
		if scan != nil && !frozen && !errors.Is(err, errFanoutStopped) {
			freeze(err)
		}
	}()
	defer func() {
		close(quit)
		for range queue { // drain so the producer ends
		}
		wg.Wait()
	}()

	// run is the durable run record; planned is run plus the chunks in flight. A chunk in flight is
	// applied (visible, its latches released) and then synced; chunk N+1 is built while N is in
	// flight and applied once N applied, and at most maxUnsynced chunks wait for their fsync at once
	// (commitPipeline below has the whole argument).
	run := c.Run
	planned := run
	e.noteRunStart(id, r, &run)
	var scratch chunkScratch
	var flights []*chunkFlight // oldest first
	// waitOldest waits for the oldest chunk in flight to be durable and makes its run the durable one.
	waitOldest := func() error {
		f := flights[0]
		flights = flights[1:]
		<-f.synced
		if f.err == nil {
			e.chunkCommitted(id, r, &run, &f.run)
			run = f.run
		}
		return f.err
	}
	wait := func() error {
		var first error
		for len(flights) > 0 {
			if err := waitOldest(); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	frozenStored := false
	defer func() {
		// NB: runs after the commit in flight ended (the defer below runs first).
		if scan != nil && !frozenStored && errors.Is(err, errFanoutStopped) {
			e.freezeOnExit(id, scan)
		}
	}()
	defer func() { _ = wait() }()
	thr := newThrottle(c.MaxPerSecond)
	var (
		month     uint32 // the month monthSent counts (yyyymm)
		monthSent uint64 // this campaign's messages of month, as of planned
	)
	for ch := range queue {
		select {
		case <-stop:
			return errFanoutStopped
		case <-ch.done:
		}
		// NB: a prepared chunk and a stop may both be ready; select picks at random, so the stop
		// is checked again before building.
		if isClosed(stop) {
			return errFanoutStopped
		}
		if ch.err != nil {
			return ch.err
		}
		if ch.freeze != nil {
			// The scan ended: store the audience it decided, in chunk order (after the commit in
			// flight, since both write the run record).
			if err := wait(); err != nil {
				return err
			}
			next, err := e.freezeScanned(id, r, planned, ch.freeze, scan.unresolved)
			if err != nil {
				return err
			}
			run, planned, frozenStored = next, next, true
			r.scan.Store(nil)
			continue
		}
	pieces:
		// The throttle (throttle.go) and the month's capacity (capacity.go) may cut a prepared
		// chunk into several pieces, each committed like a chunk of its own.
		for rest := ch; len(rest.ords) > 0; {
			if err := e.waitDelivery(r, stop); err != nil {
				return err
			}
			if !e.waitDiskSpace(stop, r.stopped.Load) { // low disk space: pause between chunks
				return errFanoutStopped
			}
			if r.stopped.Load() {
				return errFanoutStopped
			}
			if c.StopAt != 0 && e.Now().UnixNano() >= c.StopAt {
				if err := wait(); err != nil {
					return err
				}
				e.stopDue(id)
				return errFanoutStopped
			}
			want := len(rest.ords)
			if thr != nil {
				want = min(want, thr.piece)
			}
			m := monthOf(e.nowMicros())
			res, usedUp, err := e.reserveCapacity(m, want)
			switch {
			case err != nil:
				return err
			case usedUp:
				if err := wait(); err != nil {
					return err
				}
				return e.stopForCapacity(id)
			case res.n == 0:
				// What is left of the month is reserved by chunks in flight: see what they send.
				select {
				case <-stop:
					return errFanoutStopped
				case <-time.After(5 * time.Millisecond):
				}
				continue pieces
			}
			if !thr.wait(int(res.n), stop, r.done) {
				e.settleCapacity(res, 0)
				return errFanoutStopped
			}
			now := e.nowMicros()
			if monthOf(now) != m { // a new month began while waiting: reserve in it
				e.settleCapacity(res, 0)
				continue pieces
			}
			if m != month {
				if monthSent, err = storage.ReadMonthlySent(e.db, m, id); err != nil {
					e.settleCapacity(res, 0)
					return err
				}
				month = m
			}
			var piece *fanoutChunk
			piece, rest = rest.split(int(res.n), c.Run.Kind)
			tx, next, err := e.buildChunk(plan, planned, piece, now, &scratch)
			if err != nil {
				e.settleCapacity(res, 0)
				return err
			}
			sent := next.MessagesSent - planned.MessagesSent
			tx.B.PutMonthlySent(month, id, monthSent+sent)
			for len(flights) >= maxUnsynced {
				if err := waitOldest(); err != nil {
					tx.Discard()
					e.settleCapacity(res, 0)
					return err
				}
			}
			var prev *chunkFlight
			if len(flights) > 0 {
				prev = flights[len(flights)-1]
			}
			f := &chunkFlight{run: next, applied: make(chan struct{}), synced: make(chan struct{})}
			flights = append(flights, f)
			planned = next
			monthSent += sent
			go e.commitPipeline(id, r, tx, prev, f, res, sent)
		}
	}
	if err := wait(); err != nil {
		return err
	}
	select {
	case <-stop:
		return errFanoutStopped
	default:
	}
	return e.completeFanout(id, r, &run)
}

// waitDelivery waits while the Kafka relays trail more than Options.MaxDeliveryBacklog events
// behind (see outbox.Manager.Backlog). It returns errFanoutStopped when the run is stopped meanwhile.
func (e *Engine) waitDelivery(r *campaignRun, stop <-chan struct{}) error {
	m, limit := e.outbox.mgr, e.opts.MaxDeliveryBacklog
	if m == nil || limit < 0 {
		return nil
	}
	for m.Backlog() > uint64(limit) {
		if r.stopped.Load() {
			return errFanoutStopped
		}
		select {
		case <-stop:
			return errFanoutStopped
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// stopBroken stops campaign id that cannot run because of cause (a client-side problem such as
// a deleted sender), and returns errFanoutStopped.
func (e *Engine) stopBroken(id string, cause error) error {
	e.log.Error("campaign cannot run; stopping it", "campaign", id, "err", cause)
	unlock := e.lockCampaign(id)
	defer unlock()
	if cur, found, err := e.getCampaign(id); err == nil && found && cur.Status == storage.CampaignInProgress {
		if err := e.stopCampaignLocked(cur, storage.StopError); err != nil {
			return err
		}
	}
	return errFanoutStopped
}

// freezeAudience stores aud, c's audience, and marks the run frozen, in one Tx under the campaign
// lock; the unresolved pending targets count as done and skipped.
func (e *Engine) freezeAudience(c *Campaign, r *campaignRun, aud *bitmap.Bitmap, kind storage.AudienceKind, unresolved uint64) error {
	unlock := e.lockCampaign(c.ID)
	defer unlock()
	if r.stopped.Load() {
		return errFanoutStopped
	}
	bits := storage.CampaignBits(c.ID)
	tx := e.NewTx()
	bitmap.Delete(tx.B, bits)
	bitmap.Store(tx.B, bits, aud)
	c.Run.Frozen = true
	c.Run.Kind = kind
	c.Run.Total = aud.Cardinality() + unresolved
	c.Run.Done, c.Run.Skipped = unresolved, unresolved
	c.Run.Cursor = 0
	tx.B.PutCampaignRun(c.ID, &c.Run)
	if err := e.Commit(tx); err != nil {
		return fmt.Errorf("cannot store the audience of campaign %q: %w", c.ID, err)
	}
	return nil
}

// freezeScanned stores aud, the audience a scan decided while the fan-out sent it, and the run
// (the committed run, no commit being in flight) marked frozen with its exact total, in one Tx
// under the campaign lock. Chunks already sent stay as they are: the cursor does not move.
// NB: a crash before this commit scans again at the restart, and the run goes on after its cursor.
func (e *Engine) freezeScanned(id string, r *campaignRun, run storage.CampaignRun, aud *bitmap.Bitmap, unresolved uint64) (storage.CampaignRun, error) {
	bits := storage.CampaignBits(id)
	tx := e.NewTx()
	bitmap.Delete(tx.B, bits)
	bitmap.Store(tx.B, bits, aud)
	frozenRun(&run, aud, unresolved)
	tx.B.PutCampaignRun(id, &run)
	if err := e.commitChunk(id, r, tx); err != nil {
		return run, err
	}
	return run, nil
}

// freezeOnExit stores the audience of a run that ends before its scan's result was stored (the
// engine stopping between chunks): it waits for the scan to end (a second or so per million users)
// and marks the stored run frozen with its exact total, so that the resumed run does not scan
// again. A campaign stopped meanwhile was frozen by its stop (freezeForStopTx).
func (e *Engine) freezeOnExit(id string, scan *audienceScan) {
	aud := scan.wait()
	if aud == nil {
		return // the scan failed: a resumed run scans again
	}
	unlock := e.lockCampaign(id)
	defer unlock()
	tx := e.NewTx()
	if ok, err := e.freezeStoredRunTx(tx, id, aud, scan.unresolved); err != nil || !ok {
		tx.Discard()
		return // deleted or frozen meanwhile, or unreadable (a resumed run scans again)
	}
	if err := e.Commit(tx); err != nil {
		e.log.Warn("cannot store the audience of a stopped run; the resumed run scans again", "campaign", id, "err", err)
	}
}

// freezeForStopTx adds to tx, which stops campaign id, the freeze of its audience when its running
// fan-out is still scanning it (waiting for the scan to end), so that the stopped campaign keeps
// its whole audience and exact total. The caller holds the campaign lock: no chunk commits
// meanwhile, so the stored run is the latest.
func (e *Engine) freezeForStopTx(tx *Tx, id string) error {
	scan := e.unfrozenScan(id)
	if scan == nil {
		return nil
	}
	aud := scan.wait()
	if aud == nil {
		return nil
	}
	_, err := e.freezeStoredRunTx(tx, id, aud, scan.unresolved)
	return err
}

// freezeStoredRunTx writes into tx aud as campaign id's frozen audience and its stored run marked
// frozen with aud's size; false (nothing written) when the run is gone or frozen already.
func (e *Engine) freezeStoredRunTx(tx *Tx, id string, aud *bitmap.Bitmap, unresolved uint64) (bool, error) {
	var run storage.CampaignRun
	found, err := storage.ReadCampaignRun(e.db, id, &run)
	if err != nil || !found || run.Frozen {
		return false, err
	}
	bits := storage.CampaignBits(id)
	bitmap.Delete(tx.B, bits)
	bitmap.Store(tx.B, bits, aud)
	frozenRun(&run, aud, unresolved)
	tx.B.PutCampaignRun(id, &run)
	return true, nil
}

// frozenRun marks run, whose scanned audience aud just ended, frozen: its total is exact and the
// unresolved pending targets count as done and skipped.
func frozenRun(run *storage.CampaignRun, aud *bitmap.Bitmap, unresolved uint64) {
	run.Frozen = true
	run.Done += unresolved
	run.Skipped += unresolved
	run.Total = aud.Cardinality() + unresolved
}

// prepareChunk does the parallel part of a chunk: receivers, channel ids, texts. It only reads
// (and interns the chunk's cids when channels may be created).
func (e *Engine) prepareChunk(p *fanoutPlan, ch *fanoutChunk) error {
	c := p.c
	if c.Run.Kind == storage.AudienceChannels {
		// NB: the recipient (the cid) comes from the channel's record, read by buildChunk.
		ch.items = make([]fanoutItem, 0, len(ch.ords))
		for _, ord := range ch.ords {
			ch.items = append(ch.items, fanoutItem{chanOrd: ord})
		}
		return nil
	}
	ch.items = make([]fanoutItem, 0, len(ch.ords))
	var arena []byte
	useChannel := p.text.Uses(ScopeChannel)
	members := []string{p.senderID, ""}
	now := e.Now().UnixNano()
	// One item per audience ordinal, in order: the ordinals without a record get SkipUserNotFound.
	next := 0
	missing := func(upTo uint32) {
		for ; next < len(ch.ords) && ch.ords[next] < upTo; next++ {
			ch.items = append(ch.items, fanoutItem{userOrd: ch.ords[next], skip: SkipUserNotFound})
		}
	}
	err := e.userRecords(ch.ords, true, func(ord uint32, u *storage.User) {
		missing(ord)
		next++
		it := fanoutItem{recipient: strings.Clone(u.ID), userOrd: ord, chanType: p.chanType}
		if it.skip = userSkip(u, now); it.skip != SkipNone {
			ch.items = append(ch.items, it)
			return
		}
		start := len(arena)
		arena = e.enc.AppendUser(arena, u)
		// NB: arena may move while growing; userJSON is re-sliced after the loop.
		it.userJSON = arena[start:len(arena):len(arena)]
		ch.items = append(ch.items, it)
	})
	if err != nil {
		return err
	}
	for ; next < len(ch.ords); next++ {
		ch.items = append(ch.items, fanoutItem{userOrd: ch.ords[next], skip: SkipUserNotFound})
	}
	// Re-slice userJSON into the final arena (appends above may have moved it).
	off := 0
	for i := range ch.items {
		it := &ch.items[i]
		n := len(it.userJSON)
		if n == 0 {
			continue
		}
		it.userJSON = arena[off : off+n : off+n]
		off += n
	}
	var cids []string
	for i := range ch.items {
		it := &ch.items[i]
		if it.skip != SkipNone {
			continue
		}
		vars := TemplateVars{Sender: p.senderJSON, Receiver: it.userJSON}
		if p.chanID != nil {
			id, ok := p.chanID.AppendLimit(nil, &vars, MaxIDLength)
			it.chanID = string(id)
			if !ok || CheckChannelID("channel_template.id", it.chanID) != nil {
				it.skip = SkipInvalidChannelID
				continue
			}
		} else {
			members[1] = it.recipient
			it.chanID = DistinctChannelID(members)
		}
		if !useChannel {
			var ok bool
			if it.text, ok = p.text.AppendLimit(nil, &vars, e.opts.MaxMessageLength); !ok {
				it.skip = SkipMessageTooLong
				continue
			}
		}
		cids = append(cids, it.chanType+":"+it.chanID)
	}
	if len(cids) > 0 {
		var (
			ords []uint32
			err  error
		)
		if c.CreateChannels {
			ords, err = e.db.Channels.Intern(nil, cids)
		} else {
			ords, err = e.db.Channels.LookupMany(nil, cids) // 0: no such channel, skipped
		}
		if err != nil {
			return err
		}
		j := 0
		for i := range ch.items {
			if ch.items[i].skip == SkipNone {
				ch.items[i].chanOrd = ords[j]
				j++
			}
		}
	}
	return nil
}

func cutCID(cid string) (typ, id string, ok bool) {
	for i := 0; i < len(cid); i++ {
		if cid[i] == ':' {
			return cid[:i], cid[i+1:], i > 0 && i+1 < len(cid)
		}
	}
	return "", "", false
}

// chunkScratch is the committer's reusable memory for building chunks (one per run: chunks are
// built one after the other). Nothing in it is referenced by a Tx once buildChunk returned.
type chunkScratch struct {
	states  []chanState
	members []uint32 // arena of the items' member snapshots
	items   []storage.ChunkItem
	buf     []byte
	text    []byte
	view    storage.Channel // a channel as a template's {{ channel.x }} shows it
	chJSON  []byte          // view's ChannelResponse
}

// chanState is a channel a chunk writes: its record as the chunk leaves it and its members.
type chanState struct {
	ord     uint32
	exists  bool
	dirty   bool
	rec     storage.Channel
	members []uint32 // user ordinals, ascending
}

// buildChunk writes one prepared chunk into ONE Tx (channels, members, messages, the chunk's events
// by reference, stats and cursor) and returns it with the run record it stores (run advanced by the
// chunk). The Tx holds the latches of every channel of the chunk until it ends. On error the Tx is
// discarded.
func (e *Engine) buildChunk(p *fanoutPlan, run storage.CampaignRun, ch *fanoutChunk, now int64, s *chunkScratch) (*Tx, storage.CampaignRun, error) {
	c := p.c
	next := run
	users := c.Run.Kind == storage.AudienceUsers

	// The chunk's channels, sorted and unique, latched at once (latchTable contract 2).
	ords := make([]uint32, 0, len(ch.items))
	for i := range ch.items {
		if it := &ch.items[i]; it.skip == SkipNone && it.chanOrd != 0 {
			ords = append(ords, it.chanOrd)
		}
	}
	slices.Sort(ords)
	ords = slices.Compact(ords)
	// NB: about 650 bytes per recipient to a new channel (channel, 2 members with reverse keys,
	// message and id index), about 450 to an existing one; sizing up front saves regrowing.
	per := 480
	if c.CreateChannels {
		per = 700
	}
	tx := &Tx{B: e.db.NewWriteBatch(per*len(ch.items) + 4096)}
	e.lockChannels(tx, ords)
	committed := false
	defer func() {
		if !committed {
			tx.Discard()
		}
	}()

	// One forward pass over the channel records, and an existing channel's members.
	r := e.db.NewRecordReader()
	defer r.Close()
	if cap(s.states) < len(ords) {
		s.states = make([]chanState, len(ords))
	}
	states := s.states[:len(ords)]
	for j, o := range ords {
		st := &states[j]
		*st = chanState{ord: o, members: st.members[:0]}
		v, ok := r.Channel(o)
		if !ok {
			continue
		}
		if err := st.rec.Unmarshal(v); err != nil {
			return nil, next, fmt.Errorf("cannot read channel %d: %w", o, err)
		}
		st.rec.Custom = slices.Clone(st.rec.Custom)
		st.exists = true
		st.members = r.MemberOrds(st.members, o)
	}
	if err := r.Close(); err != nil {
		return nil, next, err
	}

	s.members = s.members[:0]
	items := s.items[:0]
	// skip records why it gets no message (fanoutItem.skip) and counts it.
	skip := func(it *fanoutItem, why SkipReason) {
		if it.skip == SkipNone {
			it.skip = why
		}
		next.Skipped++
	}
	for i := range ch.items {
		it := &ch.items[i]
		if it.skip != SkipNone || it.chanOrd == 0 {
			skip(it, SkipChannelNotFound)
			continue
		}
		j, _ := slices.BinarySearch(ords, it.chanOrd)
		st := &states[j]
		create := !st.exists && users && c.CreateChannels
		switch {
		case create:
		case !st.exists:
			skip(it, SkipChannelNotFound)
			continue
		case st.rec.Frozen:
			skip(it, SkipChannelFrozen) // a frozen channel takes no new message
			continue
		case users:
			// NB: a channel the campaign did not create gets the receiver's message only if the
			// receiver is a member: else whoever made the channel would read it.
			if _, ok := slices.BinarySearch(st.members, it.userOrd); !ok {
				skip(it, SkipNotMember)
				continue
			}
		}
		_, isMember := slices.BinarySearch(st.members, p.senderOrd)
		addSender := !create && p.senderAll && !isMember
		if !users {
			it.recipient = st.rec.Type + ":" + st.rec.ID
		}
		text := it.text
		if text == nil {
			// The text shows the channel as the message finds it: created, or with the sender added.
			s.view = st.rec
			if create {
				s.view = p.newChannel(it, now)
			} else if addSender {
				s.view.MemberCount++
			}
			s.chJSON = e.enc.AppendChannel(s.chJSON[:0], &s.view, nil)
			var ok bool
			s.text, ok = p.text.AppendLimit(s.text[:0], &TemplateVars{Sender: p.senderJSON, Receiver: it.userJSON, Channel: s.chJSON}, e.opts.MaxMessageLength)
			if !ok {
				skip(it, SkipMessageTooLong) // nothing is written for this recipient
				continue
			}
			text = s.text
		}
		if create {
			e.createChunkChannel(p, tx, st, it, now, s)
			next.ChannelsCreated++
		}
		if addSender {
			// NB: the sender joins with the channel's history read, as any new member.
			s.buf = (&storage.Member{ChannelRole: DefaultChannelRole, CreatedAt: now, UpdatedAt: now, LastReadSeq: max(st.rec.NextSeq, 1) - 1}).Marshal(s.buf[:0])
			tx.B.PutMember(st.ord, p.senderOrd, s.buf)
			k, _ := slices.BinarySearch(st.members, p.senderOrd)
			st.members = slices.Insert(st.members, k, p.senderOrd)
			st.rec.MemberCount++
			st.dirty = true
		}
		rec := &st.rec
		if rec.NextSeq == 0 {
			rec.NextSeq = 1
		}
		seq := rec.NextSeq
		rec.NextSeq++
		rec.MessageCount++
		rec.LastMessageAt = max(rec.LastMessageAt, now)
		st.dirty = true
		msg := storage.Message{
			ID:          derivedID(c.ID, "message", it.recipient),
			Type:        MessageTypeRegular,
			Text:        bytesconv.UnsafeString(text),
			User:        p.senderOrd,
			Attachments: c.Message.Attachments,
			PollID:      c.Message.PollID,
			Custom:      p.custom,
			CreatedAt:   now,
			UpdatedAt:   now,
		}
		s.buf = msg.Marshal(s.buf[:0])
		tx.B.PutMessage(st.ord, seq, msg.ID, s.buf)
		item := storage.ChunkItem{User: it.userOrd, Channel: st.ord, Seq: seq, Created: create}
		if !create {
			item.MemberCount = rec.MemberCount
			item.MessageCount = rec.MessageCount
			start := len(s.members)
			s.members = append(s.members, st.members...)
			item.Members = s.members[start:len(s.members):len(s.members)]
		}
		items = append(items, item)
		next.MessagesSent++
		if users {
			next.UsersSent++
		} else {
			next.UsersSent += uint64(rec.MemberCount)
		}
	}
	for j := range states {
		if st := &states[j]; st.dirty {
			s.buf = st.rec.Marshal(s.buf[:0])
			tx.B.PutChannel(st.ord, s.buf)
		}
	}
	s.items = items
	if len(items) > 0 {
		chunk := storage.CampaignChunk{
			CampaignID: c.ID, SkipWebhook: c.SkipWebhook, SkipPush: c.SkipPush, Channels: !users,
			Sender: p.senderOrd, CreatedAt: now, Team: c.Channel.Team, Custom: c.Channel.Custom,
			SenderMember: p.senderNew, Members: p.chunkMembers, Items: items,
		}
		// NB: encoded now: the Tx must not reference the scratch memory the next chunk reuses.
		tx.ref = chunk.Marshal(nil)
		tx.refEvents = uint64(chunk.Events())
	}
	// NB: every audience ordinal has an item (prepareChunk), skipped ones included.
	if len(ch.items) != len(ch.ords) {
		panic(fmt.Sprintf("BUG: a chunk of %d ordinals has %d items", len(ch.ords), len(ch.items)))
	}
	next.Done += uint64(len(ch.ords))
	next.Cursor = ch.ords[len(ch.ords)-1]
	if !next.Frozen {
		next.Total = max(next.Total, next.Done) // an estimate until the scanned audience is frozen
	}
	tx.B.PutCampaignRun(c.ID, &next)
	committed = true
	return tx, next, nil
}

// createChunkChannel writes the new channel of recipient it into tx: the record in st (written by
// the caller once the chunk's messages are appended) and its members: the receiver, the sender
// (sender_mode not "exclude") and the template members, in that order as the events list them.
func (e *Engine) createChunkChannel(p *fanoutPlan, tx *Tx, st *chanState, it *fanoutItem, now int64, s *chunkScratch) {
	st.rec = p.newChannel(it, now)
	st.rec.MemberCount = 0 // counted as the members are added
	st.exists, st.dirty = true, true
	add := func(user uint32, role string, custom []byte) {
		if _, ok := slices.BinarySearch(st.members, user); ok {
			return
		}
		if role == "" {
			role = DefaultChannelRole
		}
		s.buf = (&storage.Member{ChannelRole: role, CreatedAt: now, UpdatedAt: now, Custom: custom}).Marshal(s.buf[:0])
		tx.B.PutMember(st.ord, user, s.buf)
		k, _ := slices.BinarySearch(st.members, user)
		st.members = slices.Insert(st.members, k, user)
		st.rec.MemberCount++
	}
	add(it.userOrd, "", nil)
	if p.senderNew {
		add(p.senderOrd, "", nil)
	}
	for i := range p.members {
		m := &p.members[i]
		add(m.User, m.ChannelRole, m.Custom)
	}
}

// newChannel returns the record of the channel the campaign creates for recipient it, with its
// member count, before any message.
func (p *fanoutPlan) newChannel(it *fanoutItem, now int64) storage.Channel {
	c := p.c
	n := uint32(1) // the receiver
	if p.senderNew && p.senderOrd != it.userOrd {
		n++
	}
	for i := range p.members {
		if p.members[i].User != it.userOrd {
			n++
		}
	}
	return storage.Channel{
		Type: it.chanType, ID: it.chanID, CreatedBy: p.senderOrd, Team: c.Channel.Team, MemberCount: n,
		NextSeq: 1, CreatedAt: now, UpdatedAt: now, Custom: c.Channel.Custom,
	}
}

// maxUnsynced is how many chunks of one run may wait for their fsync at once: with two, a chunk is
// applied while the previous one's fsync runs.
const maxUnsynced = 2

// chunkFlight is a chunk in flight: applied is closed once its batch is applied (applyErr set
// before, on failure), synced once it is durable (err set before, on any failure).
type chunkFlight struct {
	run      storage.CampaignRun
	applied  chan struct{}
	synced   chan struct{}
	applyErr error
	err      error
}

// commitPipeline commits chunk f (its Tx tx) once the chunk before it, prev (nil: none), applied:
// it applies tx under the campaign lock (unless the run was stopped), closes f.applied, waits for
// the fsync and closes f.synced, then settles the capacity reservation res with what it sent.
//
// NB: exactly once needs "N+1 durable ⇒ N durable" and run records applied in chunk order. N+1 is
// applied only after N applied successfully (else it is discarded), so their WAL records and run
// records are in chunk order, and Pebble syncs its WAL as a prefix: N+1 durable implies N durable
// (storage.Batch.Apply). N+1's build read no channel N writes before N applied: it took their
// latches, which N releases once applied; a writer that reads N's applied channel and commits
// durably makes N durable too (a later fsync covers it). A stop takes the campaign lock: a chunk
// applied before it is synced by the stop's own commit, none is applied after it.
func (e *Engine) commitPipeline(id string, r *campaignRun, tx *Tx, prev, f *chunkFlight, res capReservation, sent uint64) {
	fail := func(err error) {
		f.applyErr, f.err = err, err
		close(f.applied)
		e.settleCapacity(res, 0)
		close(f.synced)
	}
	if prev != nil {
		<-prev.applied
		if prev.applyErr != nil {
			tx.Discard()
			fail(prev.applyErr)
			return
		}
	}
	wait, err := e.applyChunk(id, r, tx)
	if err != nil {
		fail(err)
		return
	}
	close(f.applied)
	if err := wait(); err != nil {
		f.err = fmt.Errorf("cannot commit a chunk of campaign %q: %w", id, err)
		sent = 0
	}
	e.settleCapacity(res, sent)
	close(f.synced)
}

// applyChunk applies a chunk's Tx (Engine.Apply) under the campaign lock, unless the campaign was
// stopped (then tx is discarded and errFanoutStopped returned).
func (e *Engine) applyChunk(id string, r *campaignRun, tx *Tx) (func() error, error) {
	unlock := e.lockCampaign(id)
	defer unlock()
	if r.stopped.Load() {
		tx.Discard()
		return nil, errFanoutStopped
	}
	wait, err := e.Apply(tx)
	if err != nil {
		return nil, fmt.Errorf("cannot commit a chunk of campaign %q: %w", id, err)
	}
	return wait, nil
}

// commitChunk commits a chunk's sealed bulk Tx with fsync under the campaign lock, unless the
// campaign was stopped (then tx is discarded).
func (e *Engine) commitChunk(id string, r *campaignRun, tx *Tx) error {
	unlock := e.lockCampaign(id)
	defer unlock()
	if r.stopped.Load() {
		tx.Discard()
		return errFanoutStopped
	}
	if err := e.Commit(tx); err != nil {
		return fmt.Errorf("cannot commit a chunk of campaign %q: %w", id, err)
	}
	return nil
}

// completeFanout marks the campaign completed with campaign.completed, in one Tx.
func (e *Engine) completeFanout(id string, r *campaignRun, run *storage.CampaignRun) error {
	unlock := e.lockCampaign(id)
	defer unlock()
	if r.stopped.Load() {
		return errFanoutStopped
	}
	c, found, err := e.getCampaign(id)
	if err != nil {
		return err
	}
	if !found || c.Status != storage.CampaignInProgress {
		return errFanoutStopped
	}
	now := e.nowMicros()
	c.Status = storage.CampaignCompleted
	c.UpdatedAt = now
	c.Run = *run
	c.Run.CompletedAt = now
	tx := e.NewTx()
	if err := e.emitCampaignEvent(tx, "campaign.completed", c); err != nil {
		tx.Discard()
		return err
	}
	tx.B.PutCampaign(&c.Campaign)
	tx.B.PutCampaignRun(id, &c.Run)
	e.releaseCampaign(tx, c)
	if err := e.Commit(tx); err != nil {
		return fmt.Errorf("cannot complete campaign %q: %w", id, err)
	}
	e.unscheduleCampaign(id)
	e.logRunCompleted(id, &c.Run)
	return nil
}
