package engine

import (
	"fmt"
	"sync"

	"github.com/campaignd/campaignd/engine/outbox"
	"github.com/campaignd/campaignd/storage"
)

// Rendering a fan-out chunk's events (storage.CampaignChunk outbox entries) for the relays.
//
// A chunk's outbox entry holds no JSON: for each recipient it names the records (receiver,
// channel, message) and records what may change later (an existing channel's counters and members
// as of the chunk's batch). The relays render channel.created and message.new from it when they
// deliver (the records loaded here, the JSON by the engine's Encoder, the sender's UserResponse
// encoded once per chunk), so each body shows:
//   - the message as stored (campaign messages are immutable once sent);
//   - a channel the chunk created as it was created: its type and id, the campaign's team and custom
//     data, created by the sender at the chunk's time, with the members the campaign gave it
//     (receiver, sender unless sender_mode is "exclude", template members) and no message yet in
//     channel.created; one message in message.new;
//   - an existing channel with the counters and the member list of the chunk's batch, its team and
//     each listed member's role and custom data as stored at delivery;
//   - users (sender, receiver, members) as their records are at delivery: normally milliseconds
//     after the commit, longer while a sink is down.
//
// Ids (derived from campaign and recipient), keys (the cid), order and flags are those the chunk
// fixed, so a body rendered again after a restart is the same but for users or channels changed
// meanwhile.

// chunkRenderer is the reusable state of one renderChunk call (pooled). The events are encoded by
// the engine's Encoder from created and newMsg, which point into the renderer: passing them does
// not allocate.
type chunkRenderer struct {
	chunk     storage.CampaignChunk
	users     map[uint32][]byte // encoded UserResponses of the sender and other members
	user      storage.User
	msg       storage.Message
	ch        storage.Channel
	created   ChannelCreated
	newMsg    MessageNew
	createdCh storage.Channel // the channel as channel.created shows it
	rcv       []byte          // the receiver's UserResponse
	members   []EventMember   // the listed members
	custom    []byte          // arena of the listed members' custom data
	body      []byte
	receivers []string
	memOrds   []uint32
}

var chunkRendererPool = sync.Pool{New: func() any { return &chunkRenderer{users: make(map[uint32][]byte)} }}

