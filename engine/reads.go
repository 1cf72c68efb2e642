package engine

import (
	"fmt"
	"slices"

	"github.com/campaignd/campaignd/storage"
)

// Read state: each member's last read (storage.Member LastRead, LastReadSeq), mark read of one
// channel or of all of a user's channels, the unread counts, and the channel state's "read" list.
// A read that covers a campaign's message to the reader writes the campaign's read marker
// (campaignreads.go).
//
// A member's unread messages are the messages after its last read (and after what it cleared)
// written by someone else and not deleted. They are counted when asked for, over at most
// MaxUnreadCount messages: nothing is kept per message and member, so the fan-out writes nothing
// for it.

// MaxUnreadCount is the most unread messages counted per member and channel: a member further
// behind shows MaxUnreadCount.
const MaxUnreadCount = 1000

// MarkReadRequest is POST /channels/{type}/{id}/read (decoded by wire).
type MarkReadRequest struct {
	Type, ID string
	// UserID is the reader (user_id or user.id); required server-side.
	UserID string
	// MessageID is the last message read; "" marks the whole channel read.
	MessageID string
}

// ChannelRead is a member's read of a channel: what mark read returns and message.read shows.
type ChannelRead struct {
	Channel storage.Channel
	User    UserRef
	// LastReadMessageID is the id of the last message read ("" when the channel has none).
	LastReadMessageID string
	At                int64
}

// ReadState is one member's read state as a channel's "read" list shows it.
type ReadState struct {
	User UserRef
	// LastRead is when the member last marked the channel read (its joining time if never).
	LastRead int64
	// Unread is the number of unread messages (at most MaxUnreadCount).
	Unread int
	// LastReadMessageID is the id of the last message read; "" when none.
	LastReadMessageID string
}

// MarkRead marks channel req.Type:req.ID read for req.UserID up to req.MessageID (or its newest
// message), emits message.read and returns what the event shows. The reader must be a member.
func (e *Engine) MarkRead(req *MarkReadRequest) (*ChannelRead, error) {
	if err := CheckChannelType("type", req.Type); err != nil {
		return nil, err
	}
	if err := CheckChannelRef("id", req.ID); err != nil {
		return nil, err
	}
	reader, err := e.reader(req.UserID)
	if err != nil {
		return nil, err
	}
	tx := e.NewTx()
	ref, ok, err := e.ChannelTx(tx, req.Type, req.ID)
	if err == nil && !ok {
		err = channelNotFound(req.Type, req.ID)
	}
	if err != nil {
		tx.Discard()
		return nil, err
	}
	m, err := e.memberRecordTx(tx, ref.Ord, reader)
	if err != nil {
		tx.Discard()
		if isNotFound(err) {
			return nil, InputError("user_id", "user %q is not a member of channel %s: only members have a read state", req.UserID, ref.CID)
		}
		return nil, err
	}
	upTo := ref.Ch.NextSeq - 1
	if ref.Ch.NextSeq == 0 {
		upTo = 0
	}
	lastID := ""
	if req.MessageID != "" {
		chanOrd, seq, msg, ok, err := e.MessageByID(req.MessageID)
		if err != nil {
			tx.Discard()
			return nil, err
		}
		if !ok || chanOrd != ref.Ord {
			tx.Discard()
			return nil, InputError("message_id", "message_id: no message %q in channel %s", req.MessageID, ref.CID)
		}
		upTo, lastID = seq, msg.ID
	} else if upTo > 0 {
		if lastID, err = e.messageIDAt(ref.Ord, upTo); err != nil {
			tx.Discard()
			return nil, err
		}
	}
	now := e.nowMicros()
	reads := &pendingReads{}
	if err := e.markReadTx(tx, ref.Ord, ref.CID, reader, m, upTo, now, reads); err != nil {
		reads.end(false)
		tx.Discard()
		return nil, err
	}
	refs := e.newUserRefs()
	user, err := refs.get(reader)
	if err != nil {
		reads.end(false)
		tx.Discard()
		return nil, err
	}
	out := &ChannelRead{Channel: ref.Ch, User: user, LastReadMessageID: lastID, At: now}
	if err := e.emitMessageRead(tx, ref.CID, &out.Channel, reader, lastID, now); err != nil {
		reads.end(false)
		tx.Discard()
		return nil, err
	}
	err = e.Commit(tx)
	reads.end(err == nil)
	if err != nil {
		return nil, fmt.Errorf("cannot mark %s read: %w", ref.CID, err)
	}
	return out, nil
}

