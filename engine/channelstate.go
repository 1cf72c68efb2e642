package engine

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

// The API operations on channels and messages (get-or-create, send message, queryChannels), built
// on the Tx-level functions of channels.go and messages.go. They return domain values with every
// user they show loaded (ChannelState, Message); package wire encodes them.

// Limits of the channel endpoints.
const (
	// MaxChannelCustomSize is the largest custom data of a channel, member or message, in bytes
	// of compact JSON (Stream's limit is 5 KB).
	MaxChannelCustomSize = 5 << 10
	// MaxMembersPerRequest is the most members one get-or-create may list.
	MaxMembersPerRequest = 1000
	// DefaultMemberLimit and MaxMemberLimit bound the members returned per channel.
	DefaultMemberLimit = 100
	MaxMemberLimit     = 300
	// DefaultQueryChannelsLimit and MaxQueryChannelsLimit bound queryChannels pages (Stream: 10, 30).
	DefaultQueryChannelsLimit = 10
	MaxQueryChannelsLimit     = 30
	// MaxQueryChannelsOffset is the largest queryChannels offset.
	MaxQueryChannelsOffset = 1000
)

// ChannelRequest is a get-or-create request (POST /channels/{type}/{id}/query and
// POST /channels/{type}/query), decoded by httpd.
type ChannelRequest struct {
	Type string
	// ID "" asks for the distinct channel of Members (DistinctChannelID).
	ID string
	// CreatedByID is the creator (data.created_by_id, data.created_by.id or top level); required
	// to create a channel.
	CreatedByID string
	Team        string
	Frozen      bool
	Disabled    bool
	// Custom is a compact JSON object of custom fields (or empty).
	Custom  []byte
	Members []MemberInput

	// Messages pages the returned messages; Limit 0 = DefaultMessageLimit, < 0 = none.
	Messages MessagePage
	// MemberLimit (0 = DefaultMemberLimit, < 0 = none) and MemberOffset page the members.
	MemberLimit  int
	MemberOffset int
}

// MemberInput is one member of a get-or-create request.
type MemberInput struct {
	UserID      string
	ChannelRole string
	// Custom is a compact JSON object of custom fields (or empty).
	Custom []byte
}

// creatorRequiredMsg is Stream's wording of a server-side channel creation without a creator.
const creatorRequiredMsg = "either data.created_by or data.created_by_id must be provided when using server side auth."

// ChannelState is a channel as get-or-create and queryChannels return it: the record, its
// creator, a page of its messages (oldest first) with their authors and mentioned users, and a
// page of its members with their users. Everything in it is the caller's.
type ChannelState struct {
	Channel storage.Channel
	// CreatedBy is the creator; nil when the channel has none.
	CreatedBy *UserRef
	Messages  []Message
	Members   []Member
	// Read is the read state of each of Members, in the same order.
	Read []ReadState
}

// Message is a message with the users its replies show.
type Message struct {
	storage.Message
	// CID is its channel's "type:id".
	CID       string
	User      UserRef
	Mentioned []UserRef // in the order of MentionedUsers
}

// Member is a channel member with its user.
type Member struct {
	storage.Member
	User UserRef
	// Creator marks the channel's creator.
	Creator bool
}

