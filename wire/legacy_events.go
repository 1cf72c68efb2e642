package wire

import (
	"strconv"

	"github.com/campaignd/campaignd/engine"
)

// The channel and message events beyond channel.created and message.new (engine.ChannelEvent):
// message.read, message.updated, message.deleted, channel.updated, channel.truncated,
// channel.deleted, channel.hidden, channel.visible, member.added, member.updated, member.removed.

// AppendChannelEvent appends ev's body: {"type", "cid", "channel_id", "channel_type", "channel"?
// (ChannelResponse), "user"?, "member"? (ChannelMemberResponse), "message_id"? and "message"?
// (MessageResponse), "last_read_message_id"? and "channel_last_message_at"? (message.read),
// "clear_history" (channel.hidden), "hard_delete" (message.deleted), "channel_member_count",
// "channel_message_count", "team"?, "created_at"}. It implements engine.Encoder.
func (l Legacy) AppendChannelEvent(dst []byte, ev *engine.ChannelEvent) []byte {
	ch := ev.Channel
	dst = appendEventHead(dst, ev.Type, ch)
	if ev.WithChannel {
		dst = append(dst, `,"channel":`...)
		dst = l.AppendChannel(dst, ch, ev.Creator)
	}
	if ev.User != nil {
		dst = append(dst, `,"user":`...)
		dst = append(dst, ev.User...)
	}
	if m := ev.Member; m != nil {
		dst = append(dst, `,"member":`...)
		dst = appendMember(dst, m.UserID, &m.Member, m.Creator, m.User)
	}
	if m := ev.Message; m != nil {
		dst = append(dst, `,"message_id":`...)
		dst = AppendString(dst, m.ID)
		dst = append(dst, `,"message":`...)
		dst = appendMessage(dst, ch.Type, ch.ID, m, ev.Author, ev.Mentioned)
	}
	switch ev.Type {
	case "message.read":
		if ev.LastReadMessageID != "" {
			dst = append(dst, `,"last_read_message_id":`...)
			dst = AppendString(dst, ev.LastReadMessageID)
		}
		if ch.LastMessageAt != 0 {
			dst = append(dst, `,"channel_last_message_at":`...)
			dst = appendNanos(dst, ch.LastMessageAt)
		}
	case "channel.hidden":
		dst = append(dst, `,"clear_history":`...)
		dst = appendBool(dst, ev.ClearHistory)
	case "message.deleted":
		dst = append(dst, `,"hard_delete":`...)
		dst = appendBool(dst, ev.HardDelete)
	}
	dst = append(dst, `,"channel_member_count":`...)
	dst = strconv.AppendUint(dst, uint64(ch.MemberCount), 10)
	dst = append(dst, `,"channel_message_count":`...)
	dst = strconv.AppendUint(dst, ch.MessageCount, 10)
	if ch.Team != "" {
		dst = append(dst, `,"team":`...)
		dst = AppendString(dst, ch.Team)
	}
	dst = append(dst, `,"created_at":`...)
	dst = appendNanos(dst, ev.At)
	return append(dst, '}')
}
