package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/campaignd/campaignd/bitmap"
	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

// Campaign limits (seed "Creating a Campaign", wire spec §6.1, issue #4).
const (
	MaxCampaignSegments     = 25
	MaxCampaignUserIDs      = 1000
	MaxCampaignMembers      = 1000
	MaxCampaignAttachments  = MaxMessageAttachments
	MaxCampaignsPerPage     = 100
	DefaultCampaignsPerPage = 10
	MaxCampaignUsersPerPage = 1000
	// DefaultCampaignUsersPerPage is the users page size of GET /campaigns/{id} without limit.
	DefaultCampaignUsersPerPage = 10
)

// ErrCampaignNotFound is returned (wrapped in a code-16 *Error) for unknown campaign ids.
var ErrCampaignNotFound = errors.New("engine: campaign not found")

// campaignsState is the engine's state for campaigns, the scheduler and the fan-out.
type campaignsState struct {
	// locks serialise the state changes of one campaign (by id): create, update, start, stop,
	// delete, and the commit of each fan-out chunk.
	locks recordLocks
	// mu guards runs and sched. It is a leaf: nothing else is locked while holding it.
	mu sync.Mutex
	// runs are the fan-outs in progress, by campaign id.
	runs map[string]*campaignRun
	// sched holds the pending scheduled_for / stop_at times (scheduler.go).
	sched schedule
}

// lockCampaign locks campaign id's stripe (campaignsState.locks) and returns its unlock function.
func (e *Engine) lockCampaign(id string) func() { return e.campaigns.locks.lockID(id) }

// CampaignInput is a create or update request (wire spec §6.1). Absent (or null) fields are nil:
// create uses defaults, update keeps the stored value.
type CampaignInput struct {
	ID               *string               `json:"id"`
	Name             *string               `json:"name"`
	Description      *string               `json:"description"`
	SenderID         *string               `json:"sender_id"`
	SenderMode       *string               `json:"sender_mode"`
	SenderVisibility *string               `json:"sender_visibility"`
	SegmentIDs       *[]string             `json:"segment_ids"`
	UserIDs          *[]string             `json:"user_ids"`
	MessageTemplate  *MessageTemplateInput `json:"message_template"`
	CreateChannels   *bool                 `json:"create_channels"`
	ShowChannels     *bool                 `json:"show_channels"`
	SkipPush         *bool                 `json:"skip_push"`
	SkipWebhook      *bool                 `json:"skip_webhook"`
	ChannelTemplate  *ChannelTemplateInput `json:"channel_template"`
}

// MessageTemplateInput is message_template in a request.
type MessageTemplateInput struct {
	Text        *string         `json:"text"`
	Attachments json.RawMessage `json:"attachments"`
	Custom      json.RawMessage `json:"custom"`
	PollID      *string         `json:"poll_id"`
	Searchable  *bool           `json:"searchable"`
}

// ChannelTemplateInput is channel_template in a request.
type ChannelTemplateInput struct {
	Type            *string                `json:"type"`
	ID              *string                `json:"id"`
	Team            *string                `json:"team"`
	Members         *[]string              `json:"members"`
	MembersTemplate *[]MemberTemplateInput `json:"members_template"`
	Custom          json.RawMessage        `json:"custom"`
}

// MemberTemplateInput is one channel_template.members_template entry.
type MemberTemplateInput struct {
	UserID      string          `json:"user_id"`
	ChannelRole string          `json:"channel_role"`
	Custom      json.RawMessage `json:"custom"`
}

// setIfPresent copies *src into *dst when the request carried the field (src != nil).
func setIfPresent[T any](dst, src *T) {
	if src != nil {
		*dst = *src
	}
}

