package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/campaignd/campaignd/storage"
)

// MessageOptions tunes AppendMessageTx.
type MessageOptions struct {
	// NoEvent writes no message.new event.
	NoEvent bool
	// SkipWebhook and SkipPush keep the event off those sinks.
	SkipWebhook bool
	SkipPush    bool
	// EventID is the event's id; "" = a random UUID.
	EventID string
	// TrustID skips the duplicate check of msg.ID: for ids unique by construction (ids derived
	// from a campaign and a recipient). It saves one Pebble read per message.
	TrustID bool
}

// Message types.
const (
	MessageTypeRegular = "regular"
	MessageTypeSystem  = "system"
	MessageTypeReply   = "reply"
)

// AppendMessageTx appends msg to the locked channel ref within tx: it assigns the next seq, writes
// the message, its id-index entry and the updated channel (message count, last_message_at) and,
// unless opts.NoEvent, emits message.new (Key = cid, Receivers = every member but the author).
// Nothing is committed: the caller commits tx.
//
// msg.User must name an existing user; msg.ID "" gets a random UUID; msg.Type "" becomes
// "regular"; msg.CreatedAt 0 becomes now. A msg.ID already used (committed, in tx, or reserved
// by another live Tx) is an input error unless opts.TrustID. msg is owned by the call: its
// slices must not change until tx ends.
func (e *Engine) AppendMessageTx(tx *Tx, ref *ChannelRef, msg *storage.Message, opts *MessageOptions) error {
	e.checkLocked(tx, ref)
	if opts == nil {
		opts = &MessageOptions{}
	}
	if msg.ID == "" {
		msg.ID = uuid.NewString()
	} else if !opts.TrustID {
		if err := e.checkNewMessageID(tx, msg.ID); err != nil {
			return err
		}
	}
	if msg.Type == "" {
		msg.Type = MessageTypeRegular
	}
	if msg.CreatedAt == 0 {
		msg.CreatedAt = e.nowMicros()
	}
	if msg.UpdatedAt == 0 {
		msg.UpdatedAt = msg.CreatedAt
	}
	ch := &ref.Ch
	if ch.NextSeq == 0 {
		ch.NextSeq = 1
	}
	seq := ch.NextSeq
	ch.NextSeq++
	ch.MessageCount++
	if msg.CreatedAt > ch.LastMessageAt {
		ch.LastMessageAt = msg.CreatedAt
	}

	var kb [16]byte
	buf := getBuf()
	defer putBuf(buf)
	*buf = msg.Marshal((*buf)[:0])
	tx.B.Set(storage.MessageKey(kb[:0], ref.Ord, seq), *buf)
	idKey := storage.MessageIDKey((*buf)[:0], msg.ID)
	tx.B.Set(idKey, storage.AppendMessageRef(kb[:0], ref.Ord, seq))
	e.putChannelTx(tx, ref)
	if opts.NoEvent {
		return nil
	}

	if ref.members == nil {
		if err := e.loadEventMembersTx(tx, ref); err != nil {
			return err
		}
	}
	author, err := e.userJSON(nil, msg.User)
	if err != nil {
		return err
	}
	mentioned, err := e.mentionedJSON(msg.MentionedUsers)
	if err != nil {
		return err
	}
	var receivers []string
	for i, u := range ref.members.ords {
		if u != msg.User {
			if receivers == nil {
				receivers = make([]string, 0, len(ref.members.ords))
			}
			receivers = append(receivers, ref.members.ids[i])
		}
	}
	ev := &MessageNew{Channel: &ref.Ch, Message: msg, Author: author, Mentioned: mentioned, Members: ref.members.list}
	tx.Emit(Event{
		ID: eventID(opts.EventID), Type: "message.new", Key: ref.CID,
		SkipWebhook: opts.SkipWebhook, SkipPush: opts.SkipPush, Receivers: receivers,
		JSON: e.enc.AppendMessageNew(nil, ev),
	})
	return nil
}

// checkNewMessageID fails with an input error when id is taken; otherwise it reserves id for tx.
func (e *Engine) checkNewMessageID(tx *Tx, id string) error {
	if err := CheckID("message.id", id); err != nil {
		return err
	}
	buf := getBuf()
	defer putBuf(buf)
	_, err := tx.B.Get(nil, storage.MessageIDKey((*buf)[:0], id))
	switch {
	case err == nil:
	case errors.Is(err, storage.ErrNotFound):
		if e.reserveMessageID(tx, id) {
			return nil
		}
	default:
		return err
	}
	return InputError("message.id", "a message with id %q already exists; send a new id or none", id)
}

func eventID(id string) string {
	if id != "" {
		return id
	}
	return uuid.NewString()
}

