package engine

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/campaignd/campaignd/storage"
)

// MaxChannelTypeLength is the longest channel type accepted.
const MaxChannelTypeLength = 64

// channelsState is the engine's state for channels, members and messages.
type channelsState struct {
	// latches serialise the writers of each channel (see latchTable): a Tx holds the latch of the
	// channel it writes from the moment it reads the record until it ends; a fan-out chunk holds
	// the latches of all its channels.
	latches latchTable

	// pendingIDs holds client-supplied message ids reserved by Txs that have not ended, so that
	// two concurrent sends with the same new id cannot both pass the duplicate check.
	idsMu      sync.Mutex
	pendingIDs map[string]struct{}
}

// txLocks is the locking state of one Tx: the channel latches it holds and the message ids it
// reserved, all released when the Tx commits or is discarded.
type txLocks struct {
	cs *channelsState
	// latched are the channel ordinals whose latches the Tx holds, ascending.
	latched []uint32
	ids     []string
}

func (l *txLocks) holds(ord uint32) bool {
	_, ok := slices.BinarySearch(l.latched, ord)
	return ok
}

// lockChannel makes the Tx hold the latch of channel ord until it ends.
// NB: a Tx built by API calls latches one channel (it would otherwise take latches one call after
// another, against the latch contract); a fan-out chunk takes all of its latches at once.
func (e *Engine) lockChannel(tx *Tx, ord uint32) {
	l := &tx.locks
	if l.holds(ord) {
		return
	}
	if len(l.latched) > 0 {
		panic(fmt.Sprintf("BUG: a Tx latches a second channel (%s)", e.db.Channels.ID(ord)))
	}
	l.cs = &e.channels
	e.channels.latches.lock(ord)
	l.latched = append(l.latched, ord)
}

// lockChannels makes the Tx hold the latches of ords (ascending, unique) until it ends; the Tx
// must hold none yet.
func (e *Engine) lockChannels(tx *Tx, ords []uint32) {
	l := &tx.locks
	if len(l.latched) > 0 {
		panic("BUG: lockChannels on a Tx that holds latches")
	}
	l.cs = &e.channels
	e.channels.latches.lockMany(ords)
	l.latched = ords
}

// reserveMessageID reserves a client-supplied message id for the Tx; false when another live Tx
// holds it already.
func (e *Engine) reserveMessageID(tx *Tx, id string) bool {
	cs := &e.channels
	cs.idsMu.Lock()
	defer cs.idsMu.Unlock()
	if _, ok := cs.pendingIDs[id]; ok {
		return false
	}
	if cs.pendingIDs == nil {
		cs.pendingIDs = make(map[string]struct{})
	}
	cs.pendingIDs[id] = struct{}{}
	tx.locks.cs = cs
	tx.locks.ids = append(tx.locks.ids, id)
	return true
}

// release drops every latch and reservation; it is idempotent.
func (l *txLocks) release() {
	if l.cs == nil {
		return
	}
	if len(l.ids) > 0 {
		l.cs.idsMu.Lock()
		for _, id := range l.ids {
			delete(l.cs.pendingIDs, id)
		}
		l.cs.idsMu.Unlock()
	}
	l.cs.latches.unlockMany(l.latched)
	*l = txLocks{}
}

// CheckChannelType validates a channel type: 1 to 64 characters of [A-Za-z0-9_-].
func CheckChannelType(field, typ string) error {
	if typ == "" {
		return InputError(field, "%s must not be empty", field)
	}
	if len(typ) > MaxChannelTypeLength {
		return InputError(field, "%s is %d characters long; the maximum is %d", field, len(typ), MaxChannelTypeLength)
	}
	for i := 0; i < len(typ); i++ {
		if !isWordByte(typ[i]) && typ[i] != '-' {
			return InputError(field, "%s %q holds %q; a channel type may only contain letters, digits, _ and -", field, typ, typ[i])
		}
	}
	return nil
}

// CheckChannelID validates an explicit channel id: 1 to MaxIDLength characters of [A-Za-z0-9_-].
//
// NB: "!" is refused as Stream refuses it. Ids starting with DistinctChannelIDPrefix belong to
// distinct channels and are derived from their members (DistinctChannelID): a client that could
// pick one could create another pair's 1-1 channel with members of its own choosing, and a campaign
// from that pair would then post into it. See CheckChannelRef for ids of existing channels.
func CheckChannelID(field, id string) error {
	if err := CheckID(field, id); err != nil {
		return err
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !isWordByte(c) && c != '-' {
			if c == '!' && strings.HasPrefix(id, DistinctChannelIDPrefix) {
				return InputError(field, "%s %q is a distinct channel's id: such ids are derived from the members; create the channel without an id and with data.members", field, id)
			}
			return InputError(field, "%s %q holds %q; a channel id may only contain letters, digits, _ and -", field, id, c)
		}
	}
	return nil
}

