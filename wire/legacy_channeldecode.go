package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/campaignd/campaignd/engine"
)

// Channel and message request bodies: get-or-create (POST /channels/{type}/{id}/query and the
// distinct POST /channels/{type}/query), send message and queryChannels. Custom fields travel as
// top-level keys of data, members and messages; every key that is not a known field becomes one.

type channelQueryBody struct {
	Data        map[string]json.RawMessage `json:"data"`
	CreatedByID string                     `json:"created_by_id"`
	CreatedBy   *struct {
		ID string `json:"id"`
	} `json:"created_by"`
	Messages *struct {
		Limit  *int   `json:"limit"`
		IDLt   string `json:"id_lt"`
		IDLte  string `json:"id_lte"`
		IDGt   string `json:"id_gt"`
		IDGte  string `json:"id_gte"`
		Offset int    `json:"offset"`
	} `json:"messages"`
	Members *struct {
		Limit  *int `json:"limit"`
		Offset int  `json:"offset"`
	} `json:"members"`
}

// Keys of a channel's data that are read-only or not stored; they never become custom fields.
var channelReservedKeys = []string{
	"id", "type", "cid", "created_at", "updated_at", "deleted_at", "member_count", "message_count",
	"config", "own_capabilities", "last_message_at", "hidden", "truncated_at", "truncated_by",
	"created_by_id", "created_by", "members", "team", "frozen", "disabled",
}

// Keys of a member object that are not custom fields.
var memberReservedKeys = []string{
	"user_id", "user", "channel_role", "role", "created_at", "updated_at", "banned", "shadow_banned",
	"is_moderator", "notifications_muted", "invited", "invite_accepted_at", "invite_rejected_at",
	"archived_at", "pinned_at", "status",
}

// DecodeChannelQuery decodes a get-or-create body for channel typ:id (id "" for the distinct
// channel of data.members). An empty body is accepted.
func (Legacy) DecodeChannelQuery(body []byte, typ, id string) (*engine.ChannelRequest, error) {
	var b channelQueryBody
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeBody(body, &b); err != nil {
			return nil, err
		}
	}
	req := &engine.ChannelRequest{Type: typ, ID: id, CreatedByID: b.CreatedByID}
	if b.CreatedBy != nil && b.CreatedBy.ID != "" {
		req.CreatedByID = b.CreatedBy.ID
	}
	d := b.Data
	if v, ok := d["created_by_id"]; ok && !isNull(v) {
		if err := rawString(v, "data.created_by_id", &req.CreatedByID); err != nil {
			return nil, err
		}
	}
	if v, ok := d["created_by"]; ok && !isNull(v) {
		var cb struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(v, &cb) != nil {
			return nil, engine.InputError("data.created_by", "data.created_by must be an object with the creator's id: {\"id\": \"...\"}")
		}
		if cb.ID != "" {
			req.CreatedByID = cb.ID
		}
	}
	if v, ok := d["team"]; ok && !isNull(v) {
		if err := rawString(v, "data.team", &req.Team); err != nil {
			return nil, err
		}
	}
	if v, ok := d["frozen"]; ok && !isNull(v) {
		if err := rawBool(v, "data.frozen", &req.Frozen); err != nil {
			return nil, err
		}
	}
	if v, ok := d["disabled"]; ok && !isNull(v) {
		if err := rawBool(v, "data.disabled", &req.Disabled); err != nil {
			return nil, err
		}
	}
	if v, ok := d["members"]; ok && !isNull(v) {
		var list []json.RawMessage
		if json.Unmarshal(v, &list) != nil {
			return nil, engine.InputError("data.members", "data.members must be an array of user ids or {\"user_id\": ..., \"channel_role\": ...} objects")
		}
		req.Members = make([]engine.MemberInput, 0, len(list))
		for i, raw := range list {
			m, err := decodeMember(raw, i)
			if err != nil {
				return nil, err
			}
			req.Members = append(req.Members, m)
		}
	}
	custom, err := customObject(d, channelReservedKeys)
	if err != nil {
		return nil, err
	}
	req.Custom = custom
	if m := b.Messages; m != nil {
		req.Messages = engine.MessagePage{IDLt: m.IDLt, IDLte: m.IDLte, IDGt: m.IDGt, IDGte: m.IDGte}
		if err := pageLimit(m.Limit, "messages.limit", &req.Messages.Limit); err != nil {
			return nil, err
		}
	}
	if m := b.Members; m != nil {
		if err := pageLimit(m.Limit, "members.limit", &req.MemberLimit); err != nil {
			return nil, err
		}
		req.MemberOffset = m.Offset
	}
	return req, nil
}

