package httpd

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/engine/outbox"
	"github.com/campaignd/campaignd/wire"
)

// dashboardCampaign is one campaign as the dashboard shows it.
type dashboardCampaign struct {
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	Status          string  `json:"status"`
	SenderID        string  `json:"sender_id"`
	Sent            uint64  `json:"sent"`
	ChannelsCreated uint64  `json:"channels_created"`
	Skipped         uint64  `json:"skipped"`
	Read            uint64  `json:"read"` // stats_users_read
	Done            uint64  `json:"done"`
	Total           uint64  `json:"total"`
	Progress        float64 `json:"progress"`
	StartedAt       string  `json:"started_at,omitempty"`
	CompletedAt     string  `json:"completed_at,omitempty"`
}

type dashboardSegment struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
	Size uint64 `json:"size"`
}

type dashboardDeadLetter struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
	DeadAt    string `json:"dead_at"`
}

type dashboardDeadLetters struct {
	Sink string `json:"sink"`
	// Count is the number stored, up to 1000 (More is set when there are more).
	Count int                   `json:"count"`
	More  bool                  `json:"more"`
	Items []dashboardDeadLetter `json:"items"`
}

type dashboardState struct {
	Now         string                 `json:"now"`
	Version     string                 `json:"version"`
	Campaigns   []dashboardCampaign    `json:"campaigns"`
	Segments    []dashboardSegment     `json:"segments"`
	Sinks       []outbox.SinkStatus    `json:"sinks"`
	DeadLetters []dashboardDeadLetters `json:"dead_letters"`
	// Rates are [unix seconds, messages sent in that second] over the last minutes.
	Rates [][2]int64 `json:"rates"`
}

func nanosTime(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339)
}

// dashboardState answers the page's poll: the newest 100 campaigns, 100 segments, the sinks, the
// dead letters and the send rate history.
func (s *Server) dashboardState(ctx *fasthttp.RequestCtx) {
	limit := engine.MaxCampaignsPerPage
	st := dashboardState{Now: time.Now().UTC().Format(time.RFC3339), Version: s.opts.Version,
		Campaigns: []dashboardCampaign{}, Segments: []dashboardSegment{}, Sinks: s.e.OutboxStatus(), DeadLetters: []dashboardDeadLetters{}}
	if st.Sinks == nil {
		st.Sinks = []outbox.SinkStatus{}
	}
	cp, err := s.e.QueryCampaigns(&engine.QueryParams{Limit: &limit})
	if err != nil {
		dashboardError(ctx, fasthttp.StatusInternalServerError, err.Error())
		return
	}
	for _, c := range cp.Campaigns {
		r := &c.Run
		progress := 0.0
		if r.Total > 0 {
			progress = float64(r.Done) / float64(r.Total)
		} else if c.Status == "completed" {
			progress = 1
		}
		st.Campaigns = append(st.Campaigns, dashboardCampaign{ID: c.ID, Name: c.Name, Status: c.Status, SenderID: c.SenderID,
			Sent: r.MessagesSent, ChannelsCreated: r.ChannelsCreated, Skipped: r.Skipped, Read: c.UsersRead, Done: r.Done, Total: r.Total,
			Progress: progress, StartedAt: nanosTime(r.StartedAt), CompletedAt: nanosTime(r.CompletedAt)})
	}
	segLimit := engine.MaxSegmentsQueryLimit
	sp, err := s.e.QuerySegments(&engine.QueryParams{Limit: &segLimit})
	if err != nil {
		dashboardError(ctx, fasthttp.StatusInternalServerError, err.Error())
		return
	}
	for _, sg := range sp.Segments {
		st.Segments = append(st.Segments, dashboardSegment{ID: sg.ID, Name: sg.Name, Type: sg.Type, Size: sg.Size})
	}
	for _, sink := range []string{outbox.SinkWebhook, outbox.SinkKafka, outbox.SinkPush} {
		dls, err := s.e.DeadLetters(sink, 0, 1000)
		if err != nil {
			dashboardError(ctx, fasthttp.StatusInternalServerError, err.Error())
			return
		}
		d := dashboardDeadLetters{Sink: sink, Count: len(dls), More: len(dls) == 1000, Items: []dashboardDeadLetter{}}
		for i := range dls[:min(len(dls), 20)] {
			dl := &dls[i]
			d.Items = append(d.Items, dashboardDeadLetter{ID: dl.Event.ID, Type: dl.Event.Type, Attempts: dl.Attempts,
				LastError: dl.LastError, DeadAt: dl.DeadAt.UTC().Format(time.RFC3339)})
		}
		st.DeadLetters = append(st.DeadLetters, d)
	}
	for _, r := range s.e.SendRates() {
		st.Rates = append(st.Rates, [2]int64{r.Time.Unix(), int64(r.Sent)})
	}
	if st.Rates == nil {
		st.Rates = [][2]int64{}
	}
	dashboardJSON(ctx, &st)
}

// dashboardCampaignAction starts or stops a campaign ({"id"}), answering the campaign's status or
// the engine's error message.
func (s *Server) dashboardCampaignAction(ctx *fasthttp.RequestCtx, action string) {
	var req struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil || req.ID == "" {
		dashboardError(ctx, fasthttp.StatusBadRequest, `send {"id": "<campaign id>"}`)
		return
	}
	var c *engine.Campaign
	var err error
	if action == "start" {
		c, err = s.e.StartCampaign(req.ID, &engine.StartOptions{})
	} else {
		c, err = s.e.StopCampaign(req.ID)
	}
	if err != nil {
		s.dashboardEngineError(ctx, err)
		return
	}
	s.log.Info("dashboard campaign action", "action", action, "campaign", req.ID, "status", c.Status)
	dashboardJSON(ctx, map[string]string{"id": c.ID, "status": c.Status})
}

// dashboardReplay replays a sink's dead letters ({"sink"}).
func (s *Server) dashboardReplay(ctx *fasthttp.RequestCtx) {
	var req struct {
		Sink string `json:"sink"`
	}
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil || req.Sink == "" {
		dashboardError(ctx, fasthttp.StatusBadRequest, `send {"sink": "webhook"}`)
		return
	}
	res, err := s.e.ReplayDeadLetters(ctx, req.Sink, nil)
	if err != nil {
		s.dashboardEngineError(ctx, err)
		return
	}
	dashboardJSON(ctx, map[string]int{"replayed": res.Replayed, "delivered": res.Delivered, "failed": res.Failed})
}

func (s *Server) dashboardEngineError(ctx *fasthttp.RequestCtx, err error) {
	var e *engine.Error
	if errors.As(err, &e) {
		status := e.Status
		if status == 0 {
			status = wire.HTTPStatus(e.Code)
		}
		dashboardError(ctx, status, e.Msg)
		return
	}
	s.log.Error("dashboard action failed", "err", err)
	dashboardError(ctx, fasthttp.StatusInternalServerError, err.Error())
}