// mentionedJSON returns the UserResponses of ords, or nil when there are none.
func (e *Engine) mentionedJSON(ords []uint32) ([][]byte, error) {
	if len(ords) == 0 {
		return nil, nil
	}
	out := make([][]byte, len(ords))
	for i, o := range ords {
		j, err := e.userJSON(nil, o)
		if err != nil {
			return nil, err
		}
		out[i] = j
	}
	return out, nil
}

// MessageByID returns the message with id: its channel ordinal, its seq and the record.
// ok is false when no such message exists.
func (e *Engine) MessageByID(id string) (chanOrd uint32, seq uint64, msg *storage.Message, ok bool, err error) {
	buf := getBuf()
	defer putBuf(buf)
	k := storage.MessageIDKey(nil, id)
	v, err := e.db.Get((*buf)[:0], k)
	*buf = v
	if errors.Is(err, storage.ErrNotFound) {
		return 0, 0, nil, false, nil
	}
	if err != nil {
		return 0, 0, nil, false, err
	}
	if chanOrd, seq, err = storage.ParseMessageRef(v); err != nil {
		return 0, 0, nil, false, err
	}
	v, err = e.db.Get((*buf)[:0], storage.MessageKey(nil, chanOrd, seq))
	*buf = v
	if errors.Is(err, storage.ErrNotFound) {
		return 0, 0, nil, false, nil
	}
	if err != nil {
		return 0, 0, nil, false, err
	}
	msg = &storage.Message{}
	if err := msg.Unmarshal(v); err != nil {
		return 0, 0, nil, false, fmt.Errorf("cannot read message %q: %w", id, err)
	}
	msg.Attachments = slices.Clone(msg.Attachments)
	msg.Custom = slices.Clone(msg.Custom)
	return chanOrd, seq, msg, true, nil
}

// MessagePage selects messages of a channel: get-or-create's "messages" {limit, id_lt, id_lte,
// id_gt, id_gte}. IDs name messages of the channel; at most one of IDLt/IDLte and one of
// IDGt/IDGte is used.
type MessagePage struct {
	Limit       int
	IDLt, IDLte string
	IDGt, IDGte string
}

// Default and maximum message page sizes.
const (
	DefaultMessageLimit = 25
	MaxMessageLimit     = 300
)

// ChannelMessages returns up to page.Limit messages of channel ord, oldest first. Without a lower
// bound it is the newest page below the upper bound (or the newest messages); with only a lower
// bound, the oldest page above it.
func (e *Engine) ChannelMessages(ord uint32, page *MessagePage) ([]storage.Message, error) {
	limit := page.Limit
	if limit <= 0 {
		return nil, nil
	}
	lower := storage.MessageKey(nil, ord, 0)
	upper := storage.MessageKey(nil, ord, 1<<64-1)
	seqOf := func(field, id string) (uint64, error) {
		chanOrd, seq, _, ok, err := e.MessageByID(id)
		if err != nil {
			return 0, err
		}
		if !ok || chanOrd != ord {
			return 0, InputError(field, "%s: no message %q in this channel", field, id)
		}
		return seq, nil
	}
	hasLower := false
	switch {
	case page.IDGt != "":
		seq, err := seqOf("messages.id_gt", page.IDGt)
		if err != nil {
			return nil, err
		}
		lower, hasLower = storage.MessageKey(lower[:0], ord, seq+1), true
	case page.IDGte != "":
		seq, err := seqOf("messages.id_gte", page.IDGte)
		if err != nil {
			return nil, err
		}
		lower, hasLower = storage.MessageKey(lower[:0], ord, seq), true
	}
	hasUpper := false
	switch {
	case page.IDLt != "":
		seq, err := seqOf("messages.id_lt", page.IDLt)
		if err != nil {
			return nil, err
		}
		upper, hasUpper = storage.MessageKey(upper[:0], ord, seq), true
	case page.IDLte != "":
		seq, err := seqOf("messages.id_lte", page.IDLte)
		if err != nil {
			return nil, err
		}
		upper, hasUpper = storage.MessageKey(upper[:0], ord, seq+1), true
	}
	it := e.db.NewIter(lower, upper)
	var out []storage.Message
	add := func() error {
		var m storage.Message
		if err := m.Unmarshal(it.Value()); err != nil {
			return fmt.Errorf("cannot read message %x: %w", it.Key(), err)
		}
		m.Attachments = slices.Clone(m.Attachments)
		m.Custom = slices.Clone(m.Custom)
		out = append(out, m)
		return nil
	}
	if hasLower && !hasUpper {
		for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
			if err := add(); err != nil {
				_ = it.Close()
				return nil, err
			}
		}
	} else {
		for ok := it.Last(); ok && len(out) < limit; ok = it.Prev() {
			if err := add(); err != nil {
				_ = it.Close()
				return nil, err
			}
		}
		slices.Reverse(out)
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	return out, nil
}
