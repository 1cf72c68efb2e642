package wire

import (
	"strconv"
	"strings"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/internal/bytesconv"
	"github.com/campaignd/campaignd/storage"
)

// Channels, members, messages and their events: ChannelResponse, ChannelMemberResponse,
// MessageResponse, channel.created and message.new. Users come in pre-encoded (AppendUser) so
// that callers encode a user once and embed it many times; none of these allocate beyond growing
// dst.

// AppendChannel appends ch as a ChannelResponse. createdBy is the creator's UserResponse (nil:
// not shown). Custom fields are top-level keys. It implements engine.Encoder.
func (Legacy) AppendChannel(dst []byte, ch *storage.Channel, createdBy []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, ch.ID)
	dst = append(dst, `,"type":`...)
	dst = AppendString(dst, ch.Type)
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
		dst = AppendString(dst, ch.Team)
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
	q := AppendString(dst, id)
	// Drop the opening quote AppendString added after ':'.
	copy(q[len(dst):], q[len(dst)+1:])
	return q[:len(q)-1]
}

// appendMember appends m, the membership of user userID, as a ChannelMemberResponse. creator
// marks the channel's creator (legacy role "owner"); user is the UserResponse.
func appendMember(dst []byte, userID string, m *storage.Member, creator bool, user []byte) []byte {
	dst = append(dst, `{"user_id":`...)
	dst = AppendString(dst, userID)
	dst = append(dst, `,"user":`...)
	dst = append(dst, user...)
	dst = append(dst, `,"created_at":`...)
	dst = appendNanos(dst, m.CreatedAt)
	dst = append(dst, `,"updated_at":`...)
	dst = appendNanos(dst, m.UpdatedAt)
	role := m.ChannelRole
	if role == "" {
		role = engine.DefaultChannelRole
	}
	dst = append(dst, `,"channel_role":`...)
	dst = AppendString(dst, role)
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
	dst = append(dst, `,"banned":`...)
	dst = appendBool(dst, m.Banned)
	if m.BanExpires != 0 {
		dst = append(dst, `,"ban_expires":`...)
		dst = appendNanos(dst, m.BanExpires)
	}
	dst = append(dst, `,"shadow_banned":`...)
	dst = appendBool(dst, m.ShadowBanned)
	dst = append(dst, `,"notifications_muted":false`...)
	if m.ArchivedAt != 0 {
		dst = append(dst, `,"archived_at":`...)
		dst = appendNanos(dst, m.ArchivedAt)
	}
	if m.PinnedAt != 0 {
		dst = append(dst, `,"pinned_at":`...)
		dst = appendNanos(dst, m.PinnedAt)
	}
	dst = appendCustomFields(dst, m.Custom)
	return append(dst, '}')
}

// appendMessage appends m, a message of channel "typ:id", as a MessageResponse with every array
// and object defaulted (the SDK iterates them). user is the author's UserResponse; mentioned the
// UserResponses of m.MentionedUsers (in order; may be shorter when users are gone).
func appendMessage(dst []byte, typ, id string, m *storage.Message, user []byte, mentioned [][]byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, m.ID)
	dst = append(dst, `,"text":`...)
	dst = AppendString(dst, m.Text)
	dst = append(dst, `,"html":`...)
	if m.HTML != "" {
		dst = AppendString(dst, m.HTML)
	} else {
		dst = appendTextHTML(dst, m.Text)
	}
	dst = append(dst, `,"type":`...)
	dst = AppendString(dst, m.Type)
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
		dst = AppendString(dst, m.ParentID)
		dst = append(dst, `,"show_in_channel":`...)
		dst = appendBool(dst, m.ShowInChannel)
	}
	if m.PollID != "" {
		dst = append(dst, `,"poll_id":`...)
		dst = AppendString(dst, m.PollID)
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
	return AppendString(dst, bytesconv.UnsafeString(h))
}

