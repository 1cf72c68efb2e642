package wire

import (
	"encoding/json"
	"fmt"

	"github.com/campaignd/campaignd/engine"
)

// Campaign request bodies. encoding/json decodes them (a null counts as absent); raw JSON fields
// come out compact, "null" when null.

type campaignBody struct {
	ID                   *string              `json:"id"`
	Name                 *string              `json:"name"`
	Description          *string              `json:"description"`
	SenderID             *string              `json:"sender_id"`
	SenderMode           *string              `json:"sender_mode"`
	SenderVisibility     *string              `json:"sender_visibility"`
	SegmentIDs           *[]string            `json:"segment_ids"`
	UserIDs              *[]string            `json:"user_ids"`
	MessageTemplate      *messageTemplateBody `json:"message_template"`
	CreateChannels       *bool                `json:"create_channels"`
	ShowChannels         *bool                `json:"show_channels"`
	SkipPush             *bool                `json:"skip_push"`
	SkipWebhook          *bool                `json:"skip_webhook"`
	ChannelTemplate      *channelTemplateBody `json:"channel_template"`
	MaxMessagesPerSecond *int64               `json:"max_messages_per_second"`
}

type messageTemplateBody struct {
	Text        *string         `json:"text"`
	Attachments json.RawMessage `json:"attachments"`
	Custom      json.RawMessage `json:"custom"`
	PollID      *string         `json:"poll_id"`
	Searchable  *bool           `json:"searchable"`
}

type channelTemplateBody struct {
	Type            *string               `json:"type"`
	ID              *string               `json:"id"`
	Team            *string               `json:"team"`
	Members         *[]string             `json:"members"`
	MembersTemplate *[]memberTemplateBody `json:"members_template"`
	Custom          json.RawMessage       `json:"custom"`
}

type memberTemplateBody struct {
	UserID      string          `json:"user_id"`
	ChannelRole string          `json:"channel_role"`
	Custom      json.RawMessage `json:"custom"`
}

// DecodeCampaign decodes the body of POST /campaigns and PUT /campaigns/{id}.
func (Legacy) DecodeCampaign(body []byte) (*engine.CampaignInput, error) {
	var b campaignBody
	if err := decodeBody(body, &b); err != nil {
		return nil, err
	}
	in := &engine.CampaignInput{
		ID: b.ID, Name: b.Name, Description: b.Description, SenderID: b.SenderID,
		SenderMode: b.SenderMode, SenderVisibility: b.SenderVisibility,
		SegmentIDs: b.SegmentIDs, UserIDs: b.UserIDs, CreateChannels: b.CreateChannels,
		ShowChannels: b.ShowChannels, SkipPush: b.SkipPush, SkipWebhook: b.SkipWebhook,
		MaxMessagesPerSecond: b.MaxMessagesPerSecond,
	}
	var err error
	if mt := b.MessageTemplate; mt != nil {
		m := &engine.MessageTemplateInput{Text: mt.Text, PollID: mt.PollID, Searchable: mt.Searchable}
		if m.Attachments, err = compactRaw("message_template.attachments", mt.Attachments); err != nil {
			return nil, err
		}
		if m.Custom, err = compactRaw("message_template.custom", mt.Custom); err != nil {
			return nil, err
		}
		in.MessageTemplate = m
	}
	if ct := b.ChannelTemplate; ct != nil {
		c := &engine.ChannelTemplateInput{Type: ct.Type, ID: ct.ID, Team: ct.Team, Members: ct.Members}
		if c.Custom, err = compactRaw("channel_template.custom", ct.Custom); err != nil {
			return nil, err
		}
		if ct.MembersTemplate != nil {
			mts := make([]engine.MemberTemplateInput, len(*ct.MembersTemplate))
			for i, mt := range *ct.MembersTemplate {
				mts[i] = engine.MemberTemplateInput{UserID: mt.UserID, ChannelRole: mt.ChannelRole}
				field := fmt.Sprintf("channel_template.members_template[%d].custom", i)
				if mts[i].Custom, err = compactRaw(field, mt.Custom); err != nil {
					return nil, err
				}
			}
			c.MembersTemplate = &mts
		}
		in.ChannelTemplate = c
	}
	return in, nil
}

// DecodeStart decodes the body of POST /campaigns/{id}/start: {"scheduled_for"?, "stop_at"?},
// RFC 3339 times (ParseTime); an empty body, an empty string or null is no time.
func (Legacy) DecodeStart(body []byte) (*engine.StartOptions, error) {
	var b struct {
		ScheduledFor *string `json:"scheduled_for"`
		StopAt       *string `json:"stop_at"`
	}
	if len(body) > 0 {
		if err := decodeBody(body, &b); err != nil {
			return nil, err
		}
	}
	opts := &engine.StartOptions{}
	for _, f := range []struct {
		name string
		v    *string
		dst  *int64
	}{{"scheduled_for", b.ScheduledFor, &opts.ScheduledFor}, {"stop_at", b.StopAt, &opts.StopAt}} {
		if f.v == nil || *f.v == "" {
			continue
		}
		n, err := ParseTime(f.name, *f.v)
		if err != nil {
			return nil, err
		}
		*f.dst = n
	}
	return opts, nil
}

// DecodeCampaignQuery decodes the body of POST /campaigns/query: a query (DecodeQuery's keys) and
// user_limit, the size of each campaign's users page (0 to engine.MaxCampaignUsersPerPage;
// default 0).
func (Legacy) DecodeCampaignQuery(body []byte) (q *engine.QueryParams, userLimit int, err error) {
	var b struct {
		queryBody
		UserLimit *int `json:"user_limit"`
	}
	if err := decodeBody(body, &b); err != nil {
		return nil, 0, err
	}
	if l := b.UserLimit; l != nil {
		if *l < 0 || *l > engine.MaxCampaignUsersPerPage {
			return nil, 0, engine.InputError("user_limit", "user_limit is %d; use 0 to %d", *l, engine.MaxCampaignUsersPerPage)
		}
		userLimit = *l
	}
	return b.params(), userLimit, nil
}
