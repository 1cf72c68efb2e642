package wire

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/campaignd/campaignd/engine"
)

// Read state: mark read (POST /channels/{type}/{id}/read), mark channels read (POST
// /channels/read) and the unread counts (GET /unread).

type userRef struct {
	ID string `json:"id"`
}

type markReadBody struct {
	UserID    string   `json:"user_id"`
	User      *userRef `json:"user"`
	MessageID string   `json:"message_id"`
	ThreadID  string   `json:"thread_id"`
}

// DecodeMarkRead decodes a mark-read body {"user_id" | "user": {"id"}, "message_id"?} for
// channel typ:id. thread_id is refused: campaignd keeps no thread read state.
func (Legacy) DecodeMarkRead(body []byte, typ, id string) (*engine.MarkReadRequest, error) {
	var b markReadBody
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeBody(body, &b); err != nil {
			return nil, err
		}
	}
	if b.ThreadID != "" {
		return nil, engine.InputError("thread_id", "thread_id: threads have no read state of their own here; mark the channel read instead")
	}
	req := &engine.MarkReadRequest{Type: typ, ID: id, UserID: b.UserID, MessageID: b.MessageID}
	if req.UserID == "" && b.User != nil {
		req.UserID = b.User.ID
	}
	return req, nil
}

type markChannelsReadBody struct {
	UserID        string            `json:"user_id"`
	User          *userRef          `json:"user"`
	ReadByChannel map[string]string `json:"read_by_channel"`
}

// MarkChannelsRead is a decoded POST /channels/read.
type MarkChannelsRead struct {
	UserID string
	// ReadByChannel maps cids to the last message read ("" for the newest); empty: every channel
	// of the user.
	ReadByChannel map[string]string
}

// DecodeMarkChannelsRead decodes {"user_id" | "user": {"id"}, "read_by_channel"?: {cid: message
// id}}.
func (Legacy) DecodeMarkChannelsRead(body []byte) (*MarkChannelsRead, error) {
	var b markChannelsReadBody
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeBody(body, &b); err != nil {
			return nil, err
		}
	}
	out := &MarkChannelsRead{UserID: b.UserID, ReadByChannel: b.ReadByChannel}
	if out.UserID == "" && b.User != nil {
		out.UserID = b.User.ID
	}
	return out, nil
}

// AppendMarkReadReply appends the reply of mark read: {"event": message.read}, the event as the
// sinks receive it.
func (l Legacy) AppendMarkReadReply(dst []byte, r *engine.ChannelRead) []byte {
	dst = append(dst, `{"event":`...)
	ev := engine.ChannelEvent{Type: "message.read", Channel: &r.Channel, User: l.appendUserRef(nil, &r.User),
		LastReadMessageID: r.LastReadMessageID, At: r.At}
	dst = l.AppendChannelEvent(dst, &ev)
	return append(dst, '}')
}

// AppendUnreadCounts appends the reply of GET /unread: {"total_unread_count", "channels":
// [{"channel_id" (the cid), "last_read", "unread_count"}], "channel_type": [{"channel_type",
// "channel_count", "unread_count"}], "total_unread_count_by_team"?, "threads": [],
// "total_unread_threads_count": 0}.
func (Legacy) AppendUnreadCounts(dst []byte, u *engine.UnreadCounts) []byte {
	dst = append(dst, `{"total_unread_count":`...)
	dst = strconv.AppendInt(dst, int64(u.Total), 10)
	dst = append(dst, `,"channels":[`...)
	for i := range u.Channels {
		c := &u.Channels[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"channel_id":`...)
		dst = AppendString(dst, c.CID)
		dst = append(dst, `,"last_read":`...)
		dst = appendNanos(dst, c.LastRead)
		dst = append(dst, `,"unread_count":`...)
		dst = strconv.AppendInt(dst, int64(c.Unread), 10)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"channel_type":[`...)
	for i := range u.ByType {
		t := &u.ByType[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"channel_type":`...)
		dst = AppendString(dst, t.Type)
		dst = append(dst, `,"channel_count":`...)
		dst = strconv.AppendInt(dst, int64(t.Channels), 10)
		dst = append(dst, `,"unread_count":`...)
		dst = strconv.AppendInt(dst, int64(t.Unread), 10)
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if len(u.ByTeam) > 0 {
		teams := make([]string, 0, len(u.ByTeam))
		for t := range u.ByTeam {
			teams = append(teams, t)
		}
		slices.Sort(teams)
		dst = append(dst, `,"total_unread_count_by_team":{`...)
		for i, t := range teams {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(AppendString(dst, t), ':')
			dst = strconv.AppendInt(dst, int64(u.ByTeam[t]), 10)
		}
		dst = append(dst, '}')
	}
	return append(dst, `,"threads":[],"total_unread_threads_count":0}`...)
}
