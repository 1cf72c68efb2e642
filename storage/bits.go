package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Bits names one stored bitmap of ordinals: the targets of a segment (SegmentBits) or the frozen
// audience of a campaign (CampaignBits). A bitmap is stored as one key per non-empty container of
// 2^16 ordinals, <owner prefix><be16 high 16 bits> → container; package bitmap encodes the
// containers, this package owns the keys. A Bits is immutable and may be shared.
type Bits struct {
	prefix []byte // never a prefix of another owner's (length-prefixed ids)
}

// SegmentBits names the target bitmap of segment id (prefix 0x11).
func SegmentBits(id string) Bits { return Bits{prefix: NewKey(nil, PrefixSegmentBits).LStr(id)} }

// CampaignBits names the frozen audience of campaign id (prefix 0x21).
func CampaignBits(id string) Bits { return Bits{prefix: NewKey(nil, PrefixCampaignBits).LStr(id)} }

// String names the bitmap's key prefix, for error messages.
func (bs Bits) String() string { return fmt.Sprintf("%x", bs.prefix) }

// containerKey appends the key of container hi to dst.
func (bs Bits) containerKey(dst []byte, hi uint16) []byte {
	return binary.BigEndian.AppendUint16(append(dst, bs.prefix...), hi)
}

// ScanBits calls fn with every stored container of bs in ascending hi order, until fn returns an
// error (which ScanBits returns). v aliases iterator memory: it is valid only during the call.
func ScanBits(r Reader, bs Bits, fn func(hi uint16, v []byte) error) error {
	it := r.NewIter(bs.prefix, PrefixEnd(nil, bs.prefix))
	var err error
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(bs.prefix)+2 {
			err = fmt.Errorf("cannot read bitmap %s: key %x: %w", bs, k, ErrCorrupt)
			break
		}
		if err = fn(binary.BigEndian.Uint16(k[len(bs.prefix):]), it.Value()); err != nil {
			break
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}

// GetBitsContainer appends container hi of bs to dst; found is false when it is not stored (no
// ordinal of that range is in the bitmap).
func GetBitsContainer(r Reader, bs Bits, hi uint16, dst []byte) (v []byte, found bool, err error) {
	var kb [64]byte
	v, err = r.Get(dst, bs.containerKey(kb[:0], hi))
	switch {
	case errors.Is(err, ErrNotFound):
		return dst, false, nil
	case err != nil:
		return dst, false, fmt.Errorf("cannot read container %d of bitmap %s: %w", hi, bs, err)
	}
	return v, true, nil
}

// PutBitsContainer stores v as container hi of bs in b.
func (b *Batch) PutBitsContainer(bs Bits, hi uint16, v []byte) {
	var kb [64]byte
	b.Set(bs.containerKey(kb[:0], hi), v)
}

// DeleteBitsContainer removes container hi of bs in b.
func (b *Batch) DeleteBitsContainer(bs Bits, hi uint16) {
	var kb [64]byte
	b.Delete(bs.containerKey(kb[:0], hi))
}

// DeleteBits removes every container of bs in b.
func (b *Batch) DeleteBits(bs Bits) {
	b.DeleteRange(bs.prefix, PrefixEnd(nil, bs.prefix))
}
