package engine

import (
	"fmt"
	"time"

	"github.com/campaignd/campaignd/storage"
)

// The scheduler starts campaigns at scheduled_for and stops them at stop_at. Both times live in
// the campaign record (Pebble), so they hold across restarts: at boot startCampaigns loads them,
// and the loop at once starts campaigns whose start time passed while campaignd was down and stops
// those whose stop time passed. The in-memory schedule is only an index of the stored times.

// schedule is the set of pending times, guarded by campaignsState.mu.
type schedule struct {
	items map[string]schedItem
	wake  chan struct{}
}

// schedItem holds the pending times of one campaign (unix nanos; 0 = none).
type schedItem struct {
	start int64
	stop  int64
}

// scheduleCampaign records that campaign id starts at start and stops at stop (0 = none) and
// wakes the loop. It replaces earlier times of id.
func (e *Engine) scheduleCampaign(id string, start, stop int64) {
	cs := &e.campaigns
	cs.mu.Lock()
	if cs.sched.items == nil {
		cs.sched.items = make(map[string]schedItem)
	}
	if start == 0 && stop == 0 {
		delete(cs.sched.items, id)
	} else {
		cs.sched.items[id] = schedItem{start: start, stop: stop}
	}
	cs.mu.Unlock()
	e.wakeScheduler()
}

// unscheduleCampaign forgets the pending times of id.
func (e *Engine) unscheduleCampaign(id string) {
	cs := &e.campaigns
	cs.mu.Lock()
	delete(cs.sched.items, id)
	cs.mu.Unlock()
}

func (e *Engine) wakeScheduler() {
	e.campaigns.mu.Lock()
	w := e.campaigns.sched.wake
	e.campaigns.mu.Unlock()
	if w == nil {
		return
	}
	select {
	case w <- struct{}{}:
	default:
	}
}

// startCampaigns loads the stored schedule, resumes in_progress campaigns from their cursor and
// starts the scheduler loop.
func (e *Engine) startCampaigns() error {
	cs := &e.campaigns
	cs.mu.Lock()
	cs.sched.wake = make(chan struct{}, 1)
	cs.mu.Unlock()

	var resume []string
	err := storage.ScanCampaigns(e.db, func(c *storage.Campaign) error {
		switch c.Status {
		case storage.CampaignScheduled:
			e.scheduleCampaign(c.ID, c.ScheduledFor, c.StopAt)
		case storage.CampaignInProgress:
			if c.StopAt != 0 {
				e.scheduleCampaign(c.ID, 0, c.StopAt)
			}
			resume = append(resume, c.ID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot load the campaigns' schedule: %w", err)
	}
	for _, id := range resume {
		e.log.Info("resuming campaign", "campaign", id)
		e.launchFanout(id)
	}
	e.goBackground(e.runScheduler)
	return nil
}

// runScheduler sleeps until the earliest pending time, then starts or stops what is due.
func (e *Engine) runScheduler(stop <-chan struct{}) {
	cs := &e.campaigns
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := e.Now().UnixNano()
		var dueStart, dueStop []string
		next := int64(0)
		cs.mu.Lock()
		for id, it := range cs.sched.items {
			switch {
			case it.stop != 0 && it.stop <= now:
				dueStop = append(dueStop, id)
			case it.start != 0 && it.start <= now:
				dueStart = append(dueStart, id)
			default:
				for _, t := range [2]int64{it.start, it.stop} {
					if t != 0 && (next == 0 || t < next) {
						next = t
					}
				}
			}
		}
		wake := cs.sched.wake
		cs.mu.Unlock()

		for _, id := range dueStop {
			e.stopDue(id)
		}
		for _, id := range dueStart {
			e.startDue(id)
		}
		if len(dueStop)+len(dueStart) > 0 {
			continue
		}
		wait := time.Hour
		if next != 0 {
			wait = time.Duration(next - now)
		}
		timer.Reset(wait)
		select {
		case <-stop:
			return
		case <-wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// startDue starts scheduled campaign id whose start time came. A campaign that can no longer start
// (its sender or a segment was deleted) is stopped and logged.
func (e *Engine) startDue(id string) {
	unlock := e.lockCampaign(id)
	defer unlock()
	c, found, err := e.getCampaign(id)
	if err != nil {
		e.log.Error("cannot read scheduled campaign", "campaign", id, "err", err)
		e.unscheduleCampaign(id)
		return
	}
	if !found || c.Status != storage.CampaignScheduled {
		e.unscheduleCampaign(id)
		return
	}
	if c.ScheduledFor > e.Now().UnixNano() {
		e.scheduleCampaign(id, c.ScheduledFor, c.StopAt) // rescheduled meanwhile
		return
	}
	p, err := e.validateCampaign(&c.Campaign)
	if err != nil {
		e.log.Error("scheduled campaign cannot start; stopping it", "campaign", id, "err", err)
		if err := e.stopCampaignLocked(c, storage.StopError); err != nil {
			e.log.Error("cannot stop campaign", "campaign", id, "err", err)
		}
		return
	}
	if err := e.beginCampaignLocked(c, p); err != nil {
		e.log.Error("cannot start scheduled campaign", "campaign", id, "err", err)
		e.unscheduleCampaign(id)
		return
	}
	e.log.Info("started scheduled campaign", "campaign", id)
}

// stopDue stops campaign id whose stop_at came.
func (e *Engine) stopDue(id string) {
	unlock := e.lockCampaign(id)
	defer unlock()
	e.unscheduleCampaign(id)
	c, found, err := e.getCampaign(id)
	if err != nil {
		e.log.Error("cannot read campaign to stop", "campaign", id, "err", err)
		return
	}
	if !found || (c.Status != storage.CampaignScheduled && c.Status != storage.CampaignInProgress) {
		return
	}
	if c.StopAt == 0 || c.StopAt > e.Now().UnixNano() {
		e.scheduleCampaign(id, 0, c.StopAt)
		return
	}
	if err := e.stopCampaignLocked(c, storage.StopAt); err != nil {
		e.log.Error("cannot stop campaign at stop_at", "campaign", id, "err", err)
		return
	}
	e.log.Info("stopped campaign at stop_at", "campaign", id)
}