// GetOrCreateChannel answers a get-or-create request: it creates the channel when missing (with
// its members, emitting channel.created) and returns its state.
func (e *Engine) GetOrCreateChannel(req *ChannelRequest) (*ChannelState, error) {
	if err := CheckChannelType("type", req.Type); err != nil {
		return nil, err
	}
	memberIDs := make([]string, len(req.Members))
	if len(req.Members) > MaxMembersPerRequest {
		return nil, InputError("data.members", "data.members lists %d members; the maximum is %d", len(req.Members), MaxMembersPerRequest)
	}
	for i := range req.Members {
		m := &req.Members[i]
		field := fmt.Sprintf("data.members[%d]", i)
		if err := CheckID(field+".user_id", m.UserID); err != nil {
			return nil, err
		}
		if m.ChannelRole != "" {
			if err := CheckID(field+".channel_role", m.ChannelRole); err != nil {
				return nil, err
			}
		}
		if len(m.Custom) > MaxChannelCustomSize {
			return nil, InputError(field, "%s: custom data is %d bytes; the maximum is %d", field, len(m.Custom), MaxChannelCustomSize)
		}
		memberIDs[i] = m.UserID
	}
	if req.ID == "" {
		if len(memberIDs) == 0 {
			return nil, InputError("data.members", "a channel without an id is the distinct channel of its members: send data.members, or put an id in the path")
		}
		req.ID = DistinctChannelID(memberIDs)
	} else if err := CheckChannelRef("id", req.ID); err != nil {
		return nil, err
	}
	if req.CreatedByID != "" {
		if err := CheckID("data.created_by_id", req.CreatedByID); err != nil {
			return nil, err
		}
	}
	if len(req.Custom) > MaxChannelCustomSize {
		return nil, InputError("data", "the channel's custom data is %d bytes; the maximum is %d", len(req.Custom), MaxChannelCustomSize)
	}
	if err := checkSize("data.team", len(req.Team), MaxIDLength); err != nil {
		return nil, err
	}
	if err := checkPage(&req.Messages.Limit, DefaultMessageLimit, MaxMessageLimit, "messages.limit"); err != nil {
		return nil, err
	}
	if err := checkPage(&req.MemberLimit, DefaultMemberLimit, MaxMemberLimit, "members.limit"); err != nil {
		return nil, err
	}
	if req.MemberOffset < 0 {
		return nil, InputError("members.offset", "members.offset must not be negative")
	}

	cid := req.Type + ":" + req.ID
	ord, ch, ok, err := e.ChannelByCID(cid)
	if err != nil {
		return nil, err
	}
	if !ok {
		if IsDistinctChannelID(req.ID) && (len(memberIDs) == 0 || DistinctChannelID(memberIDs) != req.ID) {
			// NB: only the members may name a distinct channel (see CheckChannelID).
			return nil, InputError("id", "channel %s does not exist, and a distinct channel's id is derived from its members: create it without an id and with data.members", cid)
		}
		if ord, ch, err = e.createChannel(req, memberIDs); err != nil {
			return nil, err
		}
	}
	return e.channelState(ord, ch, &req.Messages, req.MemberLimit, req.MemberOffset, e.newUserRefs())
}

func checkPage(limit *int, def, max int, field string) error {
	switch {
	case *limit == 0:
		*limit = def
	case *limit > max:
		return InputError(field, "%s is %d; the maximum is %d", field, *limit, max)
	}
	return nil
}

// createChannel creates the channel of req (or returns it when a concurrent request created it).
func (e *Engine) createChannel(req *ChannelRequest, memberIDs []string) (uint32, *storage.Channel, error) {
	if req.CreatedByID == "" {
		return 0, nil, InputError("data.created_by_id", creatorRequiredMsg)
	}
	if err := e.CheckDiskSpace(); err != nil {
		return 0, nil, err
	}
	ids := append([]string{req.CreatedByID}, memberIDs...)
	ords, missing, err := e.resolveUsers(ids)
	if err != nil {
		return 0, nil, err
	}
	if len(missing) > 0 {
		return 0, nil, InputError("data.members", "The following users are involved in channel create operation, but don't exist: [%s]. Please create the user objects before setting up the channel.", strings.Join(slices.Compact(missing), " "))
	}
	spec := &ChannelSpec{
		Type: req.Type, ID: req.ID, CreatedBy: ords[0], Team: req.Team,
		Frozen: req.Frozen, Disabled: req.Disabled, Custom: req.Custom,
		Members: make([]MemberSpec, len(req.Members)),
	}
	for i := range req.Members {
		m := &req.Members[i]
		spec.Members[i] = MemberSpec{User: ords[i+1], ChannelRole: m.ChannelRole, Custom: m.Custom}
	}
	tx := e.NewTx()
	ref, err := e.CreateChannelTx(tx, spec)
	if err != nil {
		tx.Discard()
		return 0, nil, err
	}
	if err := e.Commit(tx); err != nil {
		return 0, nil, fmt.Errorf("cannot create channel %s: %w", ref.CID, err)
	}
	return ref.Ord, &ref.Ch, nil
}

