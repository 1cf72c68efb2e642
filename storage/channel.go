package storage

import "fmt"

const (
	channelVersion = 1
	memberVersion  = 1
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
// user ord). Every Member has a twin key PrefixUserChannel + be32 user ord + be32 channel ord with
// an empty value, written and deleted with it, listing a user's channels.
type Member struct {
	// ChannelRole is "channel_member", "channel_moderator" or a custom role.
	ChannelRole string
	CreatedAt   int64
	UpdatedAt   int64
	// Custom is one raw JSON object of the member's custom keys, or empty.
	Custom []byte
}

// MemberKey appends the key of user userOrd's membership of channel chanOrd to dst.
func MemberKey(dst []byte, chanOrd, userOrd uint32) []byte {
	return NewKey(dst, PrefixMember).U32(chanOrd).U32(userOrd)
}

// UserChannelKey appends the reverse-membership key (the user's channel list) to dst.
func UserChannelKey(dst []byte, userOrd, chanOrd uint32) []byte {
	return NewKey(dst, PrefixUserChannel).U32(userOrd).U32(chanOrd)
}

// Marshal appends the encoded member to dst.
func (m *Member) Marshal(dst []byte) []byte {
	dst = append(dst, memberVersion)
	dst = AppendString(dst, m.ChannelRole)
	dst = AppendVarint(dst, m.CreatedAt)
	dst = AppendVarint(dst, m.UpdatedAt)
	return AppendBytes(dst, m.Custom)
}

// Unmarshal decodes src into m. Strings are copied; m.Custom aliases src.
func (m *Member) Unmarshal(src []byte) error {
	d := Decoder{B: src}
	if err := d.Version(memberVersion, "member"); err != nil {
		return err
	}
	m.ChannelRole = d.String()
	m.CreatedAt = d.Varint()
	m.UpdatedAt = d.Varint()
	m.Custom = d.Bytes()
	if d.Err == nil && len(d.B) != 0 {
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