// renderChunk renders the events of the CampaignChunk entry v, stored at seq first, whose seqs lie
// in [from, to): it calls emit, in seq order, for each event keep takes, and returns the first seq
// it did not cover: to (or the entry's end), or the seq after an event for which emit returned
// false (the caller's batch is full). emit must copy what it keeps of ev.
func (e *Engine) renderChunk(first uint64, v []byte, from, to uint64, keep outbox.Filter, emit func(seq uint64, ev *storage.OutboxEvent) bool) (uint64, error) {
	r := chunkRendererPool.Get().(*chunkRenderer)
	defer func() {
		clear(r.users)
		clear(r.receivers)
		clear(r.members)
		r.created, r.newMsg = ChannelCreated{}, MessageNew{}
		chunkRendererPool.Put(r)
	}()
	c := &r.chunk
	if err := c.Unmarshal(v); err != nil {
		return to, err
	}
	rd := e.db.NewRecordReader()
	defer rd.Close()
	sender, err := r.userJSON(e, rd, c.Sender)
	if err != nil {
		return to, err
	}
	seq := first
	for i := range c.Items {
		it := &c.Items[i]
		n := uint64(1)
		if it.Created {
			n = 2
		}
		if seq+n <= from {
			seq += n
			continue
		}
		if seq >= to {
			return seq, nil
		}
		wantCreated := it.Created && seq >= from && keep("channel.created", c.SkipWebhook, true)
		newSeq := seq + n - 1
		wantNew := newSeq < to && keep("message.new", c.SkipWebhook, c.SkipPush)
		if !wantCreated && !wantNew {
			seq += n
			continue
		}
		if ok, err := r.load(e, rd, it); err != nil {
			return seq, err
		} else if !ok {
			// NB: the message was removed before its events were delivered: nothing is left to
			// show; its events are passed over (the chunk's other events are delivered).
			e.log.Warn("campaign message removed before its events were delivered; skipping them",
				"campaign", c.CampaignID, "channel", it.Channel, "seq", it.Seq)
			seq += n
			continue
		}
		if err := r.channel(e, rd, it.Channel); err != nil {
			return seq, err
		}
		cid := r.ch.Type + ":" + r.ch.ID
		recipient := cid
		if !c.Channels {
			recipient = e.db.Users.ID(it.User)
		}
		if it.Created {
			if err := r.createdChannel(e, rd, it, cid, sender); err != nil {
				return seq, err
			}
		} else if err := r.existingChannel(e, rd, it, cid); err != nil {
			return seq, err
		}
		if wantCreated {
			r.createdCh = r.ch
			r.createdCh.MessageCount, r.createdCh.LastMessageAt, r.createdCh.NextSeq = 0, 0, 1
			r.created = ChannelCreated{Channel: &r.createdCh, Creator: sender, Members: r.members, At: c.CreatedAt}
			r.body = e.enc.AppendChannelCreated(r.body[:0], &r.created)
			ev := storage.OutboxEvent{
				ID: derivedID(c.CampaignID, "channel.created", recipient), Type: "channel.created", Key: cid,
				SkipWebhook: c.SkipWebhook, SkipPush: true, JSON: r.body,
			}
			if !emit(seq, &ev) {
				return seq + 1, nil
			}
		}
		if wantNew {
			r.newMsg = MessageNew{Channel: &r.ch, Message: &r.msg, Author: sender, Members: r.members}
			r.body = e.enc.AppendMessageNew(r.body[:0], &r.newMsg)
			ev := storage.OutboxEvent{
				ID: derivedID(c.CampaignID, "message.new", recipient), Type: "message.new", Key: cid,
				SkipWebhook: c.SkipWebhook, SkipPush: c.SkipPush, Receivers: r.receivers, JSON: r.body,
			}
			if !emit(newSeq, &ev) {
				return newSeq + 1, nil
			}
		}
		seq += n
	}
	return seq, nil
}

// load reads the message of it and, for user audiences, the receiver's UserResponse into r. It
// reports false when the message is gone.
func (r *chunkRenderer) load(e *Engine, rd *storage.RecordReader, it *storage.ChunkItem) (bool, error) {
	v, ok := rd.Message(it.Channel, it.Seq)
	if !ok {
		return false, nil
	}
	if err := r.msg.UnmarshalNoCopy(v); err != nil {
		return false, fmt.Errorf("cannot render the events of message %d of channel %d: %w", it.Seq, it.Channel, err)
	}
	// NB: the message aliases the reader's memory; the next reads are of other keyspaces.
	r.rcv = r.rcv[:0]
	if r.chunk.Channels {
		return true, nil
	}
	if v, ok := rd.User(it.User); ok {
		if err := r.user.UnmarshalNoCopy(v); err != nil {
			return false, fmt.Errorf("cannot read user %d: %w", it.User, err)
		}
		r.rcv = e.enc.AppendUser(r.rcv, &r.user)
	} else {
		r.rcv = e.enc.AppendGoneUser(r.rcv, e.db.Users.ID(it.User))
	}
	return true, nil
}

// channel reads channel ord's record into r.ch (aliasing the reader's memory until the next
// channel read). A channel deleted since is named by its interned cid.
func (r *chunkRenderer) channel(e *Engine, rd *storage.RecordReader, ord uint32) error {
	if v, ok := rd.Channel(ord); ok {
		if err := r.ch.UnmarshalNoCopy(v); err != nil {
			return fmt.Errorf("cannot read channel %d: %w", ord, err)
		}
		return nil
	}
	typ, id, _ := cutCID(e.db.Channels.ID(ord))
	r.ch = storage.Channel{Type: typ, ID: id}
	return nil
}

