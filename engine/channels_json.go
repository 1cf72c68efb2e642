package engine

import (
	"strconv"

	"github.com/campaignd/campaignd/internal/bytesconv"
	"github.com/campaignd/campaignd/storage"
)

// Wire encoders for channels, members, messages and their events (wire spec §7.5–7.8, §8.3).
// They are append-style; user objects come in pre-encoded (AppendUserJSON) so that callers can
// encode a user once and embed it many times.

// AppendChannelJSON appends ch as a ChannelResponse. createdBy is the creator's UserResponse
// (nil when the channel has no creator). Custom fields are top-level keys.
func AppendChannelJSON(dst []byte, ch *storage.Channel, createdBy []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, ch.ID)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, ch.Type)
	dst = append(dst, `,"cid":`...)
	dst = appendCID(dst, ch.Type, ch.ID)
	dst = append(dst, `,"created_at":`...)
	dst = appendNanos(dst, ch.CreatedAt)
	dst = append(dst, `,"updated_at":`...)
	dst = appendNanos(dst, ch.UpdatedAt)
	if createdBy != nil {
		dst = append(dst, `,"created_by":`...)
		dst = append(dst, createdBy...)
	}
	dst = append(dst, `,"frozen":`...)
	dst = appendBool(dst, ch.Frozen)
	dst = append(dst, `,"disabled":`...)
	dst = appendBool(dst, ch.Disabled)
	dst = append(dst, `,"member_count":`...)
	dst = strconv.AppendUint(dst, uint64(ch.MemberCount), 10)
	dst = append(dst, `,"message_count":`...)
	dst = strconv.AppendUint(dst, ch.MessageCount, 10)
	if ch.LastMessageAt != 0 {
		dst = append(dst, `,"last_message_at":`...)
		dst = appendNanos(dst, ch.LastMessageAt)
	}
	if ch.Team != "" {
		dst = append(dst, `,"team":`...)
		dst = appendJSONString(dst, ch.Team)
	}
	dst = append(dst, `,"hidden":false,"config":{},"own_capabilities":[]`...)
	dst = appendCustomFields(dst, ch.Custom)
	return append(dst, '}')
}

func appendCID(dst []byte, typ, id string) []byte {
	// Types hold no character that needs escaping; the id might (in theory) not.
	dst = append(dst, '"')
	dst = append(dst, typ...)
	dst = append(dst, ':')
	q := appendJSONString(dst, id)
	// Drop the opening quote AppendJSONString added after ':'.
	copy(q[len(dst):], q[len(dst)+1:])
	return q[:len(q)-1]
}

// AppendMemberJSON appends m, the membership of user userID, as a ChannelMemberResponse.
// creator marks the channel's creator (legacy role "owner"); user is the UserResponse.
func AppendMemberJSON(dst []byte, userID string, m *storage.Member, creator bool, user []byte) []byte {
	dst = append(dst, `{"user_id":`...)
	dst = appendJSONString(dst, userID)
	dst = append(dst, `,"user":`...)
	dst = append(dst, user...)
	dst = append(dst, `,"created_at":`...)
	dst = appendNanos(dst, m.CreatedAt)
	dst = append(dst, `,"updated_at":`...)
	dst = appendNanos(dst, m.UpdatedAt)
	role := m.ChannelRole
	if role == "" {
		role = DefaultChannelRole
	}
	dst = append(dst, `,"channel_role":`...)
	dst = appendJSONString(dst, role)
	legacy := "member"
	switch {
	case creator:
		legacy = "owner"
	case role == "channel_moderator":
		legacy = "moderator"
	}
	dst = append(dst, `,"role":"`...)
	dst = append(dst, legacy...)
	dst = append(dst, `","is_moderator":`...)
	dst = appendBool(dst, role == "channel_moderator")
	dst = append(dst, `,"banned":false,"shadow_banned":false,"notifications_muted":false`...)
	dst = appendCustomFields(dst, m.Custom)
	return append(dst, '}')
}

// AppendMessageJSON appends m, a message of channel "typ:id", as a MessageResponse (wire spec
// §7.8) with every array and object defaulted. user is the author's UserResponse; mentioned the
// UserResponses of m.MentionedUsers (in order; may be shorter when users are gone).
func AppendMessageJSON(dst []byte, typ, id string, m *storage.Message, user []byte, mentioned [][]byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, m.ID)
	dst = append(dst, `,"text":`...)
	dst = appendJSONString(dst, m.Text)
	dst = append(dst, `,"html":`...)
	if m.HTML != "" {
		dst = appendJSONString(dst, m.HTML)
	} else {
		dst = appendTextHTML(dst, m.Text)
	}
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, m.Type)
	dst = append(dst, `,"user":`...)
	dst = append(dst, user...)
	dst = append(dst, `,"cid":`...)
	dst = appendCID(dst, typ, id)
	dst = append(dst, `,"created_at":`...)
	dst = appendNanos(dst, m.CreatedAt)
	dst = append(dst, `,"updated_at":`...)
	dst = appendNanos(dst, m.UpdatedAt)
	dst = append(dst, `,"attachments":`...)
	if len(m.Attachments) > 0 {
		dst = append(dst, m.Attachments...)
	} else {
		dst = append(dst, `[]`...)
	}
	dst = append(dst, `,"latest_reactions":[],"own_reactions":[],"mentioned_users":[`...)
	for i, u := range mentioned {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, u...)
	}
	dst = append(dst, `],"reaction_counts":{},"reaction_scores":{},"reaction_groups":null,"reply_count":0,"deleted_reply_count":0,"silent":`...)
	dst = appendBool(dst, m.Silent)
	dst = append(dst, `,"pinned":false,"pinned_at":null,"pinned_by":null,"pin_expires":null,"shadowed":false,"mentioned_channel":false,"mentioned_here":false,"restricted_visibility":[]`...)
	if m.ParentID != "" {
		dst = append(dst, `,"parent_id":`...)
		dst = appendJSONString(dst, m.ParentID)
		dst = append(dst, `,"show_in_channel":`...)
		dst = appendBool(dst, m.ShowInChannel)
	}
	if m.PollID != "" {
		dst = append(dst, `,"poll_id":`...)
		dst = appendJSONString(dst, m.PollID)
	}
	dst = append(dst, `,"i18n":null`...)
	dst = appendCustomFields(dst, m.Custom)
	return append(dst, '}')
}