// apply merges in into c (absent fields keep c's values).
func (in *CampaignInput) apply(c *storage.Campaign) error {
	setIfPresent(&c.Name, in.Name)
	setIfPresent(&c.Description, in.Description)
	setIfPresent(&c.SenderID, in.SenderID)
	setIfPresent(&c.SenderMode, in.SenderMode)
	setIfPresent(&c.SenderVisibility, in.SenderVisibility)
	if in.SegmentIDs != nil {
		c.SegmentIDs = slices.Clone(*in.SegmentIDs)
	}
	if in.UserIDs != nil {
		c.UserIDs = slices.Clone(*in.UserIDs)
	}
	setIfPresent(&c.CreateChannels, in.CreateChannels)
	setIfPresent(&c.ShowChannels, in.ShowChannels)
	setIfPresent(&c.SkipPush, in.SkipPush)
	setIfPresent(&c.SkipWebhook, in.SkipWebhook)
	if mt := in.MessageTemplate; mt != nil {
		m := &c.Message
		setIfPresent(&m.Text, mt.Text)
		setIfPresent(&m.PollID, mt.PollID)
		if mt.Searchable != nil {
			m.Searchable = 1
			if *mt.Searchable {
				m.Searchable = 2
			}
		}
		if mt.Attachments != nil {
			raw, err := compactJSON("message_template.attachments", mt.Attachments, '[')
			if err != nil {
				return err
			}
			m.Attachments = raw
		}
		if mt.Custom != nil {
			raw, err := compactJSON("message_template.custom", mt.Custom, '{')
			if err != nil {
				return err
			}
			m.Custom = raw
		}
	}
	if ct := in.ChannelTemplate; ct != nil {
		c.HasChannel = true
		ch := &c.Channel
		setIfPresent(&ch.Type, ct.Type)
		setIfPresent(&ch.ID, ct.ID)
		setIfPresent(&ch.Team, ct.Team)
		if ct.Members != nil {
			ch.Members = slices.Clone(*ct.Members)
		}
		if ct.MembersTemplate != nil {
			ch.MembersTemplate = ch.MembersTemplate[:0]
			for i, mt := range *ct.MembersTemplate {
				custom, err := compactJSON(fmt.Sprintf("channel_template.members_template[%d].custom", i), mt.Custom, '{')
				if err != nil {
					return err
				}
				ch.MembersTemplate = append(ch.MembersTemplate, storage.MemberTemplate{UserID: mt.UserID, ChannelRole: mt.ChannelRole, Custom: custom})
			}
			if len(ch.MembersTemplate) == 0 {
				ch.MembersTemplate = nil
			}
		}
		if ct.Custom != nil {
			raw, err := compactJSON("channel_template.custom", ct.Custom, '{')
			if err != nil {
				return err
			}
			ch.Custom = raw
		}
	}
	return nil
}

// compactJSON checks that raw is null or a JSON value starting with kind ('{' or '[') and returns it
// compacted (nil for null or an empty container).
func compactJSON(field string, raw json.RawMessage, kind byte) ([]byte, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var buf []byte
	b, err := appendCompactJSON(buf, raw)
	if err != nil {
		return nil, InputError(field, "%s is not valid JSON: %s", field, err)
	}
	if string(b) == "null" {
		return nil, nil
	}
	if len(b) == 0 || b[0] != kind {
		what := "an object"
		if kind == '[' {
			what = "an array"
		}
		return nil, InputError(field, "%s must be %s, not %s", field, what, b)
	}
	if len(b) == 2 {
		return nil, nil
	}
	return b, nil
}

func appendCompactJSON(dst []byte, raw []byte) ([]byte, error) {
	var v json.RawMessage
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v) // json.RawMessage marshals compacted
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

var channelTypeRE = regexp.MustCompile(`^[\w-]+$`)

// campaignTarget describes what segment_ids resolve to.
type campaignSegment struct {
	ID      string
	Channel bool // a channel segment
}

