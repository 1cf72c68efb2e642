package storage

import "fmt"

const (
	channelVersion = 1
	// memberVersion 2 added the flags byte and the optional state that follows the custom data;
	// version 1 records read with both zero.
	memberVersion = 2
)

// Channel flag bits in the record's flags byte.
const (
	channelFrozen   = 1 << 0
	channelDisabled = 1 << 1
)

// Channel is the stored form of one channel (PrefixChannel + be32 ordinal, the ordinal from
// DB.Channels interning the cid "type:id").
//
// Times are unix nanoseconds (UTC), truncated to microseconds by the engine; 0 means "not set".
// Custom is one raw JSON object holding every custom top-level key ("{}" or empty when there are
// none); it never holds a known field's key.
type Channel struct {
	Type string
	ID   string

	// CreatedBy is the creator's user ordinal (0 for none).
	CreatedBy uint32
	Team      string
	Frozen    bool
	Disabled  bool

	// MemberCount is the number of Member records of the channel.
	MemberCount uint32
	// MessageCount is the number of messages stored; NextSeq the seq the next message gets
	// (message keys are PrefixMessage + be32 channel ord + be64 seq, seqs start at 1).
	MessageCount uint64
	NextSeq      uint64

	LastMessageAt int64
	CreatedAt     int64
	UpdatedAt     int64

	Custom []byte
}

// CID returns "type:id".
func (c *Channel) CID() string { return c.Type + ":" + c.ID }

// ChannelKey appends the key of the channel with ordinal ord to dst.
func ChannelKey(dst []byte, ord uint32) []byte {
	return NewKey(dst, PrefixChannel).U32(ord)
}

// Marshal appends the encoded channel to dst.
func (c *Channel) Marshal(dst []byte) []byte {
	dst = append(dst, channelVersion)
	var flags byte
	if c.Frozen {
		flags |= channelFrozen
	}
	if c.Disabled {
		flags |= channelDisabled
	}
	dst = append(dst, flags)
	dst = AppendString(dst, c.Type)
	dst = AppendString(dst, c.ID)
	dst = AppendUvarint(dst, uint64(c.CreatedBy))
	dst = AppendString(dst, c.Team)
	dst = AppendUvarint(dst, uint64(c.MemberCount))
	dst = AppendUvarint(dst, c.MessageCount)
	dst = AppendUvarint(dst, c.NextSeq)
	dst = AppendVarint(dst, c.LastMessageAt)
	dst = AppendVarint(dst, c.CreatedAt)
	dst = AppendVarint(dst, c.UpdatedAt)
	return AppendBytes(dst, c.Custom)
}

// Unmarshal decodes src into c. Strings are copied; c.Custom aliases src.
func (c *Channel) Unmarshal(src []byte) error { return c.unmarshal(src, false) }

// UnmarshalNoCopy decodes src into c without copying: every string and c.Custom alias src, so c
// is valid only while src is unchanged (e.g. until an iterator moves). It does not allocate.
func (c *Channel) UnmarshalNoCopy(src []byte) error { return c.unmarshal(src, true) }

func (c *Channel) unmarshal(src []byte, alias bool) error {
	d := Decoder{B: src}
	if err := d.Version(channelVersion, "channel"); err != nil {
		return err
	}
	flags := d.Byte()
	c.Frozen = flags&channelFrozen != 0
	c.Disabled = flags&channelDisabled != 0
	c.Type = d.stringAlias(alias)
	c.ID = d.stringAlias(alias)
	c.CreatedBy = d.u32()
	c.Team = d.stringAlias(alias)
	c.MemberCount = d.u32()
	c.MessageCount = d.Uvarint()
	c.NextSeq = d.Uvarint()
	c.LastMessageAt = d.Varint()
	c.CreatedAt = d.Varint()
	c.UpdatedAt = d.Varint()
	c.Custom = d.Bytes()
	if d.Err == nil && len(d.B) != 0 {
		d.fail()
	}
	if d.Err != nil {
		return fmt.Errorf("cannot decode channel: %w", d.Err)
	}
	return nil
}

// Member is the stored form of one channel membership (PrefixMember + be32 channel ord + be32
// user ord). Every Member has a twin key PrefixUserChannel + be32 user ord + be32 channel ord,
// written and deleted with it, listing a user's channels; its value is the member's ListFlags
// (empty when none), so that a user's channel list can leave out hidden or archived channels
// without reading the member records.
//
// Times are unix nanoseconds, 0 meaning unset.
type Member struct {
	// ChannelRole is "channel_member", "channel_moderator" or a custom role.
	ChannelRole string
	CreatedAt   int64
	UpdatedAt   int64
	// Custom is one raw JSON object of the member's custom keys, or empty.
	Custom []byte

	// Hidden hides the channel from the member's channel list until a message shows it again.
	Hidden bool
	// Banned and ShadowBanned are the member's ban in this channel; BanExpires ends a timed ban.
	Banned       bool
	ShadowBanned bool
	BanExpires   int64
	// ArchivedAt and PinnedAt are when the member archived or pinned the channel.
	ArchivedAt int64
	PinnedAt   int64
	// LastRead is when the member last marked the channel read (0: never; the member's
	// CreatedAt stands for it) and LastReadSeq the seq of the last message it read then.
	LastRead    int64
	LastReadSeq uint64
	// ClearedSeq hides the messages up to that seq from the member (hide with clear_history,
	// members added with hide_history).
	ClearedSeq uint64
}

// ListFlags are what a user's channel list (the twin key's value) records of a membership.
type ListFlags byte

