package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/campaignd/campaignd/storage"
)

// CampaignInput is a campaign as POST /campaigns and PUT /campaigns/{id} give it (decoded by
// wire). A nil field was absent (or null): create uses the default, update keeps the stored value.
// Raw JSON fields are nil when absent and "null" when null (which clears them); wire compacts
// them.
type CampaignInput struct {
	ID               *string
	Name             *string
	Description      *string
	SenderID         *string
	SenderMode       *string
	SenderVisibility *string
	SegmentIDs       *[]string
	UserIDs          *[]string
	MessageTemplate  *MessageTemplateInput
	CreateChannels   *bool
	ShowChannels     *bool
	SkipPush         *bool
	SkipWebhook      *bool
	ChannelTemplate  *ChannelTemplateInput
	// MaxMessagesPerSecond is the extension max_messages_per_second (throttle.go); 0 = unthrottled.
	MaxMessagesPerSecond *int64
}

// MessageTemplateInput is message_template in a request.
type MessageTemplateInput struct {
	Text *string
	// Attachments is a raw JSON array, Custom a raw JSON object of the message's custom fields.
	Attachments json.RawMessage
	Custom      json.RawMessage
	PollID      *string
	Searchable  *bool
}

// ChannelTemplateInput is channel_template in a request.
type ChannelTemplateInput struct {
	Type            *string
	ID              *string
	Team            *string
	Members         *[]string
	MembersTemplate *[]MemberTemplateInput
	// Custom is a raw JSON object of the channel's custom fields.
	Custom json.RawMessage
}

// MemberTemplateInput is one channel_template.members_template entry.
type MemberTemplateInput struct {
	UserID      string
	ChannelRole string
	// Custom is a raw JSON object of the member's custom fields.
	Custom json.RawMessage
}

// setIfPresent copies *src into *dst when the request carried the field (src != nil).
func setIfPresent[T any](dst, src *T) {
	if src != nil {
		*dst = *src
	}
}

// setCloneIfPresent copies the slice *src into *dst when the request carried the field.
func setCloneIfPresent[T any](dst, src *[]T) {
	if src != nil {
		*dst = slices.Clone(*src)
	}
}

// apply merges in into c (absent fields keep c's values).
func (in *CampaignInput) apply(c *storage.Campaign) error {
	setIfPresent(&c.Name, in.Name)
	setIfPresent(&c.Description, in.Description)
	setIfPresent(&c.SenderID, in.SenderID)
	setIfPresent(&c.SenderMode, in.SenderMode)
	setIfPresent(&c.SenderVisibility, in.SenderVisibility)
	setCloneIfPresent(&c.SegmentIDs, in.SegmentIDs)
	setCloneIfPresent(&c.UserIDs, in.UserIDs)
	setIfPresent(&c.CreateChannels, in.CreateChannels)
	setIfPresent(&c.ShowChannels, in.ShowChannels)
	setIfPresent(&c.SkipPush, in.SkipPush)
	setIfPresent(&c.SkipWebhook, in.SkipWebhook)
	if v := in.MaxMessagesPerSecond; v != nil {
		if *v < 0 || *v > MaxMessagesPerSecond {
			return InputError("max_messages_per_second", "max_messages_per_second is %d; use 1 to %d messages per second, or 0 (or null) to send as fast as campaignd goes", *v, MaxMessagesPerSecond)
		}
		c.MaxPerSecond = uint32(*v)
	}
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
		if err := setJSONIfPresent(&m.Attachments, "message_template.attachments", mt.Attachments, '['); err != nil {
			return err
		}
		if err := setJSONIfPresent(&m.Custom, "message_template.custom", mt.Custom, '{'); err != nil {
			return err
		}
	}
	if ct := in.ChannelTemplate; ct != nil {
		c.HasChannel = true
		ch := &c.Channel
		setIfPresent(&ch.Type, ct.Type)
		setIfPresent(&ch.ID, ct.ID)
		setIfPresent(&ch.Team, ct.Team)
		setCloneIfPresent(&ch.Members, ct.Members)
		if ct.MembersTemplate != nil {
			ch.MembersTemplate = ch.MembersTemplate[:0]
			for i, mt := range *ct.MembersTemplate {
				custom, err := checkedJSON(fmt.Sprintf("channel_template.members_template[%d].custom", i), mt.Custom, '{')
				if err != nil {
					return err
				}
				ch.MembersTemplate = append(ch.MembersTemplate, storage.MemberTemplate{UserID: mt.UserID, ChannelRole: mt.ChannelRole, Custom: custom})
			}
			if len(ch.MembersTemplate) == 0 {
				ch.MembersTemplate = nil
			}
		}
		if err := setJSONIfPresent(&ch.Custom, "channel_template.custom", ct.Custom, '{'); err != nil {
			return err
		}
	}
	return nil
}