// appendTextHTML appends the html of a plain text as Stream renders a one-paragraph message:
// "<p>escaped text</p>\n" ("" for an empty text). Markdown is not interpreted.
func appendTextHTML(dst []byte, text string) []byte {
	if text == "" {
		return append(dst, `""`...)
	}
	var tmp [256]byte
	h := append(tmp[:0], "<p>"...)
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '<':
			h = append(h, "&lt;"...)
		case '>':
			h = append(h, "&gt;"...)
		case '&':
			h = append(h, "&amp;"...)
		case '"':
			h = append(h, "&#34;"...)
		case '\'':
			h = append(h, "&#39;"...)
		case '\n':
			h = append(h, "<br/>\n"...)
		default:
			h = append(h, c)
		}
	}
	h = append(h, "</p>\n"...)
	return appendJSONString(dst, bytesconv.UnsafeString(h))
}

// appendEventHead appends `{"type":...,"cid":...,"channel_id":...,"channel_type":...`.
func appendEventHead(dst []byte, typ string, ch *storage.Channel) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","cid":`...)
	dst = appendCID(dst, ch.Type, ch.ID)
	dst = append(dst, `,"channel_id":`...)
	dst = appendJSONString(dst, ch.ID)
	dst = append(dst, `,"channel_type":`...)
	return appendJSONString(dst, ch.Type)
}

// appendChannelCreatedJSON appends the channel.created event body (wire spec §8.3): ch as created
// (its member count, no message yet), its creator's UserResponse, the JSON array of its members
// (nil: none) and the event time.
func appendChannelCreatedJSON(dst []byte, ch *storage.Channel, creator, members []byte, now int64) []byte {
	dst = appendEventHead(dst, "channel.created", ch)
	dst = append(dst, `,"channel":`...)
	dst = AppendChannelJSON(dst, ch, creator)
	dst = append(dst, `,"user":`...)
	dst = append(dst, creator...)
	dst = append(dst, `,"members":`...)
	dst = appendMembersArray(dst, members)
	dst = append(dst, `,"channel_member_count":`...)
	dst = strconv.AppendUint(dst, uint64(ch.MemberCount), 10)
	if ch.Team != "" {
		dst = append(dst, `,"team":`...)
		dst = appendJSONString(dst, ch.Team)
	}
	dst = append(dst, `,"created_at":`...)
	dst = appendNanos(dst, now)
	return append(dst, '}')
}

// appendMessageNewJSON appends the message.new event body (wire spec §8.3) of message m in channel
// ch (whose counters include m): the author's UserResponse, the mentioned users' and the JSON array
// of up to maxEventMembers members (nil: none).
func appendMessageNewJSON(dst []byte, ch *storage.Channel, m *storage.Message, author []byte, mentioned [][]byte, members []byte) []byte {
	dst = appendEventHead(dst, "message.new", ch)
	dst = append(dst, `,"message_id":`...)
	dst = appendJSONString(dst, m.ID)
	dst = append(dst, `,"message":`...)
	dst = AppendMessageJSON(dst, ch.Type, ch.ID, m, author, mentioned)
	dst = append(dst, `,"user":`...)
	dst = append(dst, author...)
	dst = append(dst, `,"members":`...)
	dst = appendMembersArray(dst, members)
	dst = append(dst, `,"watcher_count":0,"channel_member_count":`...)
	dst = strconv.AppendUint(dst, uint64(ch.MemberCount), 10)
	dst = append(dst, `,"channel_message_count":`...)
	dst = strconv.AppendUint(dst, ch.MessageCount, 10)
	if ch.Team != "" {
		dst = append(dst, `,"team":`...)
		dst = appendJSONString(dst, ch.Team)
	}
	dst = append(dst, `,"created_at":`...)
	dst = appendNanos(dst, m.CreatedAt)
	return append(dst, '}')
}

func appendMembersArray(dst, members []byte) []byte {
	if len(members) == 0 {
		return append(dst, `[]`...)
	}
	return append(dst, members...)
}
