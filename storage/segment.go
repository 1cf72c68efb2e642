package storage

import (
	"encoding/binary"
	"fmt"
)

const segmentVersion = 1

// Segment types.
const (
	SegmentTypeUser    = "user"
	SegmentTypeChannel = "channel"
)

// Segment flag bits in the record.
const (
	segmentAllUsers          = 1 << 0
	segmentAllSenderChannels = 1 << 1
	segmentComputing         = 1 << 2
)

// Segment is the stored form of one segment (PrefixSegment + segment id).
//
// A segment is static (targets added by id, kept under PrefixSegmentBits and PrefixSegmentTgt)
// or dynamic (Filter, AllUsers or AllSenderChannels; at most one of them). Times are unix
// nanoseconds (UTC), truncated to microseconds by the engine; 0 means "not set". Whether a
// running campaign uses the segment is not in the record: it is the set of PrefixSegmentLock
// keys, which campaigns write in their own batches.
type Segment struct {
	ID          string
	Type        string // SegmentTypeUser or SegmentTypeChannel
	Name        string
	Description string
	// Filter is the raw JSON filter object of a filter segment, nil for other kinds.
	Filter            []byte
	AllUsers          bool
	AllSenderChannels bool

	// Size is the number of targets: counted in place for static segments, computed
	// asynchronously for filter and all_users segments (0 until done), 0 for all_sender_channels.
	Size uint64
	// Computing is set while an asynchronous size computation is pending; the engine resumes it
	// after a restart.
	Computing bool
	// Generation grows whenever the definition (filter, all_users) changes, so that a computation
	// started for an older definition does not store its result.
	Generation uint64
	TaskID     string

	CreatedAt int64
	UpdatedAt int64
	DeletedAt int64
}

// SegmentKey appends the key of segment id's record to dst.
func SegmentKey(dst []byte, id string) []byte {
	return NewKey(dst, PrefixSegment).Str(id)
}

// SegmentBitsPrefix appends the prefix of segment id's target bitmap containers to dst (the
// bitmap package appends <be16 container hi>).
func SegmentBitsPrefix(dst []byte, id string) []byte {
	return NewKey(dst, PrefixSegmentBits).LStr(id)
}

// SegmentTargetPrefix appends the prefix of segment id's target-id index to dst.
func SegmentTargetPrefix(dst []byte, id string) []byte {
	return NewKey(dst, PrefixSegmentTgt).LStr(id)
}

// SegmentTargetKey appends the index key of target in segment id to dst. Its value is the be64
// unix-nanosecond time the target was added.
func SegmentTargetKey(dst []byte, id, target string) []byte {
	return NewKey(dst, PrefixSegmentTgt).LStr(id).Str(target)
}

// SegmentLockPrefix appends the prefix of segment id's lock keys to dst.
func SegmentLockPrefix(dst []byte, id string) []byte {
	return NewKey(dst, PrefixSegmentLock).LStr(id)
}

// SegmentLockKey appends the key that records that campaign campaignID uses segment id to dst.
func SegmentLockKey(dst []byte, id, campaignID string) []byte {
	return NewKey(dst, PrefixSegmentLock).LStr(id).Str(campaignID)
}

// AppendBE64 appends v as 8 big-endian bytes (target index values).
func AppendBE64(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }

// DecodeBE64 decodes 8 big-endian bytes, or reports ErrCorrupt.
func DecodeBE64(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("cannot decode be64 of %d bytes: %w", len(b), ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// Marshal appends the encoded segment to dst.
func (s *Segment) Marshal(dst []byte) []byte {
	dst = append(dst, segmentVersion)
	var flags byte
	if s.AllUsers {
		flags |= segmentAllUsers
	}
	if s.AllSenderChannels {
		flags |= segmentAllSenderChannels
	}
	if s.Computing {
		flags |= segmentComputing
	}
	dst = append(dst, flags)
	dst = AppendString(dst, s.ID)
	dst = AppendString(dst, s.Type)
	dst = AppendString(dst, s.Name)
	dst = AppendString(dst, s.Description)
	dst = AppendBytes(dst, s.Filter)
	dst = AppendUvarint(dst, s.Size)
	dst = AppendUvarint(dst, s.Generation)
	dst = AppendString(dst, s.TaskID)
	dst = AppendVarint(dst, s.CreatedAt)
	dst = AppendVarint(dst, s.UpdatedAt)
	return AppendVarint(dst, s.DeletedAt)
}

// Unmarshal decodes src into s. Every field is copied: s does not alias src.
func (s *Segment) Unmarshal(src []byte) error {
	d := Decoder{B: src}
	if err := d.Version(segmentVersion, "segment"); err != nil {
		return err
	}
	flags := d.Byte()
	if flags&^(segmentAllUsers|segmentAllSenderChannels|segmentComputing) != 0 {
		d.fail()
	}
	s.AllUsers = flags&segmentAllUsers != 0
	s.AllSenderChannels = flags&segmentAllSenderChannels != 0
	s.Computing = flags&segmentComputing != 0
	s.ID = d.String()
	s.Type = d.String()
	s.Name = d.String()
	s.Description = d.String()
	s.Filter = nil
	if f := d.Bytes(); len(f) > 0 {
		s.Filter = append([]byte(nil), f...)
	}
	s.Size = d.Uvarint()
	s.Generation = d.Uvarint()
	s.TaskID = d.String()
	s.CreatedAt = d.Varint()
	s.UpdatedAt = d.Varint()
	s.DeletedAt = d.Varint()
	if d.Err == nil && len(d.B) != 0 {
		d.fail()
	}
	if d.Err != nil {
		return fmt.Errorf("cannot decode segment: %w", d.Err)
	}
	return nil
}
