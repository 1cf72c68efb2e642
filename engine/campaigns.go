package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

// Campaigns (one file per concern): campaigns_input.go decodes, merges and validates a request into
// a campaignPlan, campaigns_lifecycle.go changes the status (create, update, start, stop, delete and
// the campaign.* events), campaigns_query.go lists campaigns and pages a campaign's users,
// wire encodes a Campaign; fanout.go sends, scheduler.go keeps the times.

// Campaign limits (Stream's: segments, user ids, members and attachments per campaign).
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

// campaignsState is the engine's state for campaigns, the scheduler and the fan-out.
type campaignsState struct {
	// locks serialise the state changes of one campaign (by id): create, update, start, stop,
	// delete, and the commit of each fan-out chunk.
	locks recordLocks
	// mu guards runs, sched and plans. It is a leaf: nothing else is locked while holding it.
	mu sync.Mutex
	// runs are the fan-outs in progress, by campaign id.
	runs map[string]*campaignRun
	// sched holds the pending scheduled_for / stop_at times (scheduler.go).
	sched schedule
	// plans are the plans of the campaigns that started in this process and run (see runPlan).
	plans map[string]*campaignPlan
}

// lockCampaign locks campaign id's stripe (campaignsState.locks) and returns its unlock function.
func (e *Engine) lockCampaign(id string) func() { return e.campaigns.locks.lockID(id) }

// Campaign is a campaign with its progress and what its replies and events show of it. Every
// method that returns a Campaign loads Sender and Segments (loadCampaignRefs); the engine's own
// reads for sending do not.
type Campaign struct {
	storage.Campaign
	Run storage.CampaignRun
	// Sender is the sender's record; nil when the sender no longer exists.
	Sender *storage.User
	// Segments are the segments of SegmentIDs that still exist, in order.
	Segments []*Segment
	// UsersRead is stats_users_read: the recipients who read the campaign's message
	// (campaignreads.go).
	UsersRead uint64
}

// Progress returns the share of c's audience done: 1 once completed, 0 before the audience is
// frozen.
func (c *Campaign) Progress() float64 {
	switch {
	case c.Status == storage.CampaignCompleted:
		return 1
	case c.Run.Total > 0:
		return float64(c.Run.Done) / float64(c.Run.Total)
	}
	return 0
}

// loadCampaignRefs loads c.Sender, c.Segments and c.UsersRead.
func (e *Engine) loadCampaignRefs(c *Campaign) error {
	n, err := e.usersRead(c.ID)
	if err != nil {
		return err
	}
	c.UsersRead = n
	u, found, err := e.GetUser(c.SenderID)
	if err != nil {
		return fmt.Errorf("cannot read the sender of campaign %q: %w", c.ID, err)
	}
	c.Sender = nil
	if found {
		c.Sender = u
	}
	c.Segments = c.Segments[:0]
	for _, id := range c.SegmentIDs {
		s, err := e.GetSegment(id)
		if ae, ok := AsError(err); ok && ae.Code == CodeNotFound {
			continue // deleted since: the campaign shows the segments that exist
		}
		if err != nil {
			return fmt.Errorf("cannot read segment %q of campaign %q: %w", id, c.ID, err)
		}
		c.Segments = append(c.Segments, s)
	}
	return nil
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

// lockedCampaign takes campaign id's lock and reads it (a code-16 error for an unknown id, then
// nothing is held). On success the caller must call unlock.
func (e *Engine) lockedCampaign(id string) (c *Campaign, unlock func(), err error) {
	unlock = e.lockCampaign(id)
	if c, err = e.mustGetCampaign(id); err != nil {
		unlock()
		return nil, nil, err
	}
	return c, unlock, nil
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

// campaignMessageCustom returns the custom data of campaign id's messages: the members of
// message_template.custom (custom, a JSON object or empty) and "campaign_id".
func campaignMessageCustom(custom []byte, id string) []byte {
	var idJSON bytes.Buffer
	enc := json.NewEncoder(&idJSON)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(id); err != nil {
		panic(fmt.Sprintf("BUG: cannot encode the string %q: %s", id, err))
	}
	b := []byte{'{'}
	if m := filter.ObjectMembers(custom); m != nil {
		b = append(append(b, m...), ',')
	}
	b = append(b, `"campaign_id":`...)
	b = append(b, bytes.TrimSuffix(idJSON.Bytes(), []byte("\n"))...)
	return append(b, '}')
}

// idNamespace is the UUID namespace of ids derived from campaign data.
var idNamespace = uuid.MustParse("6f1c2d0e-7a43-4b9f-9a59-1f6c0de5a9b1")

// CampaignMessageID returns the id of the message campaign campaignID sends to recipient (a user
// id, or a cid for channel audiences): the same on every attempt, so a resumed fan-out cannot send
// it twice.
func CampaignMessageID(campaignID, recipient string) string {
	return derivedID(campaignID, "message", recipient)
}

// CampaignEventID returns the id of the event of type typ ("channel.created", "message.new") a
// campaign's fan-out produces for recipient (a user id, or a cid for channel audiences): the same
// on every delivery and every replay, so consumers dedupe on it.
func CampaignEventID(campaignID, typ, recipient string) string {
	return derivedID(campaignID, typ, recipient)
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