// CheckChannelRef validates the id of a channel a request names in its path: an explicit id
// (CheckChannelID) or the id of a distinct channel (IsDistinctChannelID), which the SDK sends once
// it knows it. Creating a channel under a distinct id is further restricted (GetOrCreateChannel).
func CheckChannelRef(field, id string) error {
	if IsDistinctChannelID(id) {
		return nil
	}
	return CheckChannelID(field, id)
}

// IsDistinctChannelID reports whether id has the form DistinctChannelID returns.
func IsDistinctChannelID(id string) bool {
	rest, ok := strings.CutPrefix(id, DistinctChannelIDPrefix)
	if !ok || len(rest) != distinctHashLen {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !isWordByte(c) && c != '-' {
			return false
		}
	}
	return true
}

// distinctHashLen is the length of a base64url (unpadded) SHA-256.
var distinctHashLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// DistinctChannelIDPrefix starts every id DistinctChannelID returns (the SDK looks for it).
const DistinctChannelIDPrefix = "!members-"

// DistinctChannelID returns the id of the distinct (id-less) channel of members: "!members-" and
// the base64url SHA-256 of the sorted, deduplicated member ids, so any order or repetition of the
// same members gives the same id. members is not modified.
func DistinctChannelID(members []string) string {
	ids := slices.Clone(members)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	h := sha256.New()
	var lb [binary.MaxVarintLen64]byte
	for _, id := range ids {
		h.Write(lb[:binary.PutUvarint(lb[:], uint64(len(id)))])
		h.Write([]byte(id))
	}
	var sum [sha256.Size]byte
	return DistinctChannelIDPrefix + base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
}

// ChannelByCID reads the channel "type:id" without locking: for readers. ok is false when it does
// not exist. The returned record is the caller's.
func (e *Engine) ChannelByCID(cid string) (ord uint32, ch *storage.Channel, ok bool, err error) {
	ord, ok = e.db.Channels.Lookup(cid)
	if !ok {
		return 0, nil, false, nil
	}
	ch, ok, err = e.channelByOrd(ord)
	return ord, ch, ok, err
}