// reader returns the ordinal of userID, the live user a read is for.
func (e *Engine) reader(userID string) (uint32, error) {
	if userID == "" {
		return 0, InputError("user_id", "user_id (or user.id) is required when using server side auth: name the user whose read state changes")
	}
	if err := CheckID("user_id", userID); err != nil {
		return 0, err
	}
	ords, missing, err := e.resolveUsers([]string{userID})
	if err != nil {
		return 0, err
	}
	if len(missing) > 0 {
		return 0, InputError("user_id", "user %q doesn't exist; create it first (POST /users)", userID)
	}
	return ords[0], nil
}

func channelNotFound(typ, id string) error {
	return NotFoundError("Can't find channel with id %s:%s; create it first (POST /channels/%s/%s/query)", typ, id, typ, id)
}

// markReadTx moves member m (of user reader in the latched channel chanOrd) to having read up to
// seq upTo at now, writing the member into tx, and adds to reads the campaign read markers the
// read covers (campaignreads.go). A read that goes back (an older message_id) moves the last read
// back without removing markers.
func (e *Engine) markReadTx(tx *Tx, chanOrd uint32, cid string, reader uint32, m *storage.Member, upTo uint64, now int64, reads *pendingReads) error {
	if upTo > m.LastReadSeq {
		if err := e.campaignReadsTx(tx, chanOrd, cid, reader, m.LastReadSeq, upTo, now, reads); err != nil {
			return err
		}
	}
	m.LastRead, m.LastReadSeq = now, upTo
	buf := getBuf()
	*buf = m.Marshal((*buf)[:0])
	tx.B.PutMember(chanOrd, reader, *buf)
	putBuf(buf)
	return nil
}

// emitMessageRead emits message.read of user reader in channel ch.
func (e *Engine) emitMessageRead(tx *Tx, cid string, ch *storage.Channel, reader uint32, lastID string, at int64) error {
	user, err := e.userJSON(nil, reader)
	if err != nil {
		return err
	}
	tx.Emit(Event{
		ID: eventID(""), Type: "message.read", Key: cid, SkipPush: true,
		JSON: e.enc.AppendChannelEvent(nil, &ChannelEvent{Type: "message.read", Channel: ch, User: user, LastReadMessageID: lastID, At: at}),
	})
	return nil
}

// messageIDAt returns the id of message seq of channel ord ("" when it is gone).
func (e *Engine) messageIDAt(ord uint32, seq uint64) (string, error) {
	var kb [16]byte
	var m storage.Message
	found, err := storage.GetRecord(e.db, storage.MessageKey(kb[:0], ord, seq), &m)
	if err != nil || !found {
		return "", err
	}
	return m.ID, nil
}

// markChannelsReadBatch is how many channels one Tx of MarkChannelsRead marks.
const markChannelsReadBatch = 256

// MarkChannelsRead marks channels read for userID (POST /channels/read): every channel the user
// is a member of when readByChannel is empty, else the channels it names (cid → the last message
// read, "" for the newest). It emits message.read for each channel whose read state moved. The
// channels are marked in batches of markChannelsReadBatch, one Tx each.
func (e *Engine) MarkChannelsRead(userID string, readByChannel map[string]string) error {
	reader, err := e.reader(userID)
	if err != nil {
		return err
	}
	var ords []uint32
	upTo := map[uint32]uint64{} // explicit last message seqs
	if len(readByChannel) == 0 {
		if err := storage.ScanUserChannels(e.db, reader, func(ch uint32) bool { ords = append(ords, ch); return true }); err != nil {
			return err
		}
	} else {
		for cid, msgID := range readByChannel {
			field := "read_by_channel." + cid
			typ, id, ok := cutCID(cid)
			if !ok {
				return InputError(field, "read_by_channel keys are channel cids (type:id), not %q", cid)
			}
			ord, ch, found, err := e.ChannelByCID(cid)
			if err != nil {
				return err
			}
			if !found || !e.isMember(ord, reader) {
				if !found {
					return InputError(field, "channel %s does not exist", cid)
				}
				return InputError(field, "user %q is not a member of channel %s:%s", userID, typ, id)
			}
			_ = ch
			if msgID != "" {
				chanOrd, seq, _, ok, err := e.MessageByID(msgID)
				if err != nil {
					return err
				}
				if !ok || chanOrd != ord {
					return InputError(field, "%s: no message %q in channel %s", field, msgID, cid)
				}
				upTo[ord] = seq
			}
			ords = append(ords, ord)
		}
	}
	slices.Sort(ords)
	ords = slices.Compact(ords)
	for len(ords) > 0 {
		n := min(len(ords), markChannelsReadBatch)
		if err := e.markChannelsReadTx(reader, slices.Clone(ords[:n]), upTo); err != nil {
			return err
		}
		ords = ords[n:]
	}
	return nil
}