// appendEventHead appends `{"type":...,"cid":...,"channel_id":...,"channel_type":...`.
func appendEventHead(dst []byte, typ string, ch *storage.Channel) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","cid":`...)
	dst = appendCID(dst, ch.Type, ch.ID)
	dst = append(dst, `,"channel_id":`...)
	dst = AppendString(dst, ch.ID)
	dst = append(dst, `,"channel_type":`...)
	return AppendString(dst, ch.Type)
}

// AppendChannelCreated appends the channel.created event body: {"type", "cid", "channel_id",
// "channel_type", "channel": ChannelResponse (created_by the creator), "user": the creator,
// "members", "channel_member_count", "team"?, "created_at"}. It implements engine.Encoder.
func (l Legacy) AppendChannelCreated(dst []byte, ev *engine.ChannelCreated) []byte {
	ch := ev.Channel
	dst = appendEventHead(dst, "channel.created", ch)
	dst = append(dst, `,"channel":`...)
	dst = l.AppendChannel(dst, ch, ev.Creator)
	dst = append(dst, `,"user":`...)
	dst = append(dst, ev.Creator...)
	dst = append(dst, `,"members":`...)
	dst = appendEventMembers(dst, ev.Members)
	dst = append(dst, `,"channel_member_count":`...)
	dst = strconv.AppendUint(dst, uint64(ch.MemberCount), 10)
	if ch.Team != "" {
		dst = append(dst, `,"team":`...)
		dst = AppendString(dst, ch.Team)
	}
	dst = append(dst, `,"created_at":`...)
	dst = appendNanos(dst, ev.At)
	return append(dst, '}')
}

// AppendMessageNew appends the message.new event body: {"type", "cid", "channel_id",
// "channel_type", "message_id", "message": MessageResponse, "user": the author, "members",
// "watcher_count": 0, "channel_member_count", "channel_message_count", "team"?, "created_at"}.
// It implements engine.Encoder.
func (Legacy) AppendMessageNew(dst []byte, ev *engine.MessageNew) []byte {
	ch, m := ev.Channel, ev.Message
	dst = appendEventHead(dst, "message.new", ch)
	dst = append(dst, `,"message_id":`...)
	dst = AppendString(dst, m.ID)
	dst = append(dst, `,"message":`...)
	dst = appendMessage(dst, ch.Type, ch.ID, m, ev.Author, ev.Mentioned)
	dst = append(dst, `,"user":`...)
	dst = append(dst, ev.Author...)
	dst = append(dst, `,"members":`...)
	dst = appendEventMembers(dst, ev.Members)
	dst = append(dst, `,"watcher_count":0,"channel_member_count":`...)
	dst = strconv.AppendUint(dst, uint64(ch.MemberCount), 10)
	dst = append(dst, `,"channel_message_count":`...)
	dst = strconv.AppendUint(dst, ch.MessageCount, 10)
	if ch.Team != "" {
		dst = append(dst, `,"team":`...)
		dst = AppendString(dst, ch.Team)
	}
	dst = append(dst, `,"created_at":`...)
	dst = appendNanos(dst, m.CreatedAt)
	return append(dst, '}')
}