// validateCampaign checks c (after create defaults or an update merge) against every rule of
// issue #4 item 2, returning the first failure as a code-4 *Error naming the field and the fix. It
// sets c.Audience from the segments' type.
func (e *Engine) validateCampaign(c *storage.Campaign) error {
	if c.SenderID == "" {
		return InputError("sender_id", "sender_id is required: name the existing user the campaign sends as")
	}
	if _, found, err := e.GetUser(c.SenderID); err != nil {
		return err
	} else if !found {
		return InputError("sender_id", "sender_id %q is not an existing user; create the user first (POST /users) or use another sender_id", c.SenderID)
	}
	switch c.SenderMode {
	case "", "exclude", "include":
	default:
		return InputError("sender_mode", "sender_mode %q is not supported; use \"exclude\", \"include\" or null", c.SenderMode)
	}
	switch c.SenderVisibility {
	case "", "hidden", "archived":
	default:
		return InputError("sender_visibility", "sender_visibility %q is not supported; use \"hidden\", \"archived\" or null", c.SenderVisibility)
	}
	hasSeg, hasUsers := len(c.SegmentIDs) > 0, len(c.UserIDs) > 0
	switch {
	case hasSeg && hasUsers:
		return InputError("segment_ids", "give either segment_ids or user_ids, not both; for a bigger audience put the users in a segment")
	case !hasSeg && !hasUsers:
		return InputError("segment_ids", "give the audience: segment_ids (up to %d segments) or user_ids (up to %d users)", MaxCampaignSegments, MaxCampaignUserIDs)
	case len(c.SegmentIDs) > MaxCampaignSegments:
		return InputError("segment_ids", "segment_ids holds %d segments; the maximum is %d: merge segments", len(c.SegmentIDs), MaxCampaignSegments)
	case len(c.UserIDs) > MaxCampaignUserIDs:
		return InputError("user_ids", "user_ids holds %d users; the maximum is %d: create a user segment for bigger campaigns", len(c.UserIDs), MaxCampaignUserIDs)
	}
	for i, id := range c.UserIDs {
		if err := CheckID(fmt.Sprintf("user_ids[%d]", i), id); err != nil {
			return err
		}
	}
	c.Audience = storage.AudienceUsers
	if hasSeg {
		segs, err := e.campaignSegments(c.SegmentIDs)
		if err != nil {
			return err
		}
		for i := range segs {
			if segs[i].Channel != segs[0].Channel {
				return InputError("segment_ids", "segment_ids mixes user and channel segments (%q and %q); a campaign targets either users or channels", segs[0].ID, segs[i].ID)
			}
		}
		if segs[0].Channel {
			c.Audience = storage.AudienceChannels
		}
	}
	m := &c.Message
	if m.Text == "" {
		return InputError("message_template.text", "message_template.text is required: the text each receiver gets, e.g. \"Hello {{ receiver.name }}!\"")
	}
	scopes := ScopeSender | ScopeChannel
	if c.Audience == storage.AudienceUsers {
		scopes |= ScopeReceiver
	}
	if _, err := CompileTemplate("message_template.text", m.Text, scopes); err != nil {
		return err
	}
	if err := e.checkCampaignLimits(c); err != nil {
		return err
	}
	if c.CreateChannels && c.Audience == storage.AudienceUsers && (!c.HasChannel || c.Channel.Type == "") {
		return InputError("channel_template.type", "create_channels is true, so channel_template with a type is required, e.g. {\"type\": \"messaging\"}")
	}
	if c.HasChannel {
		ch := &c.Channel
		if ch.Type != "" && (len(ch.Type) > 64 || !channelTypeRE.MatchString(ch.Type)) {
			return InputError("channel_template.type", "channel_template.type %q is invalid; use 1 to 64 letters, digits, _ or -", ch.Type)
		}
		if c.Audience == storage.AudienceUsers && ch.Type == "" {
			return InputError("channel_template.type", "channel_template.type is required: the type of the channels the campaign writes to, e.g. \"messaging\"")
		}
		if ch.ID != "" {
			if _, err := CompileTemplate("channel_template.id", ch.ID, ScopeSender|ScopeReceiver); err != nil {
				return err
			}
			if err := checkChannelIDTemplate(ch.ID); err != nil {
				return err
			}
		}
		if len(ch.Members) > MaxCampaignMembers {
			return InputError("channel_template.members", "channel_template.members holds %d users; the maximum is %d", len(ch.Members), MaxCampaignMembers)
		}
		if len(ch.MembersTemplate) > MaxCampaignMembers {
			return InputError("channel_template.members_template", "channel_template.members_template holds %d entries; the maximum is %d", len(ch.MembersTemplate), MaxCampaignMembers)
		}
		for i, id := range ch.Members {
			if err := CheckID(fmt.Sprintf("channel_template.members[%d]", i), id); err != nil {
				return err
			}
		}
		for i := range ch.MembersTemplate {
			if err := CheckID(fmt.Sprintf("channel_template.members_template[%d].user_id", i), ch.MembersTemplate[i].UserID); err != nil {
				return err
			}
		}
	}
	return nil
}

// Campaign is a campaign with its progress, as read by GetCampaign and QueryCampaigns.
type Campaign struct {
	storage.Campaign
	Run storage.CampaignRun
}

func (c *Campaign) queryID() string { return c.ID }

// Field implements filter.Doc over filter.CampaignSchema.
func (c *Campaign) Field(name string) (filter.Value, bool) {
	switch name {
	case "id":
		return filter.StringValue(c.ID), true
	case "name":
		return filter.StringValue(c.Name), true
	case "sender_id":
		return filter.StringValue(c.SenderID), true
	case "status":
		return filter.StringValue(c.Status), true
	case "created_at":
		return filter.TimeValue(c.CreatedAt), true
	case "updated_at":
		return filter.TimeValue(c.UpdatedAt), true
	case "segments":
		return filter.ListValue(c.SegmentIDs), len(c.SegmentIDs) > 0
	}
	return filter.Value{}, false
}

// getCampaign reads campaign id and its run record. found is false for unknown ids.
func (e *Engine) getCampaign(id string) (*Campaign, bool, error) {
	c := &Campaign{}
	if found, err := storage.ReadCampaign(e.db, id, &c.Campaign); err != nil || !found {
		return nil, false, err
	}
	if _, err := storage.ReadCampaignRun(e.db, id, &c.Run); err != nil {
		return nil, false, err
	}
	return c, true, nil
}