// setJSONIfPresent stores raw (checkedJSON) in *dst when the request carried it.
func setJSONIfPresent(dst *[]byte, field string, raw json.RawMessage, kind byte) error {
	if raw == nil {
		return nil
	}
	b, err := checkedJSON(field, raw, kind)
	if err != nil {
		return err
	}
	*dst = b
	return nil
}

// checkedJSON checks that raw is absent, null or a JSON value starting with kind ('{' or '[') and
// returns a copy of it (nil for absent, null or an empty container). raw should be compact, as
// wire decodes it; it is stored as given.
func checkedJSON(field string, raw json.RawMessage, kind byte) ([]byte, error) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	if !json.Valid(b) {
		return nil, InputError(field, "%s is not valid JSON", field)
	}
	if b[0] != kind {
		what := "an object"
		if kind == '[' {
			what = "an array"
		}
		return nil, InputError(field, "%s must be %s, not %s", field, what, b)
	}
	if len(b) == 2 {
		return nil, nil // an empty container
	}
	return bytes.Clone(b), nil
}

var channelTypeRE = regexp.MustCompile(`^[\w-]+$`)

// campaignPlan is what validating a campaign resolves for starting and sending it: its segment
// records, each read once, and its compiled templates. A plan is immutable once built; its
// templates are safe for concurrent use.
type campaignPlan struct {
	kind   storage.AudienceKind
	segs   []*storage.Segment // segment_ids' records, duplicates removed, in order
	text   *Template          // message_template.text, with the scopes of kind
	chanID *Template          // channel_template.id; nil when absent
}