// markChannelsReadTx marks the channels ords (ascending) read for reader in one Tx.
func (e *Engine) markChannelsReadTx(reader uint32, ords []uint32, upTo map[uint32]uint64) error {
	tx := e.NewTx()
	e.lockChannels(tx, ords)
	reads := &pendingReads{}
	fail := func(err error) error {
		reads.end(false)
		tx.Discard()
		return err
	}
	now := e.nowMicros()
	for _, ord := range ords {
		ref, ok, err := e.readChannelTx(tx, ord, e.db.Channels.ID(ord))
		if err != nil {
			return fail(err)
		}
		if !ok || ref.Ch.NextSeq <= 1 {
			continue // gone, or no message to read
		}
		m, err := e.memberRecordTx(tx, ord, reader)
		if isNotFound(err) {
			continue // left the channel meanwhile
		}
		if err != nil {
			return fail(err)
		}
		seq, ok := upTo[ord]
		if !ok {
			seq = ref.Ch.NextSeq - 1
		}
		if seq == m.LastReadSeq {
			continue
		}
		if err := e.markReadTx(tx, ord, ref.CID, reader, m, seq, now, reads); err != nil {
			return fail(err)
		}
		lastID, err := e.messageIDAt(ord, seq)
		if err != nil {
			return fail(err)
		}
		if err := e.emitMessageRead(tx, ref.CID, &ref.Ch, reader, lastID, now); err != nil {
			return fail(err)
		}
	}
	err := e.Commit(tx)
	reads.end(err == nil)
	if err != nil {
		return fmt.Errorf("cannot mark %d channels read: %w", len(ords), err)
	}
	return nil
}

// isMember reports whether user is a member of channel ord (committed state).
func (e *Engine) isMember(ord, user uint32) bool {
	var kb [16]byte
	ok, err := e.db.Has(storage.MemberKey(kb[:0], ord, user))
	return err == nil && ok
}

// UnreadCounts is GET /unread: a user's unread messages over the channels it is a member of.
type UnreadCounts struct {
	Total int
	// Channels are the channels with unread messages, in ordinal order.
	Channels []UnreadChannel
	// ByType sums Channels per channel type, in type order.
	ByType []UnreadByType
	// ByTeam sums the unread messages per team of the channels that have one.
	ByTeam map[string]int
}

// UnreadChannel is one channel of UnreadCounts.
type UnreadChannel struct {
	CID      string
	LastRead int64
	Unread   int
}

// UnreadByType is one channel type of UnreadCounts.
type UnreadByType struct {
	Type     string
	Channels int
	Unread   int
}