func (e *Engine) mustGetCampaign(id string) (*Campaign, error) {
	c, found, err := e.getCampaign(id)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &Error{Code: CodeNotFound, Msg: fmt.Sprintf("campaign %q does not exist; check the id or create it with POST /campaigns", id)}
	}
	return c, nil
}

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
	now := e.nowNanos()
	c := &Campaign{Campaign: storage.Campaign{ID: id, Status: storage.CampaignDraft, CreatedAt: now, UpdatedAt: now}}
	if err := in.apply(&c.Campaign); err != nil {
		return nil, err
	}
	if err := e.validateCampaign(&c.Campaign); err != nil {
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
	return c, nil
}

// GetCampaign returns campaign id with its live stats, or a code-16 error.
func (e *Engine) GetCampaign(id string) (*Campaign, error) {
	return e.mustGetCampaign(id)
}

// UpdateCampaign merges in into a draft or scheduled campaign and validates the result.
func (e *Engine) UpdateCampaign(id string, in *CampaignInput) (*Campaign, error) {
	unlock := e.lockCampaign(id)
	defer unlock()
	c, err := e.mustGetCampaign(id)
	if err != nil {
		return nil, err
	}
	if c.Status != storage.CampaignDraft && c.Status != storage.CampaignScheduled {
		return nil, InputError("status", "campaign %q is %s; only draft and scheduled campaigns can be updated: create a new campaign instead", id, c.Status)
	}
	if in.ID != nil && *in.ID != "" && *in.ID != id {
		return nil, InputError("id", "the campaign id cannot be changed (%q in the body, %q in the path); create a new campaign instead", *in.ID, id)
	}
	if err := in.apply(&c.Campaign); err != nil {
		return nil, err
	}
	if err := e.validateCampaign(&c.Campaign); err != nil {
		return nil, err
	}
	c.UpdatedAt = e.nowNanos()
	tx := e.NewTx()
	tx.B.PutCampaign(&c.Campaign)
	if err := e.Commit(tx); err != nil {
		return nil, fmt.Errorf("cannot update campaign %q: %w", id, err)
	}
	return c, nil
}

// StartOptions are the optional times of POST /campaigns/{id}/start, RFC 3339 strings.
type StartOptions struct {
	ScheduledFor *string `json:"scheduled_for"`
	StopAt       *string `json:"stop_at"`
}