// channelState reads the state of channel ord (record ch) with a page of its messages and members;
// refs loads the users (shared by the channels of one reply).
func (e *Engine) channelState(ord uint32, ch *storage.Channel, page *MessagePage, memberLimit, memberOffset int, refs *userRefs) (*ChannelState, error) {
	msgs, err := e.ChannelMessages(ord, page)
	if err != nil {
		return nil, err
	}
	members, memberOrds, err := e.channelMembers(ord, memberLimit, memberOffset)
	if err != nil {
		return nil, err
	}
	need := append(slices.Clone(memberOrds), ch.CreatedBy)
	for i := range msgs {
		need = append(need, msgs[i].User)
		need = append(need, msgs[i].MentionedUsers...)
	}
	slices.Sort(need)
	if err := refs.load(slices.Compact(need)); err != nil {
		return nil, err
	}
	st := &ChannelState{Channel: *ch, Messages: make([]Message, len(msgs)), Members: make([]Member, len(members))}
	if ch.CreatedBy != 0 {
		u := *refs.m[ch.CreatedBy]
		st.CreatedBy = &u
	}
	cid := ch.Type + ":" + ch.ID
	for i := range msgs {
		m := &st.Messages[i]
		m.Message, m.CID, m.User = msgs[i], cid, *refs.m[msgs[i].User]
		for _, u := range msgs[i].MentionedUsers {
			m.Mentioned = append(m.Mentioned, *refs.m[u])
		}
	}
	for i := range members {
		st.Members[i] = Member{Member: members[i], User: *refs.m[memberOrds[i]], Creator: memberOrds[i] == ch.CreatedBy}
	}
	if st.Read, err = e.readStates(ord, ch, members, memberOrds, refs); err != nil {
		return nil, err
	}
	return st, nil
}

// channelMembers returns up to limit members of channel ord after skipping offset, in user
// ordinal order, with their user ordinals.
func (e *Engine) channelMembers(ord uint32, limit, offset int) ([]storage.Member, []uint32, error) {
	if limit <= 0 {
		return nil, nil, nil
	}
	lower := storage.NewKey(nil, storage.PrefixMember).U32(ord)
	it := e.db.NewIter(lower, storage.PrefixEnd(nil, lower))
	var (
		recs []storage.Member
		ords []uint32
	)
	i := 0
	for ok := it.First(); ok && len(recs) < limit; ok = it.Next() {
		if i++; i <= offset {
			continue
		}
		k := it.Key()
		if len(k) != 9 {
			continue
		}
		var m storage.Member
		if err := m.Unmarshal(it.Value()); err != nil {
			_ = it.Close()
			return nil, nil, fmt.Errorf("cannot read members of channel %d: %w", ord, err)
		}
		m.Custom = slices.Clone(m.Custom)
		recs = append(recs, m)
		ords = append(ords, binary.BigEndian.Uint32(k[5:]))
	}
	if err := it.Close(); err != nil {
		return nil, nil, err
	}
	return recs, ords, nil
}

// memberIDs returns the user ids of every member of channel ord.
func (e *Engine) memberIDs(ord uint32) ([]string, error) {
	lower := storage.NewKey(nil, storage.PrefixMember).U32(ord)
	it := e.db.NewIter(lower, storage.PrefixEnd(nil, lower))
	var ids []string
	for ok := it.First(); ok; ok = it.Next() {
		if k := it.Key(); len(k) == 9 {
			ids = append(ids, e.db.Users.ID(binary.BigEndian.Uint32(k[5:])))
		}
	}
	return ids, it.Close()
}

// MessageInput is the message of a send-message request, decoded by httpd.
type MessageInput struct {
	ID, Type, Text, HTML string
	// UserID is the author (message.user_id or message.user.id); required.
	UserID string
	// Attachments is a JSON array (or empty).
	Attachments      []byte
	ParentID, PollID string
	ShowInChannel    bool
	Silent           bool
	MentionedUsers   []string
	// Custom is a compact JSON object of custom fields (or empty).
	Custom []byte
}

// SendMessageRequest is POST /channels/{type}/{id}/message, decoded by httpd.
type SendMessageRequest struct {
	Type, ID string
	Message  MessageInput
	SkipPush bool
}

