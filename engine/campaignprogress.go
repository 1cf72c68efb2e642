package engine

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/campaignd/campaignd/storage"
)

// Campaign progress: the fan-out reports each committed chunk here (chunkCommitted), which
// feeds the process-wide counters, the per-running-campaign gauges of /metrics and the progress
// log line written every ProgressLogInterval.

// ProgressLogInterval is how often a running campaign logs its progress.
const ProgressLogInterval = 5 * time.Second

var (
	campaignMessagesSent    = metrics.NewCounter(`campaignd_campaign_messages_sent_total`)
	campaignChannelsCreated = metrics.NewCounter(`campaignd_campaign_channels_created_total`)
	campaignSkipped         = metrics.NewCounter(`campaignd_campaign_recipients_skipped_total`)
	campaignChunks          = metrics.NewCounter(`campaignd_campaign_chunks_committed_total`)
)

// runProgress is what this process knows of one running fan-out. Its fields are guarded by mu.
type runProgress struct {
	mu sync.Mutex
	// run is the last committed run record (stats, done, total).
	run storage.CampaignRun
	// began is when this process started or resumed the run, with began's run.Done.
	began     time.Time
	beganDone uint64
	// lastLog is when progress was last logged, with that time's run.Done.
	lastLog     time.Time
	lastLogDone uint64
}

// noteRunStart records the run record a fan-out starts (or resumes) from and logs it.
func (e *Engine) noteRunStart(id string, r *campaignRun, run *storage.CampaignRun) {
	now := time.Now()
	p := &r.progress
	p.mu.Lock()
	p.run, p.began, p.beganDone, p.lastLog, p.lastLogDone = *run, now, run.Done, now, run.Done
	p.mu.Unlock()
	// NB: an audience found by a user scan is sent while the scan goes: until it is frozen, Total
	// is the scan's estimate.
	if run.Done > 0 {
		e.log.Info("campaign resumed", "campaign", id, "recipients", run.Total, "exact", run.Frozen, "done", run.Done, "sent", run.MessagesSent)
	} else {
		e.log.Info("campaign sending", "campaign", id, "recipients", run.Total, "exact", run.Frozen)
	}
}

// chunkCommitted records that the chunk taking the run from prev to cur is durable: it counts the
// chunk's sends and logs the progress when ProgressLogInterval passed since the last line.
func (e *Engine) chunkCommitted(id string, r *campaignRun, prev, cur *storage.CampaignRun) {
	campaignChunks.Inc()
	e.rates.sent.Add(cur.MessagesSent - prev.MessagesSent)
	campaignMessagesSent.AddInt64(int64(cur.MessagesSent - prev.MessagesSent))
	campaignChannelsCreated.AddInt64(int64(cur.ChannelsCreated - prev.ChannelsCreated))
	campaignSkipped.AddInt64(int64(cur.Skipped - prev.Skipped))

	now := time.Now()
	p := &r.progress
	p.mu.Lock()
	p.run = *cur
	due := now.Sub(p.lastLog) >= ProgressLogInterval && cur.Done < cur.Total
	var rate float64
	if due {
		rate = float64(cur.Done-p.lastLogDone) / now.Sub(p.lastLog).Seconds()
		p.lastLog, p.lastLogDone = now, cur.Done
	}
	p.mu.Unlock()
	if !due {
		return
	}
	args := []any{"campaign", id, "sent", cur.MessagesSent, "done", cur.Done, "recipients", cur.Total,
		"progress", fmt.Sprintf("%.1f%%", 100*progressOf(cur)), "rate", fmt.Sprintf("%.0f/s", rate)}
	if rate > 0 {
		args = append(args, "eta", (time.Duration(float64(cur.Total-cur.Done) / rate * float64(time.Second))).Round(time.Second))
	}
	e.log.Info("campaign progress", args...)
}

// logRunCompleted logs a completed campaign with its duration (from stats_started_at, across
// restarts) and its mean send rate.
func (e *Engine) logRunCompleted(id string, run *storage.CampaignRun) {
	took := time.Duration(run.CompletedAt - run.StartedAt) // unix nanoseconds
	rate := 0.0
	if took > 0 {
		rate = float64(run.MessagesSent) / took.Seconds()
	}
	e.log.Info("campaign completed", "campaign", id, "sent", run.MessagesSent, "channels_created", run.ChannelsCreated,
		"skipped", run.Skipped, "recipients", run.Total, "took", took.Round(time.Millisecond), "rate", fmt.Sprintf("%.0f/s", rate))
}

// runSnapshot returns the last committed run record of campaign id's fan-out in this process.
func (e *Engine) runSnapshot(id string) (storage.CampaignRun, bool) {
	cs := &e.campaigns
	cs.mu.Lock()
	r := cs.runs[id]
	cs.mu.Unlock()
	if r == nil {
		return storage.CampaignRun{}, false
	}
	r.progress.mu.Lock()
	defer r.progress.mu.Unlock()
	return r.progress.run, true
}

// promLabelEscaper escapes a Prometheus label value: backslash, double quote and newline.
var promLabelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func progressOf(run *storage.CampaignRun) float64 {
	if run.Total == 0 {
		return 1
	}
	return float64(run.Done) / float64(run.Total)
}

// writeCampaignMetrics writes the campaigns by status and, per running campaign, its progress.
func (e *Engine) writeCampaignMetrics(w io.Writer) {
	counts := map[string]uint64{storage.CampaignDraft: 0, storage.CampaignScheduled: 0, storage.CampaignInProgress: 0,
		storage.CampaignStopped: 0, storage.CampaignCompleted: 0}
	if err := storage.ScanCampaigns(e.db, func(c *storage.Campaign) error {
		counts[c.Status]++
		return nil
	}); err != nil {
		e.log.Warn("cannot count the campaigns for /metrics", "err", err)
	}
	statuses := make([]string, 0, len(counts))
	for s := range counts {
		statuses = append(statuses, s)
	}
	sort.Strings(statuses)
	metrics.WriteMetadataIfNeeded(w, "campaignd_campaigns", "gauge")
	for _, s := range statuses {
		fmt.Fprintf(w, "campaignd_campaigns{status=\"%s\"} %d\n", s, counts[s])
	}

	cs := &e.campaigns
	cs.mu.Lock()
	ids := make([]string, 0, len(cs.runs))
	for id := range cs.runs {
		ids = append(ids, id)
	}
	cs.mu.Unlock()
	sort.Strings(ids)
	runs := make([]storage.CampaignRun, 0, len(ids))
	for _, id := range ids {
		run, _ := e.runSnapshot(id)
		runs = append(runs, run)
	}
	gauge := func(name string, v func(run *storage.CampaignRun) string) {
		metrics.WriteMetadataIfNeeded(w, name, "gauge")
		for i, id := range ids {
			fmt.Fprintf(w, "%s{campaign=\"%s\"} %s\n", name, promLabelEscaper.Replace(id), v(&runs[i]))
		}
	}
	if len(ids) == 0 {
		return
	}
	gauge("campaignd_campaign_progress_ratio", func(r *storage.CampaignRun) string { return fmt.Sprintf("%g", progressOf(r)) })
	gauge("campaignd_campaign_recipients", func(r *storage.CampaignRun) string { return fmt.Sprint(r.Total) })
	gauge("campaignd_campaign_recipients_done", func(r *storage.CampaignRun) string { return fmt.Sprint(r.Done) })
	gauge("campaignd_campaign_messages_sent", func(r *storage.CampaignRun) string { return fmt.Sprint(r.MessagesSent) })
}