// StartCampaign starts campaign id now, or schedules it when scheduled_for is in the future. It
// answers at once: the audience is resolved and messages are sent in the background.
func (e *Engine) StartCampaign(id string, opts *StartOptions) (*Campaign, error) {
	now := e.Now()
	var schedFor, stopAt int64
	if opts.ScheduledFor != nil && *opts.ScheduledFor != "" {
		var err error
		if schedFor, err = ParseTime("scheduled_for", *opts.ScheduledFor); err != nil {
			return nil, err
		}
	}
	if opts.StopAt != nil && *opts.StopAt != "" {
		var err error
		if stopAt, err = ParseTime("stop_at", *opts.StopAt); err != nil {
			return nil, err
		}
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

	unlock := e.lockCampaign(id)
	defer unlock()
	c, err := e.mustGetCampaign(id)
	if err != nil {
		return nil, err
	}
	switch c.Status {
	case storage.CampaignDraft, storage.CampaignScheduled:
	default:
		return nil, InputError("status", "campaign %q is %s and a campaign is sent only once; create a new campaign with the same template and audience to send it again", id, c.Status)
	}
	// The sender and segments may have changed since the campaign was stored.
	if err := e.validateCampaign(&c.Campaign); err != nil {
		return nil, err
	}
	c.StopAt = stopAt
	c.ScheduledFor = schedFor
	c.UpdatedAt = e.nowNanos()
	if schedFor > now.UnixNano() {
		c.Status = storage.CampaignScheduled
		tx := e.NewTx()
		tx.B.PutCampaign(&c.Campaign)
		if err := e.Commit(tx); err != nil {
			return nil, fmt.Errorf("cannot schedule campaign %q: %w", id, err)
		}
		e.scheduleCampaign(id, schedFor, stopAt)
		return c, nil
	}
	if err := e.beginCampaignLocked(c); err != nil {
		return nil, err
	}
	return c, nil
}

// beginCampaignLocked moves c to in_progress (stats_started_at, campaign.started in the same Tx)
// and launches its fan-out. The caller holds c's campaign lock.
func (e *Engine) beginCampaignLocked(c *Campaign) error {
	now := e.nowNanos()
	c.Status = storage.CampaignInProgress
	c.UpdatedAt = now
	c.Run = storage.CampaignRun{Kind: c.Audience, StartedAt: now}
	tx := e.NewTx()
	if err := e.lockCampaignSegments(tx, c); err != nil {
		tx.Discard()
		return err
	}
	tx.B.PutCampaign(&c.Campaign)
	tx.B.PutCampaignRun(c.ID, &c.Run)
	e.emitCampaignEvent(tx, "campaign.started", c)
	if err := e.Commit(tx); err != nil {
		return fmt.Errorf("cannot start campaign %q: %w", c.ID, err)
	}
	if c.StopAt != 0 {
		e.scheduleCampaign(c.ID, 0, c.StopAt)
	} else {
		e.unscheduleCampaign(c.ID)
	}
	e.launchFanout(c.ID)
	return nil
}

// StopCampaign stops a scheduled or running campaign. No fan-out chunk commits after it returns.
// Stopping a stopped campaign returns it unchanged.
func (e *Engine) StopCampaign(id string) (*Campaign, error) {
	unlock := e.lockCampaign(id)
	defer unlock()
	c, err := e.mustGetCampaign(id)
	if err != nil {
		return nil, err
	}
	switch c.Status {
	case storage.CampaignStopped:
		return c, nil
	case storage.CampaignScheduled, storage.CampaignInProgress:
	default:
		return nil, InputError("status", "campaign %q is %s; only scheduled and in_progress campaigns can be stopped", id, c.Status)
	}
	if err := e.stopCampaignLocked(c); err != nil {
		return nil, err
	}
	return c, nil
}

// stopCampaignLocked writes c as stopped with a campaign.stopped event and tells its fan-out to
// end. The caller holds c's campaign lock.
func (e *Engine) stopCampaignLocked(c *Campaign) error {
	wasRunning := c.Status == storage.CampaignInProgress
	c.Status = storage.CampaignStopped
	c.UpdatedAt = e.nowNanos()
	tx := e.NewTx()
	tx.B.PutCampaign(&c.Campaign)
	if wasRunning {
		e.unlockCampaignSegments(tx, c)
	}
	e.emitCampaignEvent(tx, "campaign.stopped", c)
	if err := e.Commit(tx); err != nil {
		return fmt.Errorf("cannot stop campaign %q: %w", c.ID, err)
	}
	e.unscheduleCampaign(c.ID)
	if wasRunning {
		e.signalFanoutStop(c.ID)
	}
	return nil
}

// DeleteCampaign stops campaign id if it runs, then removes it with its progress and frozen
// audience. Messages already sent stay.
func (e *Engine) DeleteCampaign(id string) error {
	unlock := e.lockCampaign(id)
	defer unlock()
	c, err := e.mustGetCampaign(id)
	if err != nil {
		return err
	}
	if c.Status == storage.CampaignInProgress || c.Status == storage.CampaignScheduled {
		if err := e.stopCampaignLocked(c); err != nil {
			return err
		}
	}
	tx := e.NewTx()
	tx.B.DeleteCampaign(id)
	if err := e.Commit(tx); err != nil {
		return fmt.Errorf("cannot delete campaign %q: %w", id, err)
	}
	e.unscheduleCampaign(id)
	return nil
}

// CampaignsPage is one page of QueryCampaigns.
type CampaignsPage struct {
	Campaigns []*Campaign
	Next      string
	Prev      string
}

// QueryCampaigns returns one page of the campaigns matching q.Filter in q.Sort order (default:
// created_at descending), ties broken by id, each with its progress.
func (e *Engine) QueryCampaigns(q *QueryParams) (*CampaignsPage, error) {
	rq, err := parseRecordQuery(q, filter.CampaignSchema, DefaultCampaignsPerPage, MaxCampaignsPerPage)
	if err != nil {
		return nil, err
	}
	var all []*Campaign
	err = storage.ScanCampaigns(e.db, func(sc *storage.Campaign) error {
		if c := (&Campaign{Campaign: *sc}); rq.filter.Match(c) {
			all = append(all, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page := &CampaignsPage{}
	page.Campaigns, page.Next, page.Prev = pageOf(rq, all)
	for _, c := range page.Campaigns {
		if _, err := storage.ReadCampaignRun(e.db, c.ID, &c.Run); err != nil {
			return nil, err
		}
	}
	return page, nil
}

// CampaignUsersPage returns up to limit target users of c (its user_ids, or its frozen audience
// once started) after the cursor, as UserResponse JSON objects, with the neighbour cursors.
func (e *Engine) CampaignUsersPage(c *Campaign, limit int, next, prev string) (users [][]byte, nextCur, prevCur string, err error) {
	if limit < 0 || limit > MaxCampaignUsersPerPage {
		return nil, "", "", InputError("limit", "limit is %d; use 0 to %d", limit, MaxCampaignUsersPerPage)
	}
	if limit == 0 {
		return nil, "", "", nil
	}
	off, err := parseOffset(next, prev)
	if err != nil {
		return nil, "", "", err
	}
	var ords []uint32
	switch {
	case c.Run.Frozen && c.Run.Kind == storage.AudienceUsers:
		// NB: the page is cut from the frozen bitmap without materialising the whole audience.
		aud, err := bitmap.Load(e.db, storage.CampaignBits(c.ID))
		if err != nil {
			return nil, "", "", err
		}
		start, end, nextCur, prevCur := pageBounds(int(aud.Cardinality()), off, limit)
		pos := 0
		errDone := errors.New("done")
		err = aud.ForEachChunk(FanoutChunkSize, func(chunk []uint32) error {
			if pos+len(chunk) <= start {
				pos += len(chunk)
				return nil
			}
			for _, ord := range chunk {
				if pos >= end {
					return errDone
				}
				if pos >= start {
					ords = append(ords, ord)
				}
				pos++
			}
			return nil
		})
		if err != nil && err != errDone {
			return nil, "", "", err
		}
		users, err = e.usersJSON(ords)
		return users, nextCur, prevCur, err
	case len(c.UserIDs) > 0:
		for _, id := range c.UserIDs {
			if ord, ok := e.db.Users.Lookup(id); ok {
				ords = append(ords, ord)
			}
		}
	default:
		return nil, "", "", nil
	}
	start, end, nextCur, prevCur := pageBounds(len(ords), off, limit)
	users, err = e.usersJSON(ords[start:end])
	return users, nextCur, prevCur, err
}

// usersJSON returns the UserResponses of the live users among ords.
func (e *Engine) usersJSON(ords []uint32) ([][]byte, error) {
	var users [][]byte
	for _, ord := range ords {
		u, found, err := e.GetUserByOrdinal(ord)
		if err != nil {
			return nil, err
		}
		if found {
			users = append(users, AppendUserJSON(nil, u))
		}
	}
	return users, nil
}

// AppendCampaignJSON appends c as a CampaignResponse (wire spec §6.4) with users as its users
// page (each a UserResponse object).
func (e *Engine) AppendCampaignJSON(dst []byte, c *Campaign, users [][]byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, c.ID)
	dst = append(dst, `,"name":`...)
	dst = AppendJSONString(dst, c.Name)
	dst = append(dst, `,"description":`...)
	dst = AppendJSONString(dst, c.Description)
	dst = append(dst, `,"status":`...)
	dst = AppendJSONString(dst, c.Status)
	dst = append(dst, `,"sender_id":`...)
	dst = AppendJSONString(dst, c.SenderID)
	if u, found, err := e.GetUser(c.SenderID); err == nil && found {
		dst = append(dst, `,"sender":`...)
		dst = AppendUserJSON(dst, u)
	}
	dst = append(dst, `,"sender_mode":`...)
	dst = appendNullableString(dst, c.SenderMode)
	dst = append(dst, `,"sender_visibility":`...)
	dst = appendNullableString(dst, c.SenderVisibility)
	dst = append(dst, `,"segment_ids":`...)
	dst = appendStringArray(dst, c.SegmentIDs)
	dst = append(dst, `,"segments":`...)
	dst = e.appendCampaignSegmentsJSON(dst, c.SegmentIDs)
	dst = append(dst, `,"user_ids":`...)
	dst = appendStringArray(dst, c.UserIDs)
	dst = append(dst, `,"users":[`...)
	for i, u := range users {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, u...)
	}
	dst = append(dst, `],"message_template":`...)
	dst = appendMessageTemplateJSON(dst, &c.Message)
	if c.HasChannel {
		dst = append(dst, `,"channel_template":`...)
		dst = appendChannelTemplateJSON(dst, &c.Channel)
	}
	dst = append(dst, `,"create_channels":`...)
	dst = strconv.AppendBool(dst, c.CreateChannels)
	dst = append(dst, `,"show_channels":`...)
	dst = strconv.AppendBool(dst, c.ShowChannels)
	dst = append(dst, `,"skip_push":`...)
	dst = strconv.AppendBool(dst, c.SkipPush)
	dst = append(dst, `,"skip_webhook":`...)
	dst = strconv.AppendBool(dst, c.SkipWebhook)
	if c.ScheduledFor != 0 {
		dst = append(dst, `,"scheduled_for":`...)
		dst = AppendTime(dst, time.Unix(0, c.ScheduledFor))
	}
	if c.StopAt != 0 {
		dst = append(dst, `,"stop_at":`...)
		dst = AppendTime(dst, time.Unix(0, c.StopAt))
	}
	dst = append(dst, `,"created_at":`...)
	dst = AppendTime(dst, time.Unix(0, c.CreatedAt))
	dst = append(dst, `,"updated_at":`...)
	dst = AppendTime(dst, time.Unix(0, c.UpdatedAt))
	dst = append(dst, `,"stats":`...)
	dst = appendStatsJSON(dst, &c.Campaign, &c.Run)
	return append(dst, '}')
}

func appendStatsJSON(dst []byte, c *storage.Campaign, r *storage.CampaignRun) []byte {
	progress := 0.0
	switch {
	case c.Status == storage.CampaignCompleted:
		progress = 1
	case r.Total > 0:
		progress = float64(r.Done) / float64(r.Total)
	}
	dst = append(dst, `{"progress":`...)
	dst = strconv.AppendFloat(dst, progress, 'f', -1, 64)
	dst = append(dst, `,"stats_channels_created":`...)
	dst = strconv.AppendUint(dst, r.ChannelsCreated, 10)
	dst = append(dst, `,"stats_messages_sent":`...)
	dst = strconv.AppendUint(dst, r.MessagesSent, 10)
	dst = append(dst, `,"stats_users_sent":`...)
	dst = strconv.AppendUint(dst, r.UsersSent, 10)
	dst = append(dst, `,"stats_users_read":0`...)
	// NB: an extension: audience members that got no message (no channel and create_channels
	// false, deleted users, invalid rendered channel ids). Unknown keys are harmless to the SDK.
	dst = append(dst, `,"stats_targets_skipped":`...)
	dst = strconv.AppendUint(dst, r.Skipped, 10)
	if r.StartedAt != 0 {
		dst = append(dst, `,"stats_started_at":`...)
		dst = AppendTime(dst, time.Unix(0, r.StartedAt))
	}
	if r.CompletedAt != 0 {
		dst = append(dst, `,"stats_completed_at":`...)
		dst = AppendTime(dst, time.Unix(0, r.CompletedAt))
	}
	return append(dst, '}')
}

func appendMessageTemplateJSON(dst []byte, m *storage.MessageTemplate) []byte {
	dst = append(dst, `{"text":`...)
	dst = AppendJSONString(dst, m.Text)
	dst = append(dst, `,"attachments":`...)
	dst = appendRawOr(dst, m.Attachments, "[]")
	dst = append(dst, `,"custom":`...)
	dst = appendRawOr(dst, m.Custom, "{}")
	if m.PollID != "" {
		dst = append(dst, `,"poll_id":`...)
		dst = AppendJSONString(dst, m.PollID)
	}
	if m.Searchable != 0 {
		dst = append(dst, `,"searchable":`...)
		dst = strconv.AppendBool(dst, m.Searchable == 2)
	}
	return append(dst, '}')
}

func appendChannelTemplateJSON(dst []byte, ch *storage.ChannelTemplate) []byte {
	dst = append(dst, `{"type":`...)
	dst = AppendJSONString(dst, ch.Type)
	if ch.ID != "" {
		dst = append(dst, `,"id":`...)
		dst = AppendJSONString(dst, ch.ID)
	}
	if ch.Team != "" {
		dst = append(dst, `,"team":`...)
		dst = AppendJSONString(dst, ch.Team)
	}
	dst = append(dst, `,"members":`...)
	dst = appendStringArray(dst, ch.Members)
	dst = append(dst, `,"members_template":[`...)
	for i := range ch.MembersTemplate {
		mt := &ch.MembersTemplate[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"user_id":`...)
		dst = AppendJSONString(dst, mt.UserID)
		if mt.ChannelRole != "" {
			dst = append(dst, `,"channel_role":`...)
			dst = AppendJSONString(dst, mt.ChannelRole)
		}
		dst = append(dst, `,"custom":`...)
		dst = appendRawOr(dst, mt.Custom, "{}")
		dst = append(dst, '}')
	}
	dst = append(dst, `],"custom":`...)
	dst = appendRawOr(dst, ch.Custom, "{}")
	return append(dst, '}')
}

func appendRawOr(dst, raw []byte, empty string) []byte {
	if len(raw) == 0 {
		return append(dst, empty...)
	}
	return append(dst, raw...)
}

func appendNullableString(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return AppendJSONString(dst, s)
}

func appendStringArray(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, s)
	}
	return append(dst, ']')
}

// emitCampaignEvent emits a campaign.* event (wire spec §8.4) carrying the full campaign with its
// stats. Its id is derived from the campaign and the type, so a replay produces the same id.
func (e *Engine) emitCampaignEvent(tx *Tx, typ string, c *Campaign) {
	now := e.Now()
	b := append([]byte(nil), `{"type":`...)
	b = AppendJSONString(b, typ)
	b = append(b, `,"created_at":`...)
	b = AppendTime(b, now)
	b = append(b, `,"campaign":`...)
	b = e.AppendCampaignJSON(b, c, nil)
	b = append(b, '}')
	tx.Emit(Event{
		ID:          derivedID(c.ID, typ, ""),
		Type:        typ,
		Key:         c.ID,
		SkipWebhook: c.SkipWebhook,
		SkipPush:    c.SkipPush,
		JSON:        b,
	})
}

// idNamespace is the UUID namespace of ids derived from campaign data.
var idNamespace = uuid.MustParse("6f1c2d0e-7a43-4b9f-9a59-1f6c0de5a9b1")

// CampaignMessageID returns the id of the message campaign campaignID sends to recipient (a user
// id, or a cid for channel audiences): the same on every attempt, so a resumed fan-out cannot send
// it twice.
func CampaignMessageID(campaignID, recipient string) string {
	return derivedID(campaignID, "message", recipient)
}

// derivedID returns a UUID (v5) derived from a campaign id, a kind and a recipient, so that a
// replayed fan-out chunk writes the same message and event ids.
func derivedID(campaignID, kind, recipient string) string {
	b := make([]byte, 0, len(campaignID)+len(kind)+len(recipient)+2)
	b = append(b, campaignID...)
	b = append(b, 0)
	b = append(b, kind...)
	b = append(b, 0)
	b = append(b, recipient...)
	return uuid.NewSHA1(idNamespace, b).String()
}

func (e *Engine) nowNanos() int64 { return truncMicrosTime(e.Now()) }

func truncMicrosTime(t time.Time) int64 {
	n := t.UnixNano()
	return n - n%1000
}

// The audience side of campaigns: segment lookups, the frozen audience and segment locking.

// campaignSegments returns the segments ids name, failing with a code-4 error naming the first
// one that does not exist or is deleted.
func (e *Engine) campaignSegments(ids []string) ([]campaignSegment, error) {
	segs := make([]campaignSegment, 0, len(ids))
	for _, id := range ids {
		s, err := e.GetSegment(id)
		if err != nil {
			if ae, ok := AsError(err); ok && ae.Code == CodeNotFound {
				return nil, InputError("segment_ids", "segment %q in segment_ids does not exist or was deleted; create it (POST /segments) or remove it from segment_ids", id)
			}
			return nil, err
		}
		segs = append(segs, campaignSegment{ID: id, Channel: s.Type == "channel"})
	}
	return segs, nil
}

// appendCampaignSegmentsJSON appends the SegmentResponse array of ids (existing ones only).
func (e *Engine) appendCampaignSegmentsJSON(dst []byte, ids []string) []byte {
	dst = append(dst, '[')
	n := 0
	for _, id := range ids {
		s, err := e.GetSegment(id)
		if err != nil {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = AppendSegmentJSON(dst, s)
	}
	return append(dst, ']')
}

// lockCampaignSegments locks c's segments in tx while c runs (segments.go LockSegments).
func (e *Engine) lockCampaignSegments(tx *Tx, c *Campaign) error {
	return e.LockSegments(tx, c.SegmentIDs, c.ID)
}

// unlockCampaignSegments releases c's segments in tx.
func (e *Engine) unlockCampaignSegments(tx *Tx, c *Campaign) {
	e.UnlockSegments(tx, c.SegmentIDs, c.ID)
}

// resolveCampaignAudience computes c's audience now (audience.go ResolveAudience): the union of
// its segments or its user_ids, without the sender and duplicates.
func (e *Engine) resolveCampaignAudience(c *storage.Campaign) (*bitmap.Bitmap, storage.AudienceKind, error) {
	return e.ResolveAudience(c.SegmentIDs, c.UserIDs, c.SenderID)
}

// checkChannelIDTemplate refuses a channel_template.id whose text outside the tags could never
// render a valid channel id (CheckChannelID): in particular "!", which would let a campaign name
// distinct channels.
func checkChannelIDTemplate(src string) error {
	rest := src
	for rest != "" {
		lit := rest
		if i := strings.Index(rest, "{{"); i >= 0 {
			lit = rest[:i]
			j := strings.Index(rest[i:], "}}") // the template compiled, so the tag is closed
			rest = rest[i+j+2:]
		} else {
			rest = ""
		}
		for k := 0; k < len(lit); k++ {
			if c := lit[k]; !isWordByte(c) && c != '-' {
				return InputError("channel_template.id", "channel_template.id %q holds %q outside its tags; a channel id may only contain letters, digits, _ and -", src, c)
			}
		}
	}
	return nil
}
