package engine

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/campaignd/campaignd/bitmap"
	"github.com/campaignd/campaignd/storage"
)

// CreateCampaign validates in and stores a draft campaign. A nil or empty id gets a UUID.
func (e *Engine) CreateCampaign(in *CampaignInput) (*Campaign, error) {
	id := ""
	if in.ID != nil {
		id = *in.ID
	}
	if id == "" {
		id = uuid.NewString()
	}
	if err := CheckID("id", id); err != nil {
		return nil, err
	}
	now := e.nowMicros()
	c := &Campaign{Campaign: storage.Campaign{ID: id, Status: storage.CampaignDraft, CreatedAt: now, UpdatedAt: now}}
	if err := in.apply(&c.Campaign); err != nil {
		return nil, err
	}
	if _, err := e.validateCampaign(&c.Campaign); err != nil {
		return nil, err
	}
	unlock := e.lockCampaign(id)
	defer unlock()
	if _, found, err := e.getCampaign(id); err != nil {
		return nil, err
	} else if found {
		return nil, InputError("id", "campaign %q already exists; choose another id or omit it to get a generated one", id)
	}
	tx := e.NewTx()
	tx.B.PutCampaign(&c.Campaign)
	if err := e.Commit(tx); err != nil {
		return nil, fmt.Errorf("cannot store campaign %q: %w", id, err)
	}
	return c, e.loadCampaignRefs(c)
}

// GetCampaign returns campaign id with its live stats, sender and segments, or a code-16 error.
func (e *Engine) GetCampaign(id string) (*Campaign, error) {
	c, err := e.mustGetCampaign(id)
	if err != nil {
		return nil, err
	}
	return c, e.loadCampaignRefs(c)
}

