package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
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

func segmentKey(dst []byte, id string) []byte { return NewKey(dst, PrefixSegment).Str(id) }

// segmentTargetPrefix appends the prefix of segment id's target-id index to dst.
func segmentTargetPrefix(dst []byte, id string) []byte { return NewKey(dst, PrefixSegmentTgt).LStr(id) }

// segmentTargetKey appends the index key of target in segment id to dst.
func segmentTargetKey(dst []byte, id, target string) []byte {
	return NewKey(dst, PrefixSegmentTgt).LStr(id).Str(target)
}

// segmentLockPrefix appends the prefix of segment id's lock keys to dst.
func segmentLockPrefix(dst []byte, id string) []byte { return NewKey(dst, PrefixSegmentLock).LStr(id) }

// segmentLockKey appends the key that records that campaign campaignID uses segment id to dst.
func segmentLockKey(dst []byte, id, campaignID string) []byte {
	return NewKey(dst, PrefixSegmentLock).LStr(id).Str(campaignID)
}

// ReadSegment reads the record of segment id through r into s (nothing aliases r). found is false
// when there is none; a deleted segment is found, with DeletedAt set.
func ReadSegment(r Reader, id string, s *Segment) (found bool, err error) {
	var kb [64]byte
	found, err = GetRecord(r, segmentKey(kb[:0], id), s)
	if err != nil {
		return false, fmt.Errorf("cannot read segment %q: %w", id, err)
	}
	return found, nil
}

// PutSegment stores s as the record of segment s.ID in b.
func (b *Batch) PutSegment(s *Segment) {
	var kb [64]byte
	b.putRecord(segmentKey(kb[:0], s.ID), s)
}

