package engine

import (
	"strconv"
	"time"

	"github.com/campaignd/campaignd/storage"
)

// AppendCampaignJSON appends c as a CampaignResponse with users as its users
// page (each a UserResponse object).
func (e *Engine) AppendCampaignJSON(dst []byte, c *Campaign, users [][]byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, c.ID)
	dst = append(dst, `,"name":`...)
	dst = appendJSONString(dst, c.Name)
	dst = append(dst, `,"description":`...)
	dst = appendJSONString(dst, c.Description)
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, c.Status)
	dst = append(dst, `,"sender_id":`...)
	dst = appendJSONString(dst, c.SenderID)
	if u, found, err := e.GetUser(c.SenderID); err == nil && found {
		dst = append(dst, `,"sender":`...)
		dst = e.enc.AppendUser(dst, u)
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
		dst = appendTime(dst, time.Unix(0, c.ScheduledFor))
	}
	if c.StopAt != 0 {
		dst = append(dst, `,"stop_at":`...)
		dst = appendTime(dst, time.Unix(0, c.StopAt))
	}
	// NB: extensions (unknown keys are harmless to the SDK): the throttle, and why it stopped.
	if c.MaxPerSecond != 0 {
		dst = append(dst, `,"max_messages_per_second":`...)
		dst = strconv.AppendUint(dst, uint64(c.MaxPerSecond), 10)
	}
	if c.Status == storage.CampaignStopped && c.StopReason != "" {
		dst = append(dst, `,"stop_reason":`...)
		dst = appendJSONString(dst, c.StopReason)
	}
	dst = append(dst, `,"created_at":`...)
	dst = appendTime(dst, time.Unix(0, c.CreatedAt))
	dst = append(dst, `,"updated_at":`...)
	dst = appendTime(dst, time.Unix(0, c.UpdatedAt))
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
		dst = appendTime(dst, time.Unix(0, r.StartedAt))
	}
	if r.CompletedAt != 0 {
		dst = append(dst, `,"stats_completed_at":`...)
		dst = appendTime(dst, time.Unix(0, r.CompletedAt))
	}
	return append(dst, '}')
}

func appendMessageTemplateJSON(dst []byte, m *storage.MessageTemplate) []byte {
	dst = append(dst, `{"text":`...)
	dst = appendJSONString(dst, m.Text)
	dst = append(dst, `,"attachments":`...)
	dst = appendRawOr(dst, m.Attachments, "[]")
	dst = append(dst, `,"custom":`...)
	dst = appendRawOr(dst, m.Custom, "{}")
	if m.PollID != "" {
		dst = append(dst, `,"poll_id":`...)
		dst = appendJSONString(dst, m.PollID)
	}
	if m.Searchable != 0 {
		dst = append(dst, `,"searchable":`...)
		dst = strconv.AppendBool(dst, m.Searchable == 2)
	}
	return append(dst, '}')
}

func appendChannelTemplateJSON(dst []byte, ch *storage.ChannelTemplate) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendJSONString(dst, ch.Type)
	if ch.ID != "" {
		dst = append(dst, `,"id":`...)
		dst = appendJSONString(dst, ch.ID)
	}
	if ch.Team != "" {
		dst = append(dst, `,"team":`...)
		dst = appendJSONString(dst, ch.Team)
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
		dst = appendJSONString(dst, mt.UserID)
		if mt.ChannelRole != "" {
			dst = append(dst, `,"channel_role":`...)
			dst = appendJSONString(dst, mt.ChannelRole)
		}
		dst = append(dst, `,"custom":`...)
		dst = appendRawOr(dst, mt.Custom, "{}")
		dst = append(dst, '}')
	}
	dst = append(dst, `],"custom":`...)
	dst = appendRawOr(dst, ch.Custom, "{}")
	return append(dst, '}')
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
	return appendJSONString(dst, s)
}

func appendStringArray(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}