// UpdateCampaign merges in into a draft or scheduled campaign and validates the result.
func (e *Engine) UpdateCampaign(id string, in *CampaignInput) (*Campaign, error) {
	c, unlock, err := e.lockedCampaign(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if c.Status != storage.CampaignDraft && c.Status != storage.CampaignScheduled {
		return nil, InputError("status", "campaign %q is %s; only draft and scheduled campaigns can be updated: create a new campaign instead", id, c.Status)
	}
	if in.ID != nil && *in.ID != "" && *in.ID != id {
		return nil, InputError("id", "the campaign id cannot be changed (%q in the body, %q in the path); create a new campaign instead", *in.ID, id)
	}
	if err := in.apply(&c.Campaign); err != nil {
		return nil, err
	}
	if _, err := e.validateCampaign(&c.Campaign); err != nil {
		return nil, err
	}
	c.UpdatedAt = e.nowMicros()
	tx := e.NewTx()
	tx.B.PutCampaign(&c.Campaign)
	if err := e.Commit(tx); err != nil {
		return nil, fmt.Errorf("cannot update campaign %q: %w", id, err)
	}
	return c, e.loadCampaignRefs(c)
}

// StartOptions are the optional times of POST /campaigns/{id}/start, in unix nanoseconds (0: not
// given); they are kept to the microsecond.
type StartOptions struct {
	ScheduledFor int64
	StopAt       int64
}

// StartCampaign starts campaign id now, or schedules it when scheduled_for is in the future. It
// answers at once: the audience is resolved and messages are sent in the background.
func (e *Engine) StartCampaign(id string, opts *StartOptions) (*Campaign, error) {
	now := e.Now()
	schedFor, stopAt := truncMicros(opts.ScheduledFor), truncMicros(opts.StopAt)
	if stopAt != 0 {
		after := now.UnixNano()
		if schedFor > after {
			after = schedFor
		}
		if stopAt <= after {
			if schedFor != 0 {
				return nil, InputError("stop_at", "stop_at must be after scheduled_for (and in the future)")
			}
			return nil, InputError("stop_at", "stop_at is in the past; send a future time or omit it")
		}
	}

	c, unlock, err := e.lockedCampaign(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	switch c.Status {
	case storage.CampaignDraft, storage.CampaignScheduled:
	default:
		return nil, InputError("status", "campaign %q is %s and a campaign is sent only once; create a new campaign with the same template and audience to send it again", id, c.Status)
	}
	// The sender and segments may have changed since the campaign was stored.
	p, err := e.validateCampaign(&c.Campaign)
	if err != nil {
		return nil, err
	}
	c.StopAt = stopAt
	c.ScheduledFor = schedFor
	c.UpdatedAt = e.nowMicros()
	if schedFor > now.UnixNano() {
		c.Status = storage.CampaignScheduled
		tx := e.NewTx()
		tx.B.PutCampaign(&c.Campaign)
		if err := e.Commit(tx); err != nil {
			return nil, fmt.Errorf("cannot schedule campaign %q: %w", id, err)
		}
		e.scheduleCampaign(id, schedFor, stopAt)
		return c, e.loadCampaignRefs(c)
	}
	if err := e.checkCapacityLeft(); err != nil {
		return nil, err
	}
	if err := e.beginCampaignLocked(c, p); err != nil {
		return nil, err
	}
	return c, e.loadCampaignRefs(c)
}

// beginCampaignLocked moves c, validated into p, to in_progress (stats_started_at, its segments
// locked, campaign.started, all in one Tx) and launches its fan-out, which reuses p. The caller
// holds c's campaign lock.
func (e *Engine) beginCampaignLocked(c *Campaign, p *campaignPlan) error {
	now := e.nowMicros()
	c.Status = storage.CampaignInProgress
	c.UpdatedAt = now
	c.Run = storage.CampaignRun{Kind: c.Audience, StartedAt: now}
	tx := e.NewTx()
	for _, s := range p.segs {
		tx.B.LockSegment(s.ID, c.ID)
	}
	tx.B.PutCampaign(&c.Campaign)
	tx.B.PutCampaignRun(c.ID, &c.Run)
	if err := e.emitCampaignEvent(tx, "campaign.started", c); err != nil {
		tx.Discard()
		return err
	}
	if err := e.Commit(tx); err != nil {
		return fmt.Errorf("cannot start campaign %q: %w", c.ID, err)
	}
	if c.StopAt != 0 {
		e.scheduleCampaign(c.ID, 0, c.StopAt)
	} else {
		e.unscheduleCampaign(c.ID)
	}
	cs := &e.campaigns
	cs.mu.Lock()
	if cs.plans == nil {
		cs.plans = make(map[string]*campaignPlan)
	}
	cs.plans[c.ID] = p
	cs.mu.Unlock()
	e.log.Info("campaign started", "campaign", c.ID, "name", c.Name, "sender", c.SenderID)
	e.launchFanout(c.ID)
	return nil
}

// runPlan returns the plan of running campaign c for its fan-out: the one its start resolved when
// it started in this process, else (a run resumed after a restart) a new one.
func (e *Engine) runPlan(c *storage.Campaign) (*campaignPlan, error) {
	cs := &e.campaigns
	cs.mu.Lock()
	p := cs.plans[c.ID]
	cs.mu.Unlock()
	if p != nil {
		return p, nil
	}
	return e.planCampaign(c)
}

// releaseCampaign releases, in tx, what running campaign c holds: its segment locks; and forgets
// its plan. Every end of a run (stop, completion) calls it.
func (e *Engine) releaseCampaign(tx *Tx, c *Campaign) {
	e.UnlockSegments(tx, c.SegmentIDs, c.ID)
	cs := &e.campaigns
	cs.mu.Lock()
	delete(cs.plans, c.ID)
	cs.mu.Unlock()
}

// campaignAudienceParts is resolveCampaignAudience without the user scan (audienceParts), and an
// estimate of the audience's size (its segments' sizes, or its user_ids) for the stats until the
// scan ended.
func (e *Engine) campaignAudienceParts(c *storage.Campaign) (*audienceParts, storage.AudienceKind, uint64, error) {
	p, err := e.runPlan(c)
	if err != nil {
		return nil, 0, 0, err
	}
	a, err := e.audienceParts(p.segs, p.kind, c.UserIDs, c.SenderID)
	if err != nil {
		return nil, 0, 0, err
	}
	estimate := uint64(len(c.UserIDs))
	for _, s := range p.segs {
		estimate += s.Size
	}
	return a, p.kind, max(estimate, a.base.Cardinality()), nil
}

// resolveCampaignAudience computes c's audience now (audience.go ResolveAudience) from the
// segments of its plan, or its user_ids, without the sender and duplicates.
func (e *Engine) resolveCampaignAudience(c *storage.Campaign) (*bitmap.Bitmap, storage.AudienceKind, error) {
	p, err := e.runPlan(c)
	if err != nil {
		return nil, 0, err
	}
	aud, err := e.resolveAudience(p.segs, p.kind, c.UserIDs, c.SenderID)
	return aud, p.kind, err
}

// StopCampaign stops a scheduled or running campaign. No fan-out chunk commits after it returns.
// Stopping a stopped campaign returns it unchanged.
func (e *Engine) StopCampaign(id string) (*Campaign, error) {
	c, unlock, err := e.lockedCampaign(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	switch c.Status {
	case storage.CampaignStopped:
		return c, e.loadCampaignRefs(c)
	case storage.CampaignScheduled, storage.CampaignInProgress:
	default:
		return nil, InputError("status", "campaign %q is %s; only scheduled and in_progress campaigns can be stopped", id, c.Status)
	}
	if err := e.stopCampaignLocked(c, storage.StopManual); err != nil {
		return nil, err
	}
	return c, nil // loaded by the campaign.stopped event
}

// stopCampaignLocked writes c as stopped with a campaign.stopped event and tells its fan-out to
// end. The caller holds c's campaign lock.
func (e *Engine) stopCampaignLocked(c *Campaign, reason string) error {
	wasRunning := c.Status == storage.CampaignInProgress
	c.Status = storage.CampaignStopped
	c.StopReason = reason
	c.UpdatedAt = e.nowMicros()
	tx := e.NewTx()
	if err := e.emitCampaignEvent(tx, "campaign.stopped", c); err != nil {
		tx.Discard()
		return err
	}
	tx.B.PutCampaign(&c.Campaign)
	if wasRunning {
		e.releaseCampaign(tx, c)
		if err := e.freezeForStopTx(tx, c.ID); err != nil {
			tx.Discard()
			return err
		}
		// NB: the event shows the run as stored (a fan-out that was still scanning its audience
		// just got its exact total).
		if _, err := storage.ReadCampaignRun(tx.B, c.ID, &c.Run); err != nil {
			tx.Discard()
			return err
		}
	}
	if err := e.Commit(tx); err != nil {
		return fmt.Errorf("cannot stop campaign %q: %w", c.ID, err)
	}
	e.unscheduleCampaign(c.ID)
	if wasRunning {
		run, _ := e.runSnapshot(c.ID)
		e.signalFanoutStop(c.ID)
		e.log.Info("campaign stopped", "campaign", c.ID, "sent", run.MessagesSent, "done", run.Done, "recipients", run.Total)
	} else {
		e.log.Info("campaign stopped before it started", "campaign", c.ID)
	}
	return nil
}

// DeleteCampaign stops campaign id if it runs, then removes it with its progress and frozen
// audience. Messages already sent stay.
func (e *Engine) DeleteCampaign(id string) error {
	c, unlock, err := e.lockedCampaign(id)
	if err != nil {
		return err
	}
	defer unlock()
	if c.Status == storage.CampaignInProgress || c.Status == storage.CampaignScheduled {
		if err := e.stopCampaignLocked(c, storage.StopManual); err != nil {
			return err
		}
	}
	reads := e.stopReads(id)
	tx := e.NewTx()
	tx.B.DeleteCampaign(id)
	if err := e.Commit(tx); err != nil {
		e.dropReads(id, reads, false)
		return fmt.Errorf("cannot delete campaign %q: %w", id, err)
	}
	e.dropReads(id, reads, true)
	e.unscheduleCampaign(id)
	return nil
}

// emitCampaignEvent emits a campaign.* event (Stream's shape: Encoder.AppendCampaignEvent)
// carrying the full campaign with its stats, sender and segments (loaded into c here). Its id is
// derived from the campaign and the type, so a replay produces the same id.
func (e *Engine) emitCampaignEvent(tx *Tx, typ string, c *Campaign) error {
	if err := e.loadCampaignRefs(c); err != nil {
		return err
	}
	tx.Emit(Event{
		ID:   derivedID(c.ID, typ, ""),
		Type: typ,
		Key:  c.ID,
		// NB: skip_webhook keeps the campaign's message and channel events off the webhook, not
		// its own: a backend needs to hear that its campaign started, stopped or completed.
		SkipPush: c.SkipPush,
		JSON:     e.enc.AppendCampaignEvent(nil, typ, e.Now(), c),
	})
	return nil
}