// ScanSegments calls fn with every segment record (deleted ones included) in id order, until fn
// returns an error, which ScanSegments returns. Each s is new: fn may keep it.
func ScanSegments(r Reader, fn func(s *Segment) error) error {
	it := r.NewIter([]byte{PrefixSegment}, []byte{PrefixSegment + 1})
	var err error
	for ok := it.First(); ok; ok = it.Next() {
		s := new(Segment)
		if err = s.Unmarshal(it.Value()); err != nil {
			err = fmt.Errorf("cannot read segment %q: %w", it.Key()[1:], err)
			break
		}
		if err = fn(s); err != nil {
			break
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}

// The target index of a static segment: target id → be64 unix-nanosecond time it was added.

// SegmentTargetAddedAt returns when target was added to segment id; found is false when target is
// not in the segment's target index.
func SegmentTargetAddedAt(r Reader, id, target string) (addedAt int64, found bool, err error) {
	var kb [128]byte
	var vb [8]byte
	v, err := r.Get(vb[:0], segmentTargetKey(kb[:0], id, target))
	switch {
	case errors.Is(err, ErrNotFound):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("cannot read target %q of segment %q: %w", target, id, err)
	}
	if addedAt, err = decodeBE64(v); err != nil {
		return 0, false, fmt.Errorf("cannot read target %q of segment %q: %w", target, id, err)
	}
	return addedAt, true, nil
}

// PutSegmentTarget records in b that target was added to segment id at addedAt (unix nanos).
func (b *Batch) PutSegmentTarget(id, target string, addedAt int64) {
	var kb [128]byte
	var vb [8]byte
	b.Set(segmentTargetKey(kb[:0], id, target), appendBE64(vb[:0], addedAt))
}

// DeleteSegmentTarget removes target from segment id's target index in b.
func (b *Batch) DeleteSegmentTarget(id, target string) {
	var kb [128]byte
	b.Delete(segmentTargetKey(kb[:0], id, target))
}

// ScanSegmentTargets calls fn with the targets of segment id whose target id t is in
// [from, to) — to "" means no upper bound (no target id is empty) — in ascending target id order,
// or descending when reverse, until fn returns false.
func ScanSegmentTargets(r Reader, id, from, to string, reverse bool, fn func(target string, addedAt int64) bool) error {
	prefix := segmentTargetPrefix(nil, id)
	lower := append(slices.Clip(prefix), from...)
	upper := PrefixEnd(nil, prefix)
	if to != "" {
		upper = append(slices.Clip(prefix), to...)
	}
	if bytes.Compare(lower, upper) >= 0 {
		return nil
	}
	it := r.NewIter(lower, upper)
	var (
		err   error
		valid bool
	)
	if reverse {
		valid = it.Last()
	} else {
		valid = it.First()
	}
	for valid {
		target := string(it.Key()[len(prefix):])
		var addedAt int64
		if addedAt, err = decodeBE64(it.Value()); err != nil {
			err = fmt.Errorf("cannot read target %q of segment %q: %w", target, id, err)
			break
		}
		if !fn(target, addedAt) {
			break
		}
		if reverse {
			valid = it.Prev()
		} else {
			valid = it.Next()
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}

// Pending targets: a static segment's targets that named no known user or channel when they were
// added are kept by id only (prefixSegmentPend, beside their PrefixSegmentTgt entry), not interned
// and not in the segment's bitmap, so that ids that never become users or channels cost no memory.
// A campaign's audience looks them up when it is frozen.

func segmentPendingKey(dst []byte, id, target string) []byte {
	return NewKey(dst, prefixSegmentPend).LStr(id).Str(target)
}

// PutSegmentPending records in b that target of segment id is pending.
func (b *Batch) PutSegmentPending(id, target string) {
	var kb [128]byte
	b.Set(segmentPendingKey(kb[:0], id, target), nil)
}

// DeleteSegmentPending removes target of segment id from its pending targets in b (if there).
func (b *Batch) DeleteSegmentPending(id, target string) {
	var kb [128]byte
	b.Delete(segmentPendingKey(kb[:0], id, target))
}

// ScanSegmentPending calls fn with every pending target of segment id, in ascending order, until
// fn returns false. target aliases iterator memory: it is valid only during the call.
func ScanSegmentPending(r Reader, id string, fn func(target []byte) bool) error {
	prefix := NewKey(nil, prefixSegmentPend).LStr(id)
	it := r.NewIter(prefix, PrefixEnd(nil, prefix))
	for ok := it.First(); ok; ok = it.Next() {
		if !fn(it.Key()[len(prefix):]) {
			break
		}
	}
	return it.Close()
}

// PendingAmong reports which of targets (sorted ascending) are pending targets of segment id, with
// one iterator: a segment without pending targets costs one seek.
func PendingAmong(r Reader, id string, targets []string) ([]bool, error) {
	out := make([]bool, len(targets))
	prefix := NewKey(nil, prefixSegmentPend).LStr(id)
	it := r.NewIter(prefix, PrefixEnd(nil, prefix))
	key := slices.Clip(prefix)
	for i, t := range targets {
		key = append(key[:len(prefix)], t...)
		if !it.SeekGE(key) {
			break // no pending target at or after t
		}
		out[i] = bytes.Equal(it.Key(), key)
	}
	return out, it.Close()
}

// LockSegment records in b that campaign campaignID uses segment id (see Segment).
func (b *Batch) LockSegment(id, campaignID string) {
	var kb [128]byte
	b.Set(segmentLockKey(kb[:0], id, campaignID), nil)
}

// UnlockSegment records in b that campaign campaignID no longer uses segment id.
func (b *Batch) UnlockSegment(id, campaignID string) {
	var kb [128]byte
	b.Delete(segmentLockKey(kb[:0], id, campaignID))
}

// SegmentLocked reports whether any campaign uses segment id.
func SegmentLocked(r Reader, id string) (bool, error) {
	prefix := segmentLockPrefix(nil, id)
	it := r.NewIter(prefix, PrefixEnd(nil, prefix))
	locked := it.First()
	if err := it.Close(); err != nil {
		return false, fmt.Errorf("cannot read the locks of segment %q: %w", id, err)
	}
	return locked, nil
}

// appendBE64 appends v as 8 big-endian bytes (target index values).
func appendBE64(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }

// decodeBE64 decodes 8 big-endian bytes, or reports ErrCorrupt.
func decodeBE64(b []byte) (int64, error) {
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