// SendMessage stores a message in an existing channel, emitting message.new, and returns it.
func (e *Engine) SendMessage(req *SendMessageRequest) (*Message, error) {
	if err := CheckChannelType("type", req.Type); err != nil {
		return nil, err
	}
	if err := CheckChannelRef("id", req.ID); err != nil {
		return nil, err
	}
	in := &req.Message
	if in.UserID == "" {
		return nil, InputError("message.user_id", "message.user or message.user_id is required when using server side auth: name the message's author")
	}
	if err := CheckID("message.user_id", in.UserID); err != nil {
		return nil, err
	}
	if in.ID != "" {
		if err := CheckID("message.id", in.ID); err != nil {
			return nil, err
		}
	}
	switch in.Type {
	case "", MessageTypeRegular, MessageTypeSystem:
	default:
		return nil, InputError("message.type", "message.type %q cannot be sent; use %q or %q (replies get %q from parent_id)", in.Type, MessageTypeRegular, MessageTypeSystem, MessageTypeReply)
	}
	if len(in.Custom) > MaxChannelCustomSize {
		return nil, InputError("message", "the message's custom data is %d bytes; the maximum is %d", len(in.Custom), MaxChannelCustomSize)
	}
	if err := e.checkMessageInput(in); err != nil {
		return nil, err
	}
	for i, id := range in.MentionedUsers {
		if err := CheckID(fmt.Sprintf("message.mentioned_users[%d]", i), id); err != nil {
			return nil, err
		}
	}
	ords, missing, err := e.resolveUsers(append([]string{in.UserID}, in.MentionedUsers...))
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		if missing[0] == in.UserID {
			return nil, InputError("message.user_id", "message.user_id: user %q doesn't exist; create it first (POST /users)", in.UserID)
		}
		return nil, InputError("message.mentioned_users", "message.mentioned_users: the users [%s] don't exist", strings.Join(missing, " "))
	}
	msg := &storage.Message{
		ID: in.ID, Type: in.Type, Text: in.Text, HTML: in.HTML, User: ords[0],
		Attachments: in.Attachments, PollID: in.PollID, ParentID: in.ParentID,
		Silent: in.Silent, ShowInChannel: in.ShowInChannel, Custom: in.Custom,
	}
	if len(ords) > 1 {
		msg.MentionedUsers = slices.Compact(ords[1:])
	}

	tx := e.NewTx()
	ref, ok, err := e.ChannelTx(tx, req.Type, req.ID)
	if err != nil || !ok {
		tx.Discard()
		if err == nil {
			err = NotFoundError("Can't find channel with id %s:%s; create it first (POST /channels/%s/%s/query)", req.Type, req.ID, req.Type, req.ID)
		}
		return nil, err
	}
	if msg.ParentID != "" {
		chanOrd, _, _, ok, err := e.MessageByID(msg.ParentID)
		if err != nil {
			tx.Discard()
			return nil, err
		}
		if !ok || chanOrd != ref.Ord {
			tx.Discard()
			return nil, InputError("message.parent_id", "message.parent_id: no message %q in channel %s", msg.ParentID, ref.CID)
		}
		if msg.Type == "" || msg.Type == MessageTypeRegular {
			msg.Type = MessageTypeReply
		}
	}
	if err := e.AppendMessageTx(tx, ref, msg, &MessageOptions{SkipPush: req.SkipPush}); err != nil {
		tx.Discard()
		return nil, err
	}
	if err := e.Commit(tx); err != nil {
		return nil, fmt.Errorf("cannot store message in %s: %w", ref.CID, err)
	}
	refs := e.newUserRefs()
	out := &Message{Message: *msg, CID: ref.CID}
	if out.User, err = refs.get(msg.User); err != nil {
		return nil, err
	}
	for _, u := range msg.MentionedUsers {
		mu, err := refs.get(u)
		if err != nil {
			return nil, err
		}
		out.Mentioned = append(out.Mentioned, mu)
	}
	return out, nil
}

// QueryChannelsRequest is POST /channels, decoded by httpd.
type QueryChannelsRequest struct {
	// Filter is filter_conditions (JSON object, may be empty); Sort the sort parameter.
	Filter, Sort []byte
	// Limit (0 = default) and Offset page the channels.
	Limit, Offset int
	// MessageLimit (0 = DefaultMessageLimit, < 0 = none) and MemberLimit (0 =
	// DefaultMemberLimit, < 0 = none) bound each channel's messages and members.
	MessageLimit, MemberLimit int
}

