package storage

import (
	"encoding/binary"
	"fmt"
)

// The outbox (PrefixOutbox) holds entries keyed by the seq of their first event. An entry holds
// n ≥ 1 events with consecutive seqs first..first+n-1, so relays, cursors and lag count events:
//
//	version 1  OutboxEvent: one event with its JSON body (API writes, campaign status events)
//	version 2  CampaignChunk: the events of one fan-out chunk (channel.created and message.new per
//	           recipient), as references to the records; the relays render the bodies
//
// Entries never overlap: a commit reserves the seqs of all its events at once.
const (
	outboxEventVersion   = 1
	campaignChunkVersion = 2
)

// OutboxEvent is the stored form of one produced event (version 1 entries and dead letters).
type OutboxEvent struct {
	ID          string
	Type        string
	Key         string
	SkipWebhook bool
	SkipPush    bool
	Receivers   []string
	JSON        []byte
}

// Marshal appends the encoded event to dst.
func (ev *OutboxEvent) Marshal(dst []byte) []byte {
	dst = append(dst, outboxEventVersion)
	dst = AppendString(dst, ev.ID)
	dst = AppendString(dst, ev.Type)
	dst = AppendString(dst, ev.Key)
	var flags byte
	if ev.SkipWebhook {
		flags |= 1
	}
	if ev.SkipPush {
		flags |= 2
	}
	dst = append(dst, flags)
	dst = AppendStrings(dst, ev.Receivers)
	return AppendBytes(dst, ev.JSON)
}

// Unmarshal decodes src into ev. ev.JSON aliases src.
func (ev *OutboxEvent) Unmarshal(src []byte) error {
	d := Decoder{B: src}
	if err := d.Version(outboxEventVersion, "outbox event"); err != nil {
		return err
	}
	ev.ID = d.String()
	ev.Type = d.String()
	ev.Key = d.String()
	flags := d.Byte()
	ev.SkipWebhook = flags&1 != 0
	ev.SkipPush = flags&2 != 0
	ev.Receivers = d.Strings()
	ev.JSON = d.Bytes()
	if d.Err != nil {
		return fmt.Errorf("cannot decode outbox event: %w", d.Err)
	}
	return nil
}

// CampaignChunk is a version 2 outbox entry: the events of one campaign fan-out chunk, stored as
// references. Each item is one recipient's message; an item that created its channel has two
// events (channel.created, then message.new), any other one (message.new). The relays render the
// bodies from the records the items name, and from what the chunk itself records of the moment
// (counters, members), so that re-rendering after a restart gives the same bodies.
type CampaignChunk struct {
	CampaignID  string
	SkipWebhook bool
	SkipPush    bool
	// Channels marks a channel audience: the recipient of an item is its channel, not a user.
	Channels bool
	// Sender is the author's user ordinal.
	Sender uint32
	// CreatedAt is when the chunk's channels were created (unix nanoseconds).
	CreatedAt int64
	// New channels' fields and template members (beyond the receiver and, with SenderMember, the
	// sender, which come first in that order).
	Team         string
	Custom       []byte
	SenderMember bool
	Members      []ChunkMember
	Items        []ChunkItem
}

// ChunkMember is a template member of a campaign's new channels.
type ChunkMember struct {
	User   uint32
	Role   string // "" = the default channel role
	Custom []byte
}

// ChunkItem is one recipient's message in a CampaignChunk.
type ChunkItem struct {
	// User is the receiver's ordinal (0 for channel audiences).
	User uint32
	// Channel and Seq name the message record.
	Channel uint32
	Seq     uint64
	// Created marks a channel the chunk created (its members follow from the chunk).
	Created bool
	// MemberCount and MessageCount are the channel's counters right after the message (existing
	// channels; created channels have the chunk's member count and one message).
	MemberCount  uint32
	MessageCount uint64
	// Members are an existing channel's members as of the chunk, in ordinal order.
	Members []uint32
}

// Events returns the number of events of the chunk.
func (c *CampaignChunk) Events() int {
	n := len(c.Items)
	for i := range c.Items {
		if c.Items[i].Created {
			n++
		}
	}
	return n
}

const (
	chunkSkipWebhook  = 1 << 0
	chunkSkipPush     = 1 << 1
	chunkChannels     = 1 << 2
	chunkSenderMember = 1 << 3

	chunkItemCreated = 1 << 0
)

