package engine

import (
	"fmt"
	"sync"

	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

// stats_users_read: the recipients who read the channel holding a campaign's message to them after
// it arrived. A read (mark read of a channel, markReadTx) that moves a member past a campaign
// message addressed to it writes the campaign's read marker for that recipient (storage
// CampaignRead: user audiences one key per receiver, channel audiences one per channel and
// member), once: the marker is written only when absent, by a Tx holding the latch of the one
// channel that message is in, so no two writers can race on it. The count is the number of
// markers, loaded once per campaign (one scan of its keys, on first use after a start of the
// process) and kept in memory from then on (readCount).
//
// NB: the fan-out rewrites a campaign's run record in every chunk's batch, in chunk order, while
// reads commit in any order; the count is therefore not in the run record (a read would race with
// the chunks' rewrites) but in keys of its own that nothing rewrites. A marker is a key naming
// the recipient's ordinal and an 8-byte read time, so that the recipients' read times can be
// listed from the markers.

// readCounts are the in-memory stats_users_read of the campaigns read so far, by campaign id.
type readCounts struct {
	mu sync.Mutex
	m  map[string]*readCount
}

// readCount is one campaign's number of read markers, kept exact against concurrent reads:
//  1. A Tx that writes a marker calls begin before writing it and end once its commit returned;
//     end adds the committed markers to n when n is loaded.
//  2. Loading n waits until no Tx is between begin and end (new begins wait meanwhile), then counts
//     the stored markers: every marker committed before is counted once by the scan, every later
//     one once by its end.
//  3. gone (the campaign is being deleted) makes begin refuse, so that no marker outlives the
//     deletion of its campaign's markers.
type readCount struct {
	mu       sync.Mutex
	cond     sync.Cond
	loaded   bool
	loading  bool
	gone     bool
	n        uint64
	inflight int
}

func (e *Engine) readCount(id string) *readCount {
	rc := &e.reads
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.m == nil {
		rc.m = make(map[string]*readCount)
	}
	c := rc.m[id]
	if c == nil {
		c = &readCount{}
		c.cond.L = &c.mu
		rc.m[id] = c
	}
	return c
}

// begin registers a Tx about to write one of the campaign's markers; false when the campaign is
// being deleted (nothing may be written).
func (c *readCount) begin() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.loading {
		c.cond.Wait()
	}
	if c.gone {
		return false
	}
	c.inflight++
	return true
}

// end ends what begin registered; committed says the marker is durable.
func (c *readCount) end(committed bool) {
	c.mu.Lock()
	c.inflight--
	if committed && c.loaded {
		c.n++
	}
	if c.inflight == 0 {
		c.cond.Broadcast()
	}
	c.mu.Unlock()
}

