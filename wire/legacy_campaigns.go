package wire

import (
	"strconv"
	"time"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
)

// Campaigns: CampaignResponse, the replies of the campaign endpoints and the campaign.* events.

// AppendCampaign appends c, with Sender and Segments loaded, as a CampaignResponse whose "users"
// are users (a page of its audience).
func (l Legacy) AppendCampaign(dst []byte, c *engine.Campaign, users []storage.User) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, c.ID)
	dst = append(dst, `,"name":`...)
	dst = AppendString(dst, c.Name)
	dst = append(dst, `,"description":`...)
	dst = AppendString(dst, c.Description)
	dst = append(dst, `,"status":`...)
	dst = AppendString(dst, c.Status)
	dst = append(dst, `,"sender_id":`...)
	dst = AppendString(dst, c.SenderID)
	if c.Sender != nil {
		dst = append(dst, `,"sender":`...)
		dst = l.AppendUser(dst, c.Sender)
	}
	dst = append(dst, `,"sender_mode":`...)
	dst = appendNullableString(dst, c.SenderMode)
	dst = append(dst, `,"sender_visibility":`...)
	dst = appendNullableString(dst, c.SenderVisibility)
	dst = append(dst, `,"segment_ids":`...)
	dst = appendStrings(dst, c.SegmentIDs)
	dst = append(dst, `,"segments":[`...)
	for i, s := range c.Segments {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = l.AppendSegment(dst, s)
	}
	dst = append(dst, `],"user_ids":`...)
	dst = appendStrings(dst, c.UserIDs)
	dst = append(dst, `,"users":[`...)
	for i := range users {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = l.AppendUser(dst, &users[i])
	}
	dst = append(dst, `],"message_template":`...)
	dst = appendMessageTemplate(dst, &c.Message)
	if c.HasChannel {
		dst = append(dst, `,"channel_template":`...)
		dst = appendChannelTemplate(dst, &c.Channel)
	}
	dst = append(dst, `,"create_channels":`...)
	dst = appendBool(dst, c.CreateChannels)
	dst = append(dst, `,"show_channels":`...)
	dst = appendBool(dst, c.ShowChannels)
	dst = append(dst, `,"skip_push":`...)
	dst = appendBool(dst, c.SkipPush)
	dst = append(dst, `,"skip_webhook":`...)
	dst = appendBool(dst, c.SkipWebhook)
	if c.ScheduledFor != 0 {
		dst = append(dst, `,"scheduled_for":`...)
		dst = appendNanos(dst, c.ScheduledFor)
	}
	if c.StopAt != 0 {
		dst = append(dst, `,"stop_at":`...)
		dst = appendNanos(dst, c.StopAt)
	}
	// NB: extensions (unknown keys are harmless to the SDK): the throttle, and why it stopped.
	if c.MaxPerSecond != 0 {
		dst = append(dst, `,"max_messages_per_second":`...)
		dst = strconv.AppendUint(dst, uint64(c.MaxPerSecond), 10)
	}
	if c.Status == storage.CampaignStopped && c.StopReason != "" {
		dst = append(dst, `,"stop_reason":`...)
		dst = AppendString(dst, c.StopReason)
	}
	dst = append(dst, `,"created_at":`...)
	dst = appendNanos(dst, c.CreatedAt)
	dst = append(dst, `,"updated_at":`...)
	dst = appendNanos(dst, c.UpdatedAt)
	dst = append(dst, `,"stats":`...)
	dst = appendCampaignStats(dst, c)
	return append(dst, '}')
}

func appendCampaignStats(dst []byte, c *engine.Campaign) []byte {
	r := &c.Run
	dst = append(dst, `{"progress":`...)
	dst = strconv.AppendFloat(dst, c.Progress(), 'f', -1, 64)
	dst = append(dst, `,"stats_channels_created":`...)
	dst = strconv.AppendUint(dst, r.ChannelsCreated, 10)
	dst = append(dst, `,"stats_messages_sent":`...)
	dst = strconv.AppendUint(dst, r.MessagesSent, 10)
	dst = append(dst, `,"stats_users_sent":`...)
	dst = strconv.AppendUint(dst, r.UsersSent, 10)
	dst = append(dst, `,"stats_users_read":`...)
	dst = strconv.AppendUint(dst, c.UsersRead, 10)
	// NB: an extension: audience members that got no message (engine.SkipReason: no channel and
	// create_channels false, deleted, deactivated or banned users, invalid rendered channel ids,
	// frozen channels). Unknown keys are harmless to the SDK.
	dst = append(dst, `,"stats_targets_skipped":`...)
	dst = strconv.AppendUint(dst, r.Skipped, 10)
	if r.StartedAt != 0 {
		dst = append(dst, `,"stats_started_at":`...)
		dst = appendNanos(dst, r.StartedAt)
	}
	if r.CompletedAt != 0 {
		dst = append(dst, `,"stats_completed_at":`...)
		dst = appendNanos(dst, r.CompletedAt)
	}
	return append(dst, '}')
}