// Marshal appends the encoded chunk to dst. Ordinals are delta-coded: a chunk of ascending
// recipients to new channels takes about 5 bytes per item.
func (c *CampaignChunk) Marshal(dst []byte) []byte {
	dst = append(dst, campaignChunkVersion)
	dst = AppendUvarint(dst, uint64(c.Events()))
	dst = AppendString(dst, c.CampaignID)
	var flags byte
	if c.SkipWebhook {
		flags |= chunkSkipWebhook
	}
	if c.SkipPush {
		flags |= chunkSkipPush
	}
	if c.Channels {
		flags |= chunkChannels
	}
	if c.SenderMember {
		flags |= chunkSenderMember
	}
	dst = append(dst, flags)
	dst = AppendUvarint(dst, uint64(c.Sender))
	dst = AppendVarint(dst, c.CreatedAt)
	dst = AppendString(dst, c.Team)
	dst = AppendBytes(dst, c.Custom)
	dst = AppendUvarint(dst, uint64(len(c.Members)))
	for i := range c.Members {
		m := &c.Members[i]
		dst = AppendUvarint(dst, uint64(m.User))
		dst = AppendString(dst, m.Role)
		dst = AppendBytes(dst, m.Custom)
	}
	dst = AppendUvarint(dst, uint64(len(c.Items)))
	var user, ch uint32
	for i := range c.Items {
		it := &c.Items[i]
		var f byte
		if it.Created {
			f |= chunkItemCreated
		}
		dst = append(dst, f)
		dst = AppendVarint(dst, int64(it.User)-int64(user))
		dst = AppendVarint(dst, int64(it.Channel)-int64(ch))
		user, ch = it.User, it.Channel
		dst = AppendUvarint(dst, it.Seq)
		if it.Created {
			continue
		}
		dst = AppendUvarint(dst, uint64(it.MemberCount))
		dst = AppendUvarint(dst, it.MessageCount)
		dst = AppendUvarint(dst, uint64(len(it.Members)))
		var m uint32
		for _, o := range it.Members {
			dst = AppendUvarint(dst, uint64(o-m))
			m = o
		}
	}
	return dst
}

// Unmarshal decodes src into c, reusing c's slices. c.Custom and the members' Custom alias src.
func (c *CampaignChunk) Unmarshal(src []byte) error {
	d := Decoder{B: src}
	if err := d.Version(campaignChunkVersion, "campaign chunk"); err != nil {
		return err
	}
	events := d.Uvarint()
	c.CampaignID = d.String()
	flags := d.Byte()
	c.SkipWebhook = flags&chunkSkipWebhook != 0
	c.SkipPush = flags&chunkSkipPush != 0
	c.Channels = flags&chunkChannels != 0
	c.SenderMember = flags&chunkSenderMember != 0
	c.Sender = d.u32()
	c.CreatedAt = d.Varint()
	c.Team = d.String()
	c.Custom = d.Bytes()
	n := d.count(3)
	c.Members = c.Members[:0]
	for range n {
		c.Members = append(c.Members, ChunkMember{User: d.u32(), Role: d.String(), Custom: d.Bytes()})
	}
	n = d.count(4)
	items := c.Items[:0]
	var user, ch int64
	for range n {
		f := d.Byte()
		user += d.Varint()
		ch += d.Varint()
		if user < 0 || user > 1<<32-1 || ch < 0 || ch > 1<<32-1 {
			d.fail()
		}
		it := ChunkItem{User: uint32(user), Channel: uint32(ch), Seq: d.Uvarint(), Created: f&chunkItemCreated != 0}
		if !it.Created {
			it.MemberCount = d.u32()
			it.MessageCount = d.Uvarint()
			// NB: reuse the members slice a previous decode left in this item's place.
			if len(items) < cap(items) {
				it.Members = items[:len(items)+1][len(items)].Members[:0]
			}
			k := d.count(1)
			var m uint64
			for range k {
				if m += d.Uvarint(); m > 1<<32-1 {
					d.fail()
				}
				it.Members = append(it.Members, uint32(m))
			}
		}
		if d.Err != nil {
			break
		}
		items = append(items, it)
	}
	c.Items = items
	if d.Err == nil && (len(d.B) != 0 || events != uint64(c.Events())) {
		d.fail()
	}
	if d.Err != nil {
		return fmt.Errorf("cannot decode campaign chunk: %w", d.Err)
	}
	return nil
}

// count reads a uvarint count of elements taking at least min bytes each, refusing counts the
// input cannot hold (so corrupt input cannot make a decoder allocate without bound).
func (d *Decoder) count(min int) int {
	n := d.Uvarint()
	if d.Err != nil || n > uint64(len(d.B)/min) {
		d.fail()
		return 0
	}
	return int(n)
}

// OutboxEntryEvents returns how many events the encoded entry v holds.
func OutboxEntryEvents(v []byte) (uint64, error) {
	if len(v) == 0 {
		return 0, fmt.Errorf("cannot decode outbox entry: empty: %w", ErrCorrupt)
	}
	switch v[0] {
	case outboxEventVersion:
		return 1, nil
	case campaignChunkVersion:
		n, k := binary.Uvarint(v[1:])
		if k <= 0 || n == 0 {
			return 0, fmt.Errorf("cannot decode outbox entry: bad event count: %w", ErrCorrupt)
		}
		return n, nil
	}
	return 0, fmt.Errorf("cannot decode outbox entry: unknown version %d: %w", v[0], ErrCorrupt)
}

