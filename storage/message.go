package storage

import (
	"encoding/binary"
	"fmt"
)

const messageVersion = 1

// Message flag bits in the record's flags byte.
const (
	messageSilent        = 1 << 0
	messageShowInChannel = 1 << 1
)

// Message is the stored form of one message (PrefixMessage + be32 channel ord + be64 seq). Its id
// is indexed by PrefixMessageID + id -> be32 channel ord + be64 seq (see MessageRef).
//
// Times are unix nanoseconds (UTC), truncated to microseconds by the engine. Attachments is the
// raw JSON array sent by the client (empty for none); Custom one raw JSON object of custom keys
// (empty for none).
type Message struct {
	ID   string
	Type string
	Text string
	// HTML is kept only when the client sent it; the engine renders it from Text otherwise.
	HTML string
	// User is the author's user ordinal.
	User uint32

	Attachments    []byte
	PollID         string
	ParentID       string
	MentionedUsers []uint32
	Silent         bool
	ShowInChannel  bool

	CreatedAt int64
	UpdatedAt int64

	Custom []byte
}

// MessageKey appends the key of message seq of channel chanOrd to dst.
func MessageKey(dst []byte, chanOrd uint32, seq uint64) []byte {
	return NewKey(dst, PrefixMessage).U32(chanOrd).U64(seq)
}

// MessageIDKey appends the key of the message-id index entry of id to dst.
func MessageIDKey(dst []byte, id string) []byte {
	return NewKey(dst, PrefixMessageID).Str(id)
}

// AppendMessageRef appends the value of a message-id index entry to dst.
func AppendMessageRef(dst []byte, chanOrd uint32, seq uint64) []byte {
	dst = binary.BigEndian.AppendUint32(dst, chanOrd)
	return binary.BigEndian.AppendUint64(dst, seq)
}

// ParseMessageRef decodes a message-id index value.
func ParseMessageRef(v []byte) (chanOrd uint32, seq uint64, err error) {
	if len(v) != 12 {
		return 0, 0, fmt.Errorf("cannot decode message ref of %d bytes: %w", len(v), ErrCorrupt)
	}
	return binary.BigEndian.Uint32(v), binary.BigEndian.Uint64(v[4:]), nil
}

// ParseMessageKey returns the channel ordinal and seq of a PrefixMessage key.
func ParseMessageKey(k []byte) (chanOrd uint32, seq uint64, ok bool) {
	if len(k) != 13 || k[0] != PrefixMessage {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(k[1:]), binary.BigEndian.Uint64(k[5:]), true
}

// Marshal appends the encoded message to dst.
func (m *Message) Marshal(dst []byte) []byte {
	dst = append(dst, messageVersion)
	var flags byte
	if m.Silent {
		flags |= messageSilent
	}
	if m.ShowInChannel {
		flags |= messageShowInChannel
	}
	dst = append(dst, flags)
	dst = AppendString(dst, m.ID)
	dst = AppendString(dst, m.Type)
	dst = AppendString(dst, m.Text)
	dst = AppendString(dst, m.HTML)
	dst = AppendUvarint(dst, uint64(m.User))
	dst = AppendBytes(dst, m.Attachments)
	dst = AppendString(dst, m.PollID)
	dst = AppendString(dst, m.ParentID)
	dst = AppendUvarint(dst, uint64(len(m.MentionedUsers)))
	for _, u := range m.MentionedUsers {
		dst = AppendUvarint(dst, uint64(u))
	}
	dst = AppendVarint(dst, m.CreatedAt)
	dst = AppendVarint(dst, m.UpdatedAt)
	return AppendBytes(dst, m.Custom)
}

// Unmarshal decodes src into m. Strings are copied; m.Attachments and m.Custom alias src.
// m.MentionedUsers reuses its backing array when it is large enough.
func (m *Message) Unmarshal(src []byte) error { return m.unmarshal(src, false) }

// UnmarshalNoCopy is Unmarshal without copying strings: m is valid only while src is unchanged.
func (m *Message) UnmarshalNoCopy(src []byte) error { return m.unmarshal(src, true) }

func (m *Message) unmarshal(src []byte, alias bool) error {
	d := Decoder{B: src}
	if err := d.Version(messageVersion, "message"); err != nil {
		return err
	}
	flags := d.Byte()
	m.Silent = flags&messageSilent != 0
	m.ShowInChannel = flags&messageShowInChannel != 0
	m.ID = d.stringAlias(alias)
	m.Type = d.stringAlias(alias)
	m.Text = d.stringAlias(alias)
	m.HTML = d.stringAlias(alias)
	m.User = d.u32()
	m.Attachments = d.Bytes()
	m.PollID = d.stringAlias(alias)
	m.ParentID = d.stringAlias(alias)
	n := d.Uvarint()
	if d.Err == nil && n > uint64(len(d.B)) {
		d.fail()
	}
	m.MentionedUsers = m.MentionedUsers[:0]
	for i := uint64(0); i < n && d.Err == nil; i++ {
		m.MentionedUsers = append(m.MentionedUsers, d.u32())
	}
	if len(m.MentionedUsers) == 0 {
		m.MentionedUsers = nil
	}
	m.CreatedAt = d.Varint()
	m.UpdatedAt = d.Varint()
	m.Custom = d.Bytes()
	if d.Err == nil && len(d.B) != 0 {
		d.fail()
	}
	if d.Err != nil {
		return fmt.Errorf("cannot decode message: %w", d.Err)
	}
	return nil
}