// pageLimit copies a requested limit: absent = 0 (the default), 0 = -1 (none), negative = error.
func pageLimit(v *int, field string, dst *int) error {
	switch {
	case v == nil:
		*dst = 0
	case *v < 0:
		return engine.InputError(field, "%s must not be negative", field)
	case *v == 0:
		*dst = -1
	default:
		*dst = *v
	}
	return nil
}

func decodeMember(raw json.RawMessage, i int) (engine.MemberInput, error) {
	field := fmt.Sprintf("data.members[%d]", i)
	var m engine.MemberInput
	if raw = bytes.TrimSpace(raw); len(raw) > 0 && raw[0] == '"' {
		err := rawString(raw, field, &m.UserID)
		return m, err
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return m, engine.InputError(field, "%s must be a user id or a {\"user_id\": ..., \"channel_role\": ...} object", field)
	}
	if v, ok := obj["user_id"]; ok && !isNull(v) {
		if err := rawString(v, field+".user_id", &m.UserID); err != nil {
			return m, err
		}
	}
	if v, ok := obj["user"]; ok && !isNull(v) && m.UserID == "" {
		var u struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(v, &u) != nil {
			return m, engine.InputError(field+".user", "%s.user must be an object with the user's id", field)
		}
		m.UserID = u.ID
	}
	if m.UserID == "" {
		return m, engine.InputError(field+".user_id", "%s needs a user_id", field)
	}
	if v, ok := obj["channel_role"]; ok && !isNull(v) {
		if err := rawString(v, field+".channel_role", &m.ChannelRole); err != nil {
			return m, err
		}
	}
	custom, err := customObject(obj, memberReservedKeys)
	if err != nil {
		return m, err
	}
	m.Custom = custom
	return m, nil
}

type sendMessageBody struct {
	Message  map[string]json.RawMessage `json:"message"`
	SkipPush bool                       `json:"skip_push"`
}

// Keys of a message that are read-only or not stored; they never become custom fields.
var messageReservedKeys = []string{
	"id", "text", "html", "type", "user_id", "user", "attachments", "parent_id", "show_in_channel",
	"silent", "poll_id", "mentioned_users", "cid", "created_at", "updated_at", "deleted_at",
	"latest_reactions", "own_reactions", "reaction_counts", "reaction_scores", "reaction_groups",
	"reply_count", "deleted_reply_count", "shadowed", "mentioned_channel", "mentioned_here",
	"restricted_visibility", "i18n", "member", "pinned", "pinned_at", "pinned_by", "pin_expires",
	"quoted_message", "poll", "channel", "thread_participants", "status",
}