// The ListFlags bits.
const (
	ListHidden   ListFlags = 1 << 0
	ListArchived ListFlags = 1 << 1
	ListPinned   ListFlags = 1 << 2
)

// Flags returns m's ListFlags.
func (m *Member) Flags() ListFlags {
	var f ListFlags
	if m.Hidden {
		f |= ListHidden
	}
	if m.ArchivedAt != 0 {
		f |= ListArchived
	}
	if m.PinnedAt != 0 {
		f |= ListPinned
	}
	return f
}

// Member flag bits in the record's flags byte (version 2). The low three are the ListFlags.
const (
	memberHidden       = 1 << 0
	memberArchived     = 1 << 1
	memberPinned       = 1 << 2
	memberBanned       = 1 << 3
	memberShadowBanned = 1 << 4
	// memberState: the optional state (times, read state) follows the custom data.
	memberState = 1 << 7
)

// MemberListFlags returns the ListFlags of the encoded Member v without decoding it (0 for a
// version 1 record or anything unreadable).
func MemberListFlags(v []byte) ListFlags {
	if len(v) < 2 || v[0] != memberVersion {
		return 0
	}
	return ListFlags(v[1] & (memberHidden | memberArchived | memberPinned))
}

// MemberKey appends the key of user userOrd's membership of channel chanOrd to dst.
func MemberKey(dst []byte, chanOrd, userOrd uint32) []byte {
	return NewKey(dst, PrefixMember).U32(chanOrd).U32(userOrd)
}

// UserChannelKey appends the reverse-membership key (the user's channel list) to dst.
func UserChannelKey(dst []byte, userOrd, chanOrd uint32) []byte {
	return NewKey(dst, PrefixUserChannel).U32(userOrd).U32(chanOrd)
}

// hasState reports whether m has any of the optional state.
func (m *Member) hasState() bool {
	return m.BanExpires != 0 || m.ArchivedAt != 0 || m.PinnedAt != 0 || m.LastRead != 0 || m.LastReadSeq != 0 || m.ClearedSeq != 0
}

// Marshal appends the encoded member to dst. A member without optional state (a new member)
// costs one byte more than version 1.
func (m *Member) Marshal(dst []byte) []byte {
	dst = append(dst, memberVersion)
	var flags byte
	if m.Hidden {
		flags |= memberHidden
	}
	if m.ArchivedAt != 0 {
		flags |= memberArchived
	}
	if m.PinnedAt != 0 {
		flags |= memberPinned
	}
	if m.Banned {
		flags |= memberBanned
	}
	if m.ShadowBanned {
		flags |= memberShadowBanned
	}
	state := m.hasState()
	if state {
		flags |= memberState
	}
	dst = append(dst, flags)
	dst = AppendString(dst, m.ChannelRole)
	dst = AppendVarint(dst, m.CreatedAt)
	dst = AppendVarint(dst, m.UpdatedAt)
	dst = AppendBytes(dst, m.Custom)
	if !state {
		return dst
	}
	dst = AppendVarint(dst, m.BanExpires)
	dst = AppendVarint(dst, m.ArchivedAt)
	dst = AppendVarint(dst, m.PinnedAt)
	dst = AppendVarint(dst, m.LastRead)
	dst = AppendUvarint(dst, m.LastReadSeq)
	return AppendUvarint(dst, m.ClearedSeq)
}

// Unmarshal decodes src (version 1 or 2) into m. Strings are copied; m.Custom aliases src.
func (m *Member) Unmarshal(src []byte) error {
	d := Decoder{B: src}
	version := d.Byte()
	if d.Err == nil && version != 1 && version != memberVersion {
		return fmt.Errorf("cannot decode member: unknown version %d: %w", version, ErrCorrupt)
	}
	var flags byte
	if version >= 2 {
		flags = d.Byte()
		if flags&^(memberHidden|memberArchived|memberPinned|memberBanned|memberShadowBanned|memberState) != 0 {
			d.fail()
		}
	}
	m.ChannelRole = d.String()
	m.CreatedAt = d.Varint()
	m.UpdatedAt = d.Varint()
	m.Custom = d.Bytes()
	m.Hidden = flags&memberHidden != 0
	m.Banned = flags&memberBanned != 0
	m.ShadowBanned = flags&memberShadowBanned != 0
	m.BanExpires, m.ArchivedAt, m.PinnedAt, m.LastRead, m.LastReadSeq, m.ClearedSeq = 0, 0, 0, 0, 0, 0
	if flags&memberState != 0 {
		m.BanExpires = d.Varint()
		m.ArchivedAt = d.Varint()
		m.PinnedAt = d.Varint()
		m.LastRead = d.Varint()
		m.LastReadSeq = d.Uvarint()
		m.ClearedSeq = d.Uvarint()
	}
	if d.Err == nil && len(d.B) != 0 {
		d.fail()
	}
	// NB: the flags must agree with the times they stand for, so that MemberListFlags, which
	// reads only the flags, never disagrees with the decoded record.
	if d.Err == nil && ((flags&memberArchived != 0) != (m.ArchivedAt != 0) || (flags&memberPinned != 0) != (m.PinnedAt != 0) || (flags&memberState != 0) != m.hasState()) {
		d.fail()
	}
	if d.Err != nil {
		return fmt.Errorf("cannot decode member: %w", d.Err)
	}
	return nil
}

// u32 reads a uvarint that must fit in 32 bits.
func (d *Decoder) u32() uint32 {
	v := d.Uvarint()
	if v > 1<<32-1 {
		d.fail()
		return 0
	}
	return uint32(v)
}