func appendMessageTemplate(dst []byte, m *storage.MessageTemplate) []byte {
	dst = append(dst, `{"text":`...)
	dst = AppendString(dst, m.Text)
	dst = append(dst, `,"attachments":`...)
	dst = appendRawOr(dst, m.Attachments, "[]")
	dst = append(dst, `,"custom":`...)
	dst = appendRawOr(dst, m.Custom, "{}")
	if m.PollID != "" {
		dst = append(dst, `,"poll_id":`...)
		dst = AppendString(dst, m.PollID)
	}
	if m.Searchable != 0 {
		dst = append(dst, `,"searchable":`...)
		dst = appendBool(dst, m.Searchable == 2)
	}
	return append(dst, '}')
}

func appendChannelTemplate(dst []byte, ch *storage.ChannelTemplate) []byte {
	dst = append(dst, `{"type":`...)
	dst = AppendString(dst, ch.Type)
	if ch.ID != "" {
		dst = append(dst, `,"id":`...)
		dst = AppendString(dst, ch.ID)
	}
	if ch.Team != "" {
		dst = append(dst, `,"team":`...)
		dst = AppendString(dst, ch.Team)
	}
	dst = append(dst, `,"members":`...)
	dst = appendStrings(dst, ch.Members)
	dst = append(dst, `,"members_template":[`...)
	for i := range ch.MembersTemplate {
		mt := &ch.MembersTemplate[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"user_id":`...)
		dst = AppendString(dst, mt.UserID)
		if mt.ChannelRole != "" {
			dst = append(dst, `,"channel_role":`...)
			dst = AppendString(dst, mt.ChannelRole)
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
	return AppendString(dst, s)
}

// AppendCampaignReply appends the reply of the campaign endpoints: {"campaign": CampaignResponse
// with the users of page, "users": {"next"?, "prev"?}}, page's cursors. stop's reply has no
// "users" key (withCursors false).
func (l Legacy) AppendCampaignReply(dst []byte, c *engine.Campaign, page *engine.CampaignUsers, withCursors bool) []byte {
	dst = append(dst, `{"campaign":`...)
	dst = l.AppendCampaign(dst, c, page.Users)
	if withCursors {
		dst = append(dst, `,"users":{`...)
		if page.Next != "" {
			dst = append(dst, `"next":`...)
			dst = AppendString(dst, page.Next)
		}
		if page.Prev != "" {
			if page.Next != "" {
				dst = append(dst, ',')
			}
			dst = append(dst, `"prev":`...)
			dst = AppendString(dst, page.Prev)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// AppendCampaignsPage appends the reply of POST /campaigns/query: {"campaigns": [...], "next"?,
// "prev"?}; users[i] is the users page of page.Campaigns[i].
func (l Legacy) AppendCampaignsPage(dst []byte, page *engine.CampaignsPage, users []*engine.CampaignUsers) []byte {
	dst = append(dst, `{"campaigns":[`...)
	for i, c := range page.Campaigns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = l.AppendCampaign(dst, c, users[i].Users)
	}
	dst = append(dst, ']')
	dst = appendCursors(dst, page.Next, page.Prev)
	return append(dst, '}')
}

// appendCursors appends the "next" and "prev" members of a page (each only when not empty).
func appendCursors(dst []byte, next, prev string) []byte {
	if next != "" {
		dst = append(dst, `,"next":`...)
		dst = AppendString(dst, next)
	}
	if prev != "" {
		dst = append(dst, `,"prev":`...)
		dst = AppendString(dst, prev)
	}
	return dst
}

// AppendCampaignEvent appends the body of campaign event typ of c at time at:
// {"type", "created_at", "campaign": CampaignResponse (no users)}. It implements
// engine.Encoder.
func (l Legacy) AppendCampaignEvent(dst []byte, typ string, at time.Time, c *engine.Campaign) []byte {
	dst = append(dst, `{"type":`...)
	dst = AppendString(dst, typ)
	dst = append(dst, `,"created_at":`...)
	dst = AppendTime(dst, at)
	dst = append(dst, `,"campaign":`...)
	dst = l.AppendCampaign(dst, c, nil)
	return append(dst, '}')
}

// AppendCampaignUsage appends the reply of GET /campaignd/usage (an extension): {"month", "sent",
// "capacity", "remaining", "resets_at"}; capacity and remaining are null without a monthly
// capacity.
func (Legacy) AppendCampaignUsage(dst []byte, u *engine.Usage) []byte {
	dst = append(dst, `{"month":`...)
	dst = AppendString(dst, u.Month)
	dst = append(dst, `,"sent":`...)
	dst = strconv.AppendUint(dst, u.Sent, 10)
	if u.Capacity > 0 {
		dst = append(dst, `,"capacity":`...)
		dst = strconv.AppendUint(dst, u.Capacity, 10)
		dst = append(dst, `,"remaining":`...)
		dst = strconv.AppendUint(dst, u.Left, 10)
	} else {
		dst = append(dst, `,"capacity":null,"remaining":null`...)
	}
	dst = append(dst, `,"resets_at":`...)
	dst = AppendTime(dst, u.ResetsAt)
	return append(dst, '}')
}