// QueryChannels returns the states of the page of channels req selects.
//
// Candidates come from the cheapest index the filter allows: the cids it pins ($eq/$in on cid,
// or on type and id), the channels of the users it names in "members" (reverse membership keys),
// else a scan of every channel. Each candidate is then matched with the compiled filter. The
// default sort is last_updated (the later of last_message_at and created_at) descending.
func (e *Engine) QueryChannels(req *QueryChannelsRequest) ([]*ChannelState, error) {
	f, err := filter.Compile(req.Filter, filter.ChannelSchema)
	if err != nil {
		return nil, FilterInputError("filter_conditions", err)
	}
	sort, err := filter.ParseSort(req.Sort, filter.ChannelSchema)
	if err != nil {
		return nil, FilterInputError("sort", err)
	}
	if len(sort) == 0 {
		sort = []filter.SortField{{Field: "last_updated", Source: "last_updated", Kind: filter.KindTime, Direction: -1}}
	}
	if err := checkPage(&req.Limit, DefaultQueryChannelsLimit, MaxQueryChannelsLimit, "limit"); err != nil {
		return nil, err
	}
	if req.Limit < 0 {
		return nil, InputError("limit", "limit must not be negative")
	}
	if req.Offset < 0 || req.Offset > MaxQueryChannelsOffset {
		return nil, InputError("offset", "offset must be between 0 and %d", MaxQueryChannelsOffset)
	}
	page := MessagePage{Limit: req.MessageLimit}
	if err := checkPage(&page.Limit, DefaultMessageLimit, MaxMessageLimit, "message_limit"); err != nil {
		return nil, err
	}
	if err := checkPage(&req.MemberLimit, DefaultMemberLimit, MaxMemberLimit, "member_limit"); err != nil {
		return nil, err
	}

	keep := req.Offset + req.Limit
	var docs []*channelDoc
	cmp := func(a, b *channelDoc) int {
		if c := filter.Compare(a, b, sort); c != 0 {
			return c
		}
		return int(a.ord) - int(b.ord)
	}
	var derr error
	scratch := &channelDoc{e: e}
	visit := func(ord uint32, ch *storage.Channel) bool {
		d := scratch
		*d = channelDoc{e: e, ord: ord, ch: ch}
		matched := f.Match(d)
		if d.err != nil {
			derr = d.err
			return false
		}
		if !matched {
			return true
		}
		kept := *d
		kept.ch = cloneChannel(ch)
		docs = append(docs, &kept)
		if len(docs) >= 2*keep+64 {
			slices.SortFunc(docs, cmp)
			clear(docs[keep:])
			docs = docs[:keep]
		}
		return true
	}
	if err := e.channelCandidates(f, req.Filter, visit); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	slices.SortFunc(docs, cmp)
	if req.Offset >= len(docs) {
		docs = nil
	} else {
		docs = docs[req.Offset:min(len(docs), keep)]
	}
	refs := e.newUserRefs()
	states := make([]*ChannelState, len(docs))
	for i, d := range docs {
		if states[i], err = e.channelState(d.ord, d.ch, &page, req.MemberLimit, 0, refs); err != nil {
			return nil, err
		}
	}
	return states, nil
}

// channelCandidates calls visit for each channel that may match f (see QueryChannels), until
// visit returns false. NB: ch may alias iterator memory reused after visit returns: a visit that
// keeps it must cloneChannel it.
func (e *Engine) channelCandidates(f *filter.Filter, raw []byte, visit func(ord uint32, ch *storage.Channel) bool) error {
	var ords []uint32
	switch cids, ok := f.IDs("cid"); {
	case ok:
		for _, cid := range cids {
			if o, ok := e.db.Channels.Lookup(cid); ok {
				ords = append(ords, o)
			}
		}
	default:
		types, okT := f.IDs("type")
		ids, okI := f.IDs("id")
		users, okM := filterMembers(raw)
		switch {
		case okT && okI:
			for _, t := range types {
				for _, id := range ids {
					if o, ok := e.db.Channels.Lookup(t + ":" + id); ok {
						ords = append(ords, o)
					}
				}
			}
		case okM:
			var err error
			if ords, err = e.channelsOfUsers(users); err != nil {
				return err
			}
		default:
			return e.scanChannels(visit)
		}
	}
	slices.Sort(ords)
	ords = slices.Compact(ords)
	for _, o := range ords {
		ch, ok, err := e.channelByOrd(o)
		if err != nil {
			return err
		}
		if ok && !visit(o, ch) {
			return nil
		}
	}
	return nil
}