// usersRead returns campaign id's stats_users_read, loading the count on first use.
func (e *Engine) usersRead(id string) (uint64, error) {
	c := e.readCount(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded {
		return c.n, nil
	}
	c.loading = true
	for c.inflight > 0 {
		c.cond.Wait()
	}
	n, err := storage.CountCampaignReads(e.db, id)
	c.loading = false
	c.cond.Broadcast()
	if err != nil {
		return 0, fmt.Errorf("cannot count the reads of campaign %q: %w", id, err)
	}
	c.n, c.loaded = n, true
	return n, nil
}

// stopReads stops the markers of campaign id, which is being deleted: no marker is written from
// now on, and the ones in flight have committed when it returns. The caller holds the campaign's
// lock and calls dropReads once the deletion (which removes every marker) committed, or failed.
func (e *Engine) stopReads(id string) *readCount {
	c := e.readCount(id)
	c.mu.Lock()
	c.gone = true
	for c.inflight > 0 {
		c.cond.Wait()
	}
	c.mu.Unlock()
	return c
}

// dropReads ends what stopReads began: after a committed deletion the count is forgotten (a
// campaign created again under the same id counts afresh); after a failed one, reads resume.
func (e *Engine) dropReads(id string, c *readCount, deleted bool) {
	if !deleted {
		c.mu.Lock()
		c.gone = false
		c.mu.Unlock()
		return
	}
	rc := &e.reads
	rc.mu.Lock()
	if rc.m[id] == c {
		delete(rc.m, id)
	}
	rc.mu.Unlock()
}

// pendingReads are the markers a Tx writes: each registered with its campaign's count (begin),
// ended once the Tx committed or was dropped.
type pendingReads struct {
	counts []*readCount
	// exists caches whether campaigns exist (read once per Tx).
	exists map[string]bool
}

func (p *pendingReads) end(committed bool) {
	for _, c := range p.counts {
		c.end(committed)
	}
	p.counts = nil
}

// campaignReadsTx writes into tx the read markers of the campaign messages to user reader in the
// latched channel chanOrd (cid) with seqs in (from, to]: a message whose campaign_id names an
// existing campaign and whose id is the one that campaign derives for the reader (user audiences)
// or for the channel (channel audiences).
func (e *Engine) campaignReadsTx(tx *Tx, chanOrd uint32, cid string, reader uint32, from, to uint64, at int64, reads *pendingReads) error {
	it := e.db.NewIter(storage.MessageKey(nil, chanOrd, from+1), storage.MessageKey(nil, chanOrd, to+1))
	readerID := e.db.Users.ID(reader)
	var (
		msg  storage.Message
		ierr error
	)
	type found struct {
		campaign string
		read     storage.CampaignRead
	}
	var hits []found
	for ok := it.First(); ok; ok = it.Next() {
		if ierr = msg.UnmarshalNoCopy(it.Value()); ierr != nil {
			ierr = fmt.Errorf("cannot read message %x: %w", it.Key(), ierr)
			break
		}
		if msg.User == reader || msg.Type == MessageTypeDeleted {
			continue
		}
		campaign, ok := campaignIDOf(msg.Custom)
		if !ok {
			continue
		}
		switch msg.ID {
		case CampaignMessageID(campaign, readerID):
			hits = append(hits, found{campaign, storage.CampaignRead{Recipient: reader}})
		case CampaignMessageID(campaign, cid):
			hits = append(hits, found{campaign, storage.CampaignRead{Recipient: chanOrd, Reader: reader}})
		}
	}
	if err := it.Close(); ierr == nil {
		ierr = err
	}
	if ierr != nil {
		return ierr
	}
	for _, h := range hits {
		c := e.readCount(h.campaign)
		if !c.begin() {
			continue // the campaign is being deleted
		}
		reads.counts = append(reads.counts, c)
		ok, err := e.campaignExists(reads, h.campaign)
		if err != nil {
			return err
		}
		if ok {
			ok, err = storage.HasCampaignRead(tx.B, h.campaign, h.read)
			if err != nil {
				return err
			}
			ok = !ok
		}
		if !ok {
			// Nothing to count: undo this begin now (end(false) does not count).
			reads.counts = reads.counts[:len(reads.counts)-1]
			c.end(false)
			continue
		}
		tx.B.PutCampaignRead(h.campaign, h.read, at)
	}
	return nil
}

// campaignExists reports whether campaign id exists, once per pendingReads.
func (e *Engine) campaignExists(p *pendingReads, id string) (bool, error) {
	if ok, seen := p.exists[id]; seen {
		return ok, nil
	}
	var c storage.Campaign
	ok, err := storage.ReadCampaign(e.db, id, &c)
	if err != nil {
		return false, err
	}
	if p.exists == nil {
		p.exists = map[string]bool{}
	}
	p.exists[id] = ok
	return ok, nil
}

// campaignIDOf returns the campaign_id custom field of a message's custom data.
func campaignIDOf(custom []byte) (string, bool) {
	raw, ok := filter.LookupJSON(custom, "campaign_id")
	if !ok || len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	var tmp [128]byte
	s, ok := filter.AppendUnescaped(tmp[:0], raw[1:len(raw)-1])
	if !ok || len(s) == 0 {
		return "", false
	}
	return string(s), true
}