// DecodeSendMessage decodes a send-message body for channel typ:id.
func (Legacy) DecodeSendMessage(body []byte, typ, id string) (*engine.SendMessageRequest, error) {
	var b sendMessageBody
	if err := decodeBody(body, &b); err != nil {
		return nil, err
	}
	if b.Message == nil {
		return nil, engine.InputError("message", "message is required: send {\"message\": {\"text\": ..., \"user_id\": ...}}")
	}
	req := &engine.SendMessageRequest{Type: typ, ID: id, SkipPush: b.SkipPush}
	m, in := b.Message, &req.Message
	for _, f := range []struct {
		key string
		dst *string
	}{{"id", &in.ID}, {"text", &in.Text}, {"html", &in.HTML}, {"type", &in.Type}, {"user_id", &in.UserID}, {"parent_id", &in.ParentID}, {"poll_id", &in.PollID}} {
		if v, ok := m[f.key]; ok && !isNull(v) {
			if err := rawString(v, "message."+f.key, f.dst); err != nil {
				return nil, err
			}
		}
	}
	if v, ok := m["user"]; ok && !isNull(v) && in.UserID == "" {
		var u struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(v, &u) != nil {
			return nil, engine.InputError("message.user", "message.user must be an object with the author's id: {\"id\": \"...\"}")
		}
		in.UserID = u.ID
	}
	for _, f := range []struct {
		key string
		dst *bool
	}{{"silent", &in.Silent}, {"show_in_channel", &in.ShowInChannel}} {
		if v, ok := m[f.key]; ok && !isNull(v) {
			if err := rawBool(v, "message."+f.key, f.dst); err != nil {
				return nil, err
			}
		}
	}
	if v, ok := m["attachments"]; ok && !isNull(v) {
		v = bytes.TrimSpace(v)
		if len(v) == 0 || v[0] != '[' {
			return nil, engine.InputError("message.attachments", "message.attachments must be an array of attachment objects")
		}
		atts, err := AppendCompact(nil, v)
		if err != nil {
			return nil, engine.InputError("message.attachments", "message.attachments is not valid JSON")
		}
		if len(atts) > 2 {
			in.Attachments = atts
		}
	}
	if v, ok := m["mentioned_users"]; ok && !isNull(v) {
		var list []json.RawMessage
		if json.Unmarshal(v, &list) != nil {
			return nil, engine.InputError("message.mentioned_users", "message.mentioned_users must be an array of user ids")
		}
		for i, raw := range list {
			field := fmt.Sprintf("message.mentioned_users[%d]", i)
			var id string
			if json.Unmarshal(raw, &id) != nil {
				var u struct {
					ID string `json:"id"`
				}
				if json.Unmarshal(raw, &u) != nil || u.ID == "" {
					return nil, engine.InputError(field, "%s must be a user id", field)
				}
				id = u.ID
			}
			in.MentionedUsers = append(in.MentionedUsers, id)
		}
	}
	custom, err := customObject(m, messageReservedKeys)
	if err != nil {
		return nil, err
	}
	in.Custom = custom
	return req, nil
}

type queryChannelsBody struct {
	FilterConditions json.RawMessage `json:"filter_conditions"`
	Sort             json.RawMessage `json:"sort"`
	Limit            *int            `json:"limit"`
	Offset           int             `json:"offset"`
	MessageLimit     *int            `json:"message_limit"`
	MemberLimit      *int            `json:"member_limit"`
}

// DecodeQueryChannels decodes a queryChannels body. An empty body is accepted.
func (Legacy) DecodeQueryChannels(body []byte) (*engine.QueryChannelsRequest, error) {
	var b queryChannelsBody
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeBody(body, &b); err != nil {
			return nil, err
		}
	}
	req := &engine.QueryChannelsRequest{Filter: b.FilterConditions, Sort: b.Sort, Offset: b.Offset}
	if b.Limit != nil {
		if *b.Limit < 0 {
			return nil, engine.InputError("limit", "limit must not be negative")
		}
		req.Limit = *b.Limit // 0 = the default
	}
	if err := pageLimit(b.MessageLimit, "message_limit", &req.MessageLimit); err != nil {
		return nil, err
	}
	if err := pageLimit(b.MemberLimit, "member_limit", &req.MemberLimit); err != nil {
		return nil, err
	}
	return req, nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

func rawString(v json.RawMessage, field string, dst *string) error {
	if json.Unmarshal(v, dst) != nil {
		return engine.InputError(field, "field %q must be a string, not %s", field, Kind(v))
	}
	return nil
}

func rawBool(v json.RawMessage, field string, dst *bool) error {
	if json.Unmarshal(v, dst) != nil {
		return engine.InputError(field, "field %q must be a boolean, not %s", field, Kind(v))
	}
	return nil
}

// customObject returns the keys of obj not in reserved as one compact JSON object with sorted
// keys, or nil when there are none.
func customObject(obj map[string]json.RawMessage, reserved []string) ([]byte, error) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if !slices.Contains(reserved, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	slices.Sort(keys)
	b := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(AppendString(b, k), ':')
		var err error
		if b, err = AppendCompact(b, obj[k]); err != nil {
			return nil, engine.InputError(k, "custom field %q is not valid JSON", k)
		}
	}
	return append(b, '}'), nil
}