// UnreadCounts returns userID's unread counts. It reads every channel the user is a member of.
func (e *Engine) UnreadCounts(userID string) (*UnreadCounts, error) {
	reader, err := e.reader(userID)
	if err != nil {
		return nil, err
	}
	out := &UnreadCounts{}
	byType := map[string]*UnreadByType{}
	var ch storage.Channel
	var m storage.Member
	var kb [16]byte
	var derr error
	err = storage.ScanUserChannels(e.db, reader, func(ord uint32) bool {
		found, err := storage.GetRecord(e.db, storage.ChannelKey(kb[:0], ord), &ch)
		if err != nil || !found {
			derr = err
			return err == nil
		}
		if found, err = storage.GetRecord(e.db, storage.MemberKey(kb[:0], ord, reader), &m); err != nil || !found {
			derr = err
			return err == nil
		}
		n, err := e.unreadAfter(ord, &ch, reader, &m)
		if err != nil {
			derr = err
			return false
		}
		if n == 0 {
			return true
		}
		last := m.LastRead
		if last == 0 {
			last = m.CreatedAt
		}
		out.Total += n
		out.Channels = append(out.Channels, UnreadChannel{CID: ch.Type + ":" + ch.ID, LastRead: last, Unread: n})
		t := byType[ch.Type]
		if t == nil {
			t = &UnreadByType{Type: ch.Type}
			byType[ch.Type] = t
		}
		t.Channels++
		t.Unread += n
		if ch.Team != "" {
			if out.ByTeam == nil {
				out.ByTeam = map[string]int{}
			}
			out.ByTeam[ch.Team] += n
		}
		return true
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return nil, err
	}
	for _, t := range byType {
		out.ByType = append(out.ByType, *t)
	}
	slices.SortFunc(out.ByType, func(a, b UnreadByType) int {
		switch {
		case a.Type < b.Type:
			return -1
		case a.Type > b.Type:
			return 1
		}
		return 0
	})
	return out, nil
}

// readFloor returns the seq after which m's unread messages start in channel ch.
func readFloor(ch *storage.Channel, m *storage.Member) uint64 {
	return max(m.LastReadSeq, m.ClearedSeq)
}

// unreadAfter counts member m's (user's) unread messages of channel ord with one forward scan from
// its read floor, at most MaxUnreadCount.
func (e *Engine) unreadAfter(ord uint32, ch *storage.Channel, user uint32, m *storage.Member) (int, error) {
	floor := readFloor(ch, m)
	if ch.NextSeq <= floor+1 {
		return 0, nil
	}
	it := e.db.NewIter(storage.MessageKey(nil, ord, floor+1), storage.MessageKey(nil, ord, ch.NextSeq))
	n, seen := 0, 0
	var msg storage.Message
	for ok := it.First(); ok && n < MaxUnreadCount && seen < 2*MaxUnreadCount; ok = it.Next() {
		seen++
		if err := msg.UnmarshalNoCopy(it.Value()); err != nil {
			_ = it.Close()
			return 0, fmt.Errorf("cannot read message %x: %w", it.Key(), err)
		}
		if countsAsUnread(&msg, user) {
			n++
		}
	}
	return n, it.Close()
}

// countsAsUnread reports whether msg is unread for user once it lies after user's last read.
func countsAsUnread(msg *storage.Message, user uint32) bool {
	return msg.User != user && msg.Type != MessageTypeDeleted
}

// MessageTypeDeleted is the type of a soft-deleted message.
const MessageTypeDeleted = "deleted"

// recentMessages are the newest messages of a channel, newest first (seq and author), loaded once
// to count the unread messages of several members.
type recentMessages struct {
	seqs  []uint64
	users []uint32
}

// loadRecent reads the newest messages of channel ord above seq floor (deleted ones left out),
// at most MaxUnreadCount.
func (e *Engine) loadRecent(ord uint32, ch *storage.Channel, floor uint64) (*recentMessages, error) {
	r := &recentMessages{}
	if ch.NextSeq <= floor+1 {
		return r, nil
	}
	it := e.db.NewIter(storage.MessageKey(nil, ord, floor+1), storage.MessageKey(nil, ord, ch.NextSeq))
	var msg storage.Message
	for ok := it.Last(); ok && len(r.seqs) < MaxUnreadCount; ok = it.Prev() {
		if err := msg.UnmarshalNoCopy(it.Value()); err != nil {
			_ = it.Close()
			return nil, fmt.Errorf("cannot read message %x: %w", it.Key(), err)
		}
		if msg.Type == MessageTypeDeleted {
			continue
		}
		_, seq, _ := storage.ParseMessageKey(it.Key())
		r.seqs = append(r.seqs, seq)
		r.users = append(r.users, msg.User)
	}
	return r, it.Close()
}

// unread counts user's messages of r after floor written by others.
func (r *recentMessages) unread(user uint32, floor uint64) int {
	n := 0
	for i, seq := range r.seqs {
		if seq <= floor {
			break
		}
		if r.users[i] != user {
			n++
		}
	}
	return n
}

// readStates returns the read states of members (with their user ordinals ords) of channel ord.
func (e *Engine) readStates(ord uint32, ch *storage.Channel, members []storage.Member, ords []uint32, refs *userRefs) ([]ReadState, error) {
	if len(members) == 0 {
		return nil, nil
	}
	floor := uint64(1<<64 - 1)
	for i := range members {
		floor = min(floor, readFloor(ch, &members[i]))
	}
	recent, err := e.loadRecent(ord, ch, floor)
	if err != nil {
		return nil, err
	}
	out := make([]ReadState, len(members))
	for i := range members {
		m := &members[i]
		rs := &out[i]
		rs.User = *refs.m[ords[i]]
		rs.LastRead = m.LastRead
		if rs.LastRead == 0 {
			rs.LastRead = m.CreatedAt
		}
		rs.Unread = recent.unread(ords[i], readFloor(ch, m))
		if m.LastReadSeq > 0 {
			if rs.LastReadMessageID, err = e.messageIDAt(ord, m.LastReadSeq); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