func (e *Engine) channelByOrd(ord uint32) (*storage.Channel, bool, error) {
	var kb [8]byte
	buf := getBuf()
	defer putBuf(buf)
	v, err := e.db.Get((*buf)[:0], storage.ChannelKey(kb[:0], ord))
	*buf = v
	if errors.Is(err, storage.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	ch := &storage.Channel{}
	if err := ch.Unmarshal(v); err != nil {
		return nil, false, fmt.Errorf("cannot read channel %d: %w", ord, err)
	}
	ch.Custom = slices.Clone(ch.Custom)
	return ch, true, nil
}

// ChannelRef is a channel locked by a Tx (ChannelTx, CreateChannelTx). Ch is the current record:
// no other Tx can change it until this Tx ends, and the Tx-level functions keep Ch and the stored
// record in step. A ChannelRef is only valid within its Tx.
type ChannelRef struct {
	Ord     uint32
	CID     string
	Ch      storage.Channel
	Created bool // created by this Tx

	// members caches the member list for event bodies (loaded on first need, kept in step by
	// AddMemberTx); nil until then.
	members *eventMembers
}

// eventMembers is what message.new and channel.created need about a channel's members.
type eventMembers struct {
	ids  []string // every member's user id, in key (ordinal) order
	ords []uint32
	list []EventMember // the first maxEventMembers, as events list them
}

// ChannelTx latches the channel "typ:id" for tx and reads it through tx's batch (seeing its own
// writes). ok is false when the channel does not exist; a channel whose cid was interned stays
// latched anyway, so a following CreateChannelTx in the same Tx cannot race.
func (e *Engine) ChannelTx(tx *Tx, typ, id string) (ref *ChannelRef, ok bool, err error) {
	cid := typ + ":" + id
	ord, ok := e.db.Channels.Lookup(cid)
	if !ok {
		return nil, false, nil
	}
	e.lockChannel(tx, ord)
	return e.readChannelTx(tx, ord, cid)
}

func (e *Engine) readChannelTx(tx *Tx, ord uint32, cid string) (*ChannelRef, bool, error) {
	var kb [8]byte
	buf := getBuf()
	defer putBuf(buf)
	v, err := tx.B.Get((*buf)[:0], storage.ChannelKey(kb[:0], ord))
	*buf = v
	if errors.Is(err, storage.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	ref := &ChannelRef{Ord: ord, CID: cid}
	if err := ref.Ch.Unmarshal(v); err != nil {
		return nil, false, fmt.Errorf("cannot read channel %q: %w", cid, err)
	}
	ref.Ch.Custom = slices.Clone(ref.Ch.Custom)
	return ref, true, nil
}

// ChannelSpec describes a channel for CreateChannelTx. Type and ID must be valid
// (CheckChannelType, CheckChannelID) and every user ordinal must name an existing user: the
// Tx-level functions trust their caller.
type ChannelSpec struct {
	Type, ID string
	// Ord is the channel's ordinal when the caller interned "type:id" already (bulk callers
	// intern a whole chunk's cids with one DB.Channels.Intern call, one fsync); 0 = intern here.
	Ord uint32
	// CreatedBy is the creator's user ordinal (required).
	CreatedBy uint32
	Team      string
	Frozen    bool
	Disabled  bool
	// Custom is a raw JSON object of custom fields (or empty); it must not hold known keys.
	Custom  []byte
	Members []MemberSpec

	// NoEvent writes no channel.created event; SkipWebhook keeps it off the webhook.
	NoEvent     bool
	SkipWebhook bool
	// EventID is the event's id; "" = a random UUID.
	EventID string
}

// MemberSpec is one member to add.
type MemberSpec struct {
	User        uint32
	ChannelRole string // "" = channel_member
	Custom      []byte // raw JSON object or empty
}

// DefaultChannelRole is the channel_role of a member added without one.
const DefaultChannelRole = "channel_member"

// CreateChannelTx gets or creates the channel of spec within tx. If it exists (committed, or
// written earlier in tx) it is returned unchanged with Created false: spec's fields and members
// are not applied. Otherwise it writes the channel, its members with their reverse-index keys
// and, unless spec.NoEvent, emits channel.created, all uncommitted: the caller commits tx.
// The channel stays locked until tx ends.
func (e *Engine) CreateChannelTx(tx *Tx, spec *ChannelSpec) (*ChannelRef, error) {
	cid := spec.Type + ":" + spec.ID
	ord := spec.Ord
	if ord == 0 {
		var err error
		if ord, err = e.db.Channels.InternOne(cid); err != nil {
			return nil, fmt.Errorf("cannot intern channel %q: %w", cid, err)
		}
	}
	e.lockChannel(tx, ord)
	ref, ok, err := e.readChannelTx(tx, ord, cid)
	if err != nil || ok {
		return ref, err
	}
	now := e.nowMicros()
	ref = &ChannelRef{Ord: ord, CID: cid, Created: true}
	ref.Ch = storage.Channel{
		Type: spec.Type, ID: spec.ID, CreatedBy: spec.CreatedBy, Team: spec.Team,
		Frozen: spec.Frozen, Disabled: spec.Disabled, NextSeq: 1,
		CreatedAt: now, UpdatedAt: now, Custom: spec.Custom,
	}
	ref.members = &eventMembers{}
	for i := range spec.Members {
		if err := e.addMemberTx(tx, ref, &spec.Members[i], now); err != nil {
			return nil, err
		}
	}
	e.putChannelTx(tx, ref)
	if spec.NoEvent {
		return ref, nil
	}
	creator, err := e.userJSON(nil, spec.CreatedBy)
	if err != nil {
		return nil, err
	}
	tx.Emit(Event{
		ID: eventID(spec.EventID), Type: "channel.created", Key: cid,
		SkipWebhook: spec.SkipWebhook, SkipPush: true,
		JSON: e.enc.AppendChannelCreated(nil, &ChannelCreated{Channel: &ref.Ch, Creator: creator, Members: ref.members.list, At: now}),
	})
	return ref, nil
}

// AddMemberTx adds a member to the locked channel ref within tx (member record, reverse-index key,
// member_count). It returns false, writing nothing, when the user is a member already. It emits
// no event.
func (e *Engine) AddMemberTx(tx *Tx, ref *ChannelRef, m *MemberSpec) (added bool, err error) {
	e.checkLocked(tx, ref)
	if _, err := e.memberRecordTx(tx, ref.Ord, m.User); err == nil {
		return false, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return false, err
	}
	if ref.members == nil {
		if err := e.loadEventMembersTx(tx, ref); err != nil {
			return false, err
		}
	}
	now := e.nowMicros()
	if err := e.addMemberTx(tx, ref, m, now); err != nil {
		return false, err
	}
	e.putChannelTx(tx, ref)
	return true, nil
}

// addMemberTx writes a member the caller knows is new and updates ref (count, event cache).
func (e *Engine) addMemberTx(tx *Tx, ref *ChannelRef, m *MemberSpec, now int64) error {
	if m.User == 0 {
		panic("BUG: member without a user ordinal")
	}
	em := ref.members
	if slices.Contains(em.ords, m.User) {
		return nil // listed twice in one spec
	}
	rec := storage.Member{ChannelRole: m.ChannelRole, CreatedAt: now, UpdatedAt: now, Custom: m.Custom}
	if rec.ChannelRole == "" {
		rec.ChannelRole = DefaultChannelRole
	}
	if ref.Ch.NextSeq > 1 {
		// NB: a member joins with the history read (Stream starts a new member's read state
		// at its joining): only later messages are unread.
		rec.LastReadSeq = ref.Ch.NextSeq - 1
	}
	buf := getBuf()
	*buf = rec.Marshal((*buf)[:0])
	tx.B.PutMember(ref.Ord, m.User, *buf)
	putBuf(buf)
	ref.Ch.MemberCount++
	id := e.db.Users.ID(m.User)
	em.ids = append(em.ids, id)
	em.ords = append(em.ords, m.User)
	if len(em.ords) <= maxEventMembers {
		uj, err := e.userJSON(nil, m.User)
		if err != nil {
			return err
		}
		em.list = append(em.list, EventMember{UserID: id, Member: rec, Creator: m.User == ref.Ch.CreatedBy, User: uj})
	}
	return nil
}

// putChannelTx writes ref.Ch into tx.
func (e *Engine) putChannelTx(tx *Tx, ref *ChannelRef) {
	var kb [8]byte
	buf := getBuf()
	*buf = ref.Ch.Marshal((*buf)[:0])
	tx.B.Set(storage.ChannelKey(kb[:0], ref.Ord), *buf)
	putBuf(buf)
}

func (e *Engine) checkLocked(tx *Tx, ref *ChannelRef) {
	if !tx.locks.holds(ref.Ord) {
		panic(fmt.Sprintf("BUG: channel %s written by a Tx that did not lock it", ref.CID))
	}
}

func (e *Engine) memberRecordTx(tx *Tx, chanOrd, userOrd uint32) (*storage.Member, error) {
	var kb [16]byte
	buf := getBuf()
	defer putBuf(buf)
	v, err := tx.B.Get((*buf)[:0], storage.MemberKey(kb[:0], chanOrd, userOrd))
	*buf = v
	if err != nil {
		return nil, err
	}
	m := &storage.Member{}
	if err := m.Unmarshal(v); err != nil {
		return nil, err
	}
	m.Custom = slices.Clone(m.Custom)
	return m, nil
}

// loadEventMembersTx fills ref.members from the stored members (through tx).
func (e *Engine) loadEventMembersTx(tx *Tx, ref *ChannelRef) error {
	em := &eventMembers{}
	lower := storage.NewKey(nil, storage.PrefixMember).U32(ref.Ord)
	it := tx.B.NewIter(lower, storage.PrefixEnd(nil, lower))
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 9 {
			continue
		}
		u := binary.BigEndian.Uint32(k[5:])
		id := e.db.Users.ID(u)
		em.ords = append(em.ords, u)
		em.ids = append(em.ids, id)
		if len(em.list) < maxEventMembers {
			m := EventMember{UserID: id, Creator: u == ref.Ch.CreatedBy}
			if err := m.Member.Unmarshal(it.Value()); err != nil {
				_ = it.Close()
				return fmt.Errorf("cannot read members of %s: %w", ref.CID, err)
			}
			m.Member.Custom = slices.Clone(m.Member.Custom)
			em.list = append(em.list, m)
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	for i := range em.list {
		uj, err := e.userJSON(nil, em.ords[i])
		if err != nil {
			return err
		}
		em.list[i].User = uj
	}
	ref.members = em
	return nil
}