// createdChannel sets r.ch (read by channel), r.members and r.receivers for a channel the chunk
// created: as the chunk created it.
func (r *chunkRenderer) createdChannel(e *Engine, rd *storage.RecordReader, it *storage.ChunkItem, cid string, sender []byte) error {
	c := &r.chunk
	r.ch = storage.Channel{
		Type: r.ch.Type, ID: r.ch.ID, CreatedBy: c.Sender, Team: c.Team, Custom: c.Custom,
		CreatedAt: c.CreatedAt, UpdatedAt: c.CreatedAt, MessageCount: 1, LastMessageAt: r.msg.CreatedAt, NextSeq: 2,
	}
	r.members = r.members[:0]
	r.receivers = r.receivers[:0]
	r.memOrds = r.memOrds[:0]
	add := func(user uint32, role string, custom, userJSON []byte) {
		for _, o := range r.memOrds {
			if o == user {
				return
			}
		}
		r.memOrds = append(r.memOrds, user)
		r.ch.MemberCount++
		if user != c.Sender {
			r.receivers = append(r.receivers, e.db.Users.ID(user))
		}
		if len(r.memOrds) > maxEventMembers {
			return
		}
		if role == "" {
			role = DefaultChannelRole
		}
		r.members = append(r.members, EventMember{
			UserID: e.db.Users.ID(user), Creator: user == c.Sender, User: userJSON,
			Member: storage.Member{ChannelRole: role, CreatedAt: c.CreatedAt, UpdatedAt: c.CreatedAt, Custom: custom},
		})
	}
	if c.Channels {
		return fmt.Errorf("cannot render campaign %q: a channel audience created channel %s: %w", c.CampaignID, cid, storage.ErrCorrupt)
	}
	add(it.User, "", nil, r.rcv)
	if c.SenderMember {
		add(c.Sender, "", nil, sender)
	}
	for i := range c.Members {
		m := &c.Members[i]
		if m.User == it.User {
			continue
		}
		j, err := r.userJSON(e, rd, m.User)
		if err != nil {
			return err
		}
		add(m.User, m.Role, m.Custom, j)
	}
	return nil
}

// existingChannel sets r.ch (read by channel), r.members and r.receivers for a channel that
// existed before the chunk.
func (r *chunkRenderer) existingChannel(e *Engine, rd *storage.RecordReader, it *storage.ChunkItem, cid string) error {
	c := &r.chunk
	r.ch.MemberCount, r.ch.MessageCount = it.MemberCount, it.MessageCount
	r.members = r.members[:0]
	r.custom = r.custom[:0]
	r.receivers = r.receivers[:0]
	listed := 0
	for _, u := range it.Members {
		if u != c.Sender {
			r.receivers = append(r.receivers, e.db.Users.ID(u))
		}
		if listed == maxEventMembers {
			continue
		}
		v, ok := rd.Member(it.Channel, u)
		if !ok {
			continue // left the channel since
		}
		r.members = append(r.members, EventMember{UserID: e.db.Users.ID(u), Creator: u == r.ch.CreatedBy})
		m := &r.members[len(r.members)-1]
		if err := m.Member.Unmarshal(v); err != nil {
			return fmt.Errorf("cannot read a member of %s: %w", cid, err)
		}
		// NB: Custom aliases the reader's memory, which the next member read reuses.
		start := len(r.custom)
		r.custom = append(r.custom, m.Member.Custom...)
		m.Member.Custom = r.custom[start:len(r.custom):len(r.custom)]
		var j []byte
		if u == it.User && !c.Channels {
			j = r.rcv
		} else {
			var err error
			if j, err = r.userJSON(e, rd, u); err != nil {
				return err
			}
		}
		m.User = j
		listed++
	}
	return nil
}

// userJSON returns the UserResponse of ord, encoded once per render call.
func (r *chunkRenderer) userJSON(e *Engine, rd *storage.RecordReader, ord uint32) ([]byte, error) {
	if j, ok := r.users[ord]; ok {
		return j, nil
	}
	var j []byte
	if v, ok := rd.User(ord); ok {
		// NB: r.user is free: the receiver's UserResponse is encoded already (load).
		if err := r.user.UnmarshalNoCopy(v); err != nil {
			return nil, fmt.Errorf("cannot read user %d: %w", ord, err)
		}
		j = e.enc.AppendUser(nil, &r.user)
	} else {
		j = e.enc.AppendGoneUser(nil, e.db.Users.ID(ord))
	}
	r.users[ord] = j
	return j, nil
}