// IsCampaignChunk reports whether the encoded entry v is a CampaignChunk.
func IsCampaignChunk(v []byte) bool { return len(v) > 0 && v[0] == campaignChunkVersion }

func outboxKey(dst []byte, seq uint64) []byte { return NewKey(dst, PrefixOutbox).U64(seq) }

// PutOutbox stores the encoded entry v, whose first event has seq first.
func (b *Batch) PutOutbox(first uint64, v []byte) {
	var k [9]byte
	b.Set(outboxKey(k[:0], first), v)
}

// OutboxIter reads outbox entries in seq order. The caller must Close it.
type OutboxIter struct {
	it    *Iter
	valid bool
	first uint64
	n     uint64
	err   error
}

// NewOutboxIter returns an iterator positioned on the entry holding seq from, or on the first entry
// after it, with no entry starting at or after to.
func (db *DB) NewOutboxIter(from, to uint64) *OutboxIter {
	var lo, hi [9]byte
	oi := &OutboxIter{it: db.NewIter(outboxKey(lo[:0], 0), outboxKey(hi[:0], to))}
	// NB: an entry that starts before from may still hold it.
	if oi.it.SeekLT(outboxKey(lo[:0], from+1)) && oi.load() && oi.first+oi.n > from {
		return oi
	}
	oi.valid = oi.it.SeekGE(outboxKey(lo[:0], from)) && oi.load()
	return oi
}

func (oi *OutboxIter) load() bool {
	k := oi.it.Key()
	if len(k) != 9 {
		oi.err = fmt.Errorf("cannot read the outbox: key %x: %w", k, ErrCorrupt)
		oi.valid = false
		return false
	}
	oi.first = binary.BigEndian.Uint64(k[1:])
	n, err := OutboxEntryEvents(oi.it.Value())
	if err != nil {
		// NB: an entry that cannot be decoded counts as one event: the relays skip it loudly.
		n = 1
	}
	oi.n = n
	oi.valid = true
	return true
}

// Valid reports whether the iterator is on an entry.
func (oi *OutboxIter) Valid() bool { return oi.valid }

// Next moves to the next entry.
func (oi *OutboxIter) Next() bool {
	oi.valid = oi.it.Next() && oi.load()
	return oi.valid
}

// Entry returns the current entry: its first seq, its number of events and its encoded value
// (which aliases Pebble memory until the iterator moves).
func (oi *OutboxIter) Entry() (first, n uint64, v []byte) { return oi.first, oi.n, oi.it.Value() }

// Close releases the iterator.
func (oi *OutboxIter) Close() error {
	err := oi.it.Close()
	if oi.err != nil {
		return oi.err
	}
	return err
}

// OutboxEntryStart returns where the entry holding seq starts (seq itself when no stored entry
// holds it): deleting every entry below it removes exactly the entries that end before seq.
func (db *DB) OutboxEntryStart(seq uint64) (uint64, error) {
	oi := db.NewOutboxIter(seq, seq+1)
	start := seq
	if oi.Valid() {
		if first, _, _ := oi.Entry(); first < seq {
			start = first
		}
	}
	return start, oi.Close()
}

// DeleteOutboxBelow removes, in the batch, every outbox entry that starts before seq.
func (b *Batch) DeleteOutboxBelow(seq uint64) {
	var lo, hi [9]byte
	b.DeleteRange(outboxKey(lo[:0], 0), outboxKey(hi[:0], seq))
}

// NextOutboxSeq returns one more than the highest outbox seq stored (1 for an empty outbox),
// taking the sink cursors into account so that a fully drained outbox does not reuse seqs.
func (db *DB) NextOutboxSeq() (uint64, error) {
	next := uint64(1)
	lower := []byte{PrefixOutbox}
	it := db.NewIter(lower, []byte{PrefixOutbox + 1})
	if it.Last() && len(it.Key()) == 9 {
		n, err := OutboxEntryEvents(it.Value())
		if err != nil {
			n = 1
		}
		next = binary.BigEndian.Uint64(it.Key()[1:]) + n
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	it = db.NewIter([]byte{PrefixOutboxCursor}, []byte{PrefixOutboxCursor + 1})
	for ok := it.First(); ok; ok = it.Next() {
		if v := it.Value(); len(v) == 8 {
			if c := binary.BigEndian.Uint64(v) + 1; c > next {
				next = c
			}
		}
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	return next, nil
}