// appendEventMembers appends members as a JSON array of ChannelMemberResponses.
func appendEventMembers(dst []byte, members []engine.EventMember) []byte {
	dst = append(dst, '[')
	for i := range members {
		m := &members[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendMember(dst, m.UserID, &m.Member, m.Creator, m.User)
	}
	return append(dst, ']')
}

// appendUserRef appends the UserResponse of u (AppendGoneUser when the user is gone).
func (l Legacy) appendUserRef(dst []byte, u *engine.UserRef) []byte {
	if u.User == nil {
		return l.AppendGoneUser(dst, u.ID)
	}
	return l.AppendUser(dst, u.User)
}

// userJSONs encodes the users of one reply, each once.
type userJSONs struct {
	l    Legacy
	m    map[*storage.User][]byte
	gone map[string][]byte
}

func (u *userJSONs) of(ref *engine.UserRef) []byte {
	if ref.User == nil {
		j, ok := u.gone[ref.ID]
		if !ok {
			if u.gone == nil {
				u.gone = make(map[string][]byte)
			}
			j = u.l.AppendGoneUser(nil, ref.ID)
			u.gone[ref.ID] = j
		}
		return j
	}
	j, ok := u.m[ref.User]
	if !ok {
		if u.m == nil {
			u.m = make(map[*storage.User][]byte)
		}
		j = u.l.AppendUser(nil, ref.User)
		u.m[ref.User] = j
	}
	return j
}

// AppendChannelState appends st as a ChannelStateResponse (without "duration"), the reply of
// get-or-create: {"channel": ChannelResponse, "messages": [MessageResponse] (oldest first),
// "members": [ChannelMemberResponse], "pinned_messages": [], "read": [], "threads": [],
// "watcher_count": 0, "watchers": []}.
func (l Legacy) AppendChannelState(dst []byte, st *engine.ChannelState) []byte {
	return l.appendChannelState(dst, st, &userJSONs{l: l})
}

func (l Legacy) appendChannelState(dst []byte, st *engine.ChannelState, users *userJSONs) []byte {
	ch := &st.Channel
	var createdBy []byte
	if st.CreatedBy != nil {
		createdBy = users.of(st.CreatedBy)
	}
	dst = append(dst, `{"channel":`...)
	dst = l.AppendChannel(dst, ch, createdBy)
	dst = append(dst, `,"messages":[`...)
	var mentioned [][]byte
	for i := range st.Messages {
		m := &st.Messages[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		mentioned = mentioned[:0]
		for j := range m.Mentioned {
			mentioned = append(mentioned, users.of(&m.Mentioned[j]))
		}
		dst = appendMessage(dst, ch.Type, ch.ID, &m.Message, users.of(&m.User), mentioned)
	}
	dst = append(dst, `],"members":[`...)
	for i := range st.Members {
		m := &st.Members[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendMember(dst, m.User.ID, &m.Member, m.Creator, users.of(&m.User))
	}
	dst = append(dst, `],"pinned_messages":[],"read":[`...)
	for i := range st.Read {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendReadState(dst, &st.Read[i], users.of(&st.Read[i].User))
	}
	return append(dst, `],"threads":[],"watcher_count":0,"watchers":[]}`...)
}

// appendReadState appends r as a ReadStateResponse: {"user", "last_read", "unread_messages",
// "last_read_message_id"?}.
func appendReadState(dst []byte, r *engine.ReadState, user []byte) []byte {
	dst = append(dst, `{"user":`...)
	dst = append(dst, user...)
	dst = append(dst, `,"last_read":`...)
	dst = appendNanos(dst, r.LastRead)
	dst = append(dst, `,"unread_messages":`...)
	dst = strconv.AppendInt(dst, int64(r.Unread), 10)
	if r.LastReadMessageID != "" {
		dst = append(dst, `,"last_read_message_id":`...)
		dst = AppendString(dst, r.LastReadMessageID)
	}
	return append(dst, '}')
}

// AppendChannels appends the reply of queryChannels: {"channels": [ChannelStateResponse]}.
func (l Legacy) AppendChannels(dst []byte, states []*engine.ChannelState) []byte {
	users := &userJSONs{l: l}
	dst = append(dst, `{"channels":[`...)
	for i, st := range states {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = l.appendChannelState(dst, st, users)
	}
	return append(dst, `]}`...)
}

// AppendMessageReply appends the reply of send message: {"message": MessageResponse}.
func (l Legacy) AppendMessageReply(dst []byte, m *engine.Message) []byte {
	users := &userJSONs{l: l}
	var mentioned [][]byte
	for i := range m.Mentioned {
		mentioned = append(mentioned, users.of(&m.Mentioned[i]))
	}
	typ, id, _ := strings.Cut(m.CID, ":")
	dst = append(dst, `{"message":`...)
	dst = appendMessage(dst, typ, id, &m.Message, users.of(&m.User), mentioned)
	return append(dst, '}')
}
