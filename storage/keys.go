package storage

import "encoding/binary"

// Key prefixes. Every keyspace starts with one byte; storage/doc.go is the table of what follows it.
// NB: never renumber a prefix: existing data directories depend on them.
const (
	prefixMeta         byte = 0x00 // meta/<name> -> value (format version, counters)
	_                  byte = 0x01 // reserved (a forward intern index; the table is in memory)
	prefixInternRev    byte = 0x02 // <kind><be32 ordinal> -> id
	PrefixUser         byte = 0x03 // <be32 user ord> -> User record
	PrefixChannel      byte = 0x04 // <be32 channel ord> -> Channel record
	PrefixMember       byte = 0x05 // <be32 channel ord><be32 user ord> -> Member record
	PrefixUserChannel  byte = 0x06 // <be32 user ord><be32 channel ord> -> empty (user's channels)
	PrefixMessage      byte = 0x07 // <be32 channel ord><be64 message seq> -> Message record
	PrefixMessageID    byte = 0x08 // <message id> -> <be32 channel ord><be64 message seq>
	PrefixSegment      byte = 0x10 // <segment id> -> Segment record
	PrefixSegmentBits  byte = 0x11 // <be32 segment key len><segment id><be16 container hi> -> roaring container
	PrefixSegmentTgt   byte = 0x12 // <be32 segment key len><segment id><target id> -> be64 created_at nanos
	PrefixSegmentLock  byte = 0x13 // <be32 segment key len><segment id><campaign id> -> empty (running campaign uses it)
	prefixSegmentPend  byte = 0x14 // <be32 segment key len><segment id><target id> -> empty (a target not interned yet)
	PrefixCampaign     byte = 0x20 // <campaign id> -> Campaign record
	PrefixCampaignBits byte = 0x21 // <be32 campaign key len><campaign id><be16 container hi> -> frozen audience container
	PrefixCampaignRun  byte = 0x22 // <campaign id> -> fan-out progress (cursor, stats)
	prefixCampaignRead byte = 0x23 // <be32 campaign key len><campaign id><be32 recipient ord>[<be32 reader ord>] -> be64 read_at nanos
	PrefixOutbox       byte = 0x30 // <be64 seq> -> event
	PrefixOutboxCursor byte = 0x31 // <sink name> -> be64 last delivered seq
	PrefixDeadLetter   byte = 0x32 // <sink name><be64 seq> -> event
	PrefixQuota        byte = 0x40 // <be32 yyyymm><campaign id> -> be64 messages the campaign sent that month
)

// Interner kinds, the byte after prefixInternRev.
const (
	internUser    byte = 'u'
	internChannel byte = 'c'
)

// InternedChannelKey appends the key under which the channel interner stores the cid of
// ordinal ord (its value is the cid's bytes), for writers that assign channel ordinals of a fresh
// store themselves, such as the storage-limit benchmark.
func InternedChannelKey(dst []byte, ord uint32) []byte {
	return Key(append(NewKey(dst, prefixInternRev), internChannel)).U32(ord)
}

// Key builds keys with one reusable buffer: k := storage.Key(buf[:0], storage.PrefixUser).U32(ord).
type Key []byte

// NewKey starts a key with prefix p, appending to dst.
func NewKey(dst []byte, p byte) Key { return Key(append(dst, p)) }

// U32 appends v big-endian.
func (k Key) U32(v uint32) Key { return binary.BigEndian.AppendUint32(k, v) }

// U64 appends v big-endian.
func (k Key) U64(v uint64) Key { return binary.BigEndian.AppendUint64(k, v) }

// U16 appends v big-endian.
func (k Key) U16(v uint16) Key { return binary.BigEndian.AppendUint16(k, v) }

// Str appends s as is (only safe as the last component, or for fixed-width neighbours).
func (k Key) Str(s string) Key { return append(k, s...) }

// LStr appends s prefixed by its be32 length, so that it can be followed by more components
// and prefix scans over it do not bleed into longer names.
func (k Key) LStr(s string) Key {
	k = binary.BigEndian.AppendUint32(k, uint32(len(s)))
	return append(k, s...)
}

// B appends raw bytes.
func (k Key) B(b []byte) Key { return append(k, b...) }

// PrefixEnd returns the smallest key greater than every key starting with prefix, appended to dst.
// It returns nil when no such key exists (prefix is all 0xff).
func PrefixEnd(dst, prefix []byte) []byte {
	end := append(dst, prefix...)
	for i := len(end) - 1; i >= len(dst); i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}