// validateCampaign checks c (after create defaults or an update merge) against every rule of a
// campaign, returning the first failure as a code-4 *Error naming the field and the fix, and the
// plan it resolved. It sets c.Audience from the segments' type.
func (e *Engine) validateCampaign(c *storage.Campaign) (*campaignPlan, error) {
	if c.SenderID == "" {
		return nil, InputError("sender_id", "sender_id is required: name the existing user the campaign sends as")
	}
	if _, found, err := e.GetUser(c.SenderID); err != nil {
		return nil, err
	} else if !found {
		return nil, InputError("sender_id", "sender_id %q is not an existing user; create the user first (POST /users) or use another sender_id", c.SenderID)
	}
	switch c.SenderMode {
	case "", "exclude", "include":
	default:
		return nil, InputError("sender_mode", "sender_mode %q is not supported; use \"exclude\", \"include\" or null", c.SenderMode)
	}
	switch c.SenderVisibility {
	case "", "hidden", "archived":
	default:
		return nil, InputError("sender_visibility", "sender_visibility %q is not supported; use \"hidden\", \"archived\" or null", c.SenderVisibility)
	}
	hasSeg, hasUsers := len(c.SegmentIDs) > 0, len(c.UserIDs) > 0
	switch {
	case hasSeg && hasUsers:
		return nil, InputError("segment_ids", "give either segment_ids or user_ids, not both; for a bigger audience put the users in a segment")
	case !hasSeg && !hasUsers:
		return nil, InputError("segment_ids", "give the audience: segment_ids (up to %d segments) or user_ids (up to %d users)", MaxCampaignSegments, MaxCampaignUserIDs)
	case len(c.SegmentIDs) > MaxCampaignSegments:
		return nil, InputError("segment_ids", "segment_ids holds %d segments; the maximum is %d: merge segments", len(c.SegmentIDs), MaxCampaignSegments)
	case len(c.UserIDs) > MaxCampaignUserIDs:
		return nil, InputError("user_ids", "user_ids holds %d users; the maximum is %d: create a user segment for bigger campaigns", len(c.UserIDs), MaxCampaignUserIDs)
	}
	for i, id := range c.UserIDs {
		if err := CheckID(fmt.Sprintf("user_ids[%d]", i), id); err != nil {
			return nil, err
		}
	}
	if c.Message.Text == "" {
		return nil, InputError("message_template.text", "message_template.text is required: the text each receiver gets, e.g. \"Hello {{ receiver.name }}!\"")
	}
	p, err := e.planCampaign(c)
	if err != nil {
		return nil, err
	}
	c.Audience = p.kind
	if err := e.checkCampaignLimits(c, p.text); err != nil {
		return nil, err
	}
	if c.CreateChannels && c.Audience == storage.AudienceUsers && (!c.HasChannel || c.Channel.Type == "") {
		return nil, InputError("channel_template.type", "create_channels is true, so channel_template with a type is required, e.g. {\"type\": \"messaging\"}")
	}
	if !c.HasChannel {
		return p, nil
	}
	ch := &c.Channel
	if ch.Type != "" && (len(ch.Type) > MaxChannelTypeLength || !channelTypeRE.MatchString(ch.Type)) {
		return nil, InputError("channel_template.type", "channel_template.type %q is invalid; use 1 to %d letters, digits, _ or -", ch.Type, MaxChannelTypeLength)
	}
	if c.Audience == storage.AudienceUsers && ch.Type == "" {
		return nil, InputError("channel_template.type", "channel_template.type is required: the type of the channels the campaign writes to, e.g. \"messaging\"")
	}
	if ch.ID != "" {
		if err := checkChannelIDTemplate(ch.ID); err != nil {
			return nil, err
		}
	}
	if len(ch.Members) > 0 && len(ch.MembersTemplate) > 0 {
		// NB: Stream refuses both: members_template is members with roles and custom data.
		return nil, InputError("channel_template.members_template", "channel_template holds both members and members_template; send one of them (members_template entries may carry a channel_role and custom data)")
	}
	if len(ch.Members) > MaxCampaignMembers {
		return nil, InputError("channel_template.members", "channel_template.members holds %d users; the maximum is %d", len(ch.Members), MaxCampaignMembers)
	}
	if len(ch.MembersTemplate) > MaxCampaignMembers {
		return nil, InputError("channel_template.members_template", "channel_template.members_template holds %d entries; the maximum is %d", len(ch.MembersTemplate), MaxCampaignMembers)
	}
	for i, id := range ch.Members {
		if err := CheckID(fmt.Sprintf("channel_template.members[%d]", i), id); err != nil {
			return nil, err
		}
	}
	for i := range ch.MembersTemplate {
		if err := CheckID(fmt.Sprintf("channel_template.members_template[%d].user_id", i), ch.MembersTemplate[i].UserID); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// planCampaign resolves c's segments and compiles its templates: the part of validation that a
// fan-out resumed after a restart repeats (runPlan).
func (e *Engine) planCampaign(c *storage.Campaign) (*campaignPlan, error) {
	segs, kind, err := e.campaignSegments(c.SegmentIDs, len(c.UserIDs) > 0)
	if err != nil {
		return nil, err
	}
	p := &campaignPlan{kind: kind, segs: segs}
	scopes := ScopeSender | ScopeChannel
	if kind == storage.AudienceUsers {
		scopes |= ScopeReceiver
	}
	if p.text, err = CompileTemplate("message_template.text", c.Message.Text, scopes); err != nil {
		return nil, err
	}
	if c.HasChannel && c.Channel.ID != "" {
		if p.chanID, err = CompileTemplate("channel_template.id", c.Channel.ID, ScopeSender|ScopeReceiver); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// campaignSegments reads the segments ids name, once each, and returns them with the audience
// kind they target (users when withUsers: user_ids come too). A segment that does not exist or
// was deleted, or segments of both types, are a code-4 error naming segment_ids.
func (e *Engine) campaignSegments(ids []string, withUsers bool) ([]*storage.Segment, storage.AudienceKind, error) {
	kind := storage.AudienceUnknown
	if withUsers || len(ids) == 0 {
		kind = storage.AudienceUsers
	}
	segs := make([]*storage.Segment, 0, len(ids))
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			continue
		}
		s, found, err := readSegment(e.db, id)
		if err != nil {
			return nil, 0, err
		}
		if !found || s.DeletedAt != 0 {
			return nil, 0, InputError("segment_ids", "segment %q in segment_ids does not exist or was deleted; create it (POST /segments) or remove it from segment_ids", id)
		}
		k := storage.AudienceUsers
		if s.Type == storage.SegmentTypeChannel {
			k = storage.AudienceChannels
		}
		switch {
		case kind == storage.AudienceUnknown:
			kind = k
		case k != kind && withUsers:
			return nil, 0, InputError("segment_ids", "segment %q is a channel segment; it cannot be combined with user_ids", id)
		case k != kind:
			return nil, 0, InputError("segment_ids", "segment_ids mixes user and channel segments (%q and %q); a campaign targets either users or channels", segs[0].ID, id)
		}
		segs = append(segs, s)
	}
	return segs, kind, nil
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