// scanChannels calls visit for every stored channel in ordinal order until it returns false.
// NB: ch aliases iterator memory and is reused: it is valid only during the call (cloneChannel).
func (e *Engine) scanChannels(visit func(ord uint32, ch *storage.Channel) bool) error {
	lower := []byte{storage.PrefixChannel}
	it := e.db.NewIter(lower, []byte{storage.PrefixChannel + 1})
	var ch storage.Channel
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 5 {
			continue
		}
		if err := ch.UnmarshalNoCopy(it.Value()); err != nil {
			_ = it.Close()
			return fmt.Errorf("cannot read channel %x: %w", k, err)
		}
		if !visit(binary.BigEndian.Uint32(k[1:]), &ch) {
			break
		}
	}
	return it.Close()
}

// channelsOfUsers returns the channels any of ids is a member of, through the reverse
// membership keys.
func (e *Engine) channelsOfUsers(ids []string) ([]uint32, error) {
	var ords []uint32
	for _, id := range ids {
		u, ok := e.db.Users.Lookup(id)
		if !ok {
			continue
		}
		lower := storage.NewKey(nil, storage.PrefixUserChannel).U32(u)
		it := e.db.NewIter(lower, storage.PrefixEnd(nil, lower))
		for ok := it.First(); ok; ok = it.Next() {
			if k := it.Key(); len(k) == 9 {
				ords = append(ords, binary.BigEndian.Uint32(k[5:]))
			}
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
	}
	return ords, nil
}

// filterMembers returns the user ids a matching channel must have at least one of, when the
// filter's top level says so: "members": "u", ["a","b"], {"$eq": ...} or {"$in": [...]}.
func filterMembers(raw []byte) ([]string, bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return nil, false
	}
	v, ok := top["members"]
	if !ok {
		return nil, false
	}
	list := func(v json.RawMessage) ([]string, bool) {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return []string{s}, true
		}
		var ss []string
		if json.Unmarshal(v, &ss) == nil && len(ss) > 0 {
			return ss, true
		}
		return nil, false
	}
	if ids, ok := list(v); ok {
		return ids, true
	}
	var ops map[string]json.RawMessage
	if json.Unmarshal(v, &ops) != nil {
		return nil, false
	}
	for _, op := range []string{"$eq", "$in"} {
		if x, ok := ops[op]; ok {
			if ids, ok := list(x); ok {
				return ids, true
			}
		}
	}
	return nil, false
}

// channelDoc is a channel as a filter.Doc. "members" is loaded on first use.
type channelDoc struct {
	e       *Engine
	ord     uint32
	ch      *storage.Channel
	members []string
	loaded  bool
	err     error
}

// Field implements filter.Doc. Beyond ChannelSchema's fields it answers "last_updated",
// "member_count", "message_count", "frozen" and "disabled" (usable in sort and filters).
func (d *channelDoc) Field(name string) (filter.Value, bool) {
	ch := d.ch
	switch name {
	case "cid":
		return filter.StringValue(ch.Type + ":" + ch.ID), true
	case "id":
		return filter.StringValue(ch.ID), true
	case "type":
		return filter.StringValue(ch.Type), true
	case "members":
		if !d.loaded {
			d.loaded = true
			d.members, d.err = d.e.memberIDs(d.ord)
		}
		return filter.ListValue(d.members), len(d.members) > 0
	case "created_by_id":
		return filter.StringValue(d.e.db.Users.ID(ch.CreatedBy)), ch.CreatedBy != 0
	case "team":
		return filter.StringValue(ch.Team), ch.Team != ""
	case "last_message_at":
		return filter.TimeValue(ch.LastMessageAt), ch.LastMessageAt != 0
	case "created_at":
		return filter.TimeValue(ch.CreatedAt), true
	case "updated_at":
		return filter.TimeValue(ch.UpdatedAt), true
	case "last_updated":
		return filter.TimeValue(max(ch.LastMessageAt, ch.CreatedAt)), true
	case "member_count":
		return filter.NumberValue(float64(ch.MemberCount)), true
	case "message_count":
		return filter.NumberValue(float64(ch.MessageCount)), true
	case "frozen":
		return filter.BoolValue(ch.Frozen), true
	case "disabled":
		return filter.BoolValue(ch.Disabled), true
	}
	return filter.CustomValue(ch.Custom, name)
}

// cloneChannel returns a copy of ch that aliases nothing.
func cloneChannel(ch *storage.Channel) *storage.Channel {
	c := *ch
	c.Type = strings.Clone(ch.Type)
	c.ID = strings.Clone(ch.ID)
	c.Team = strings.Clone(ch.Team)
	c.Custom = slices.Clone(ch.Custom)
	return &c
}
