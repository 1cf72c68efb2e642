package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The month's campaign messages (PrefixQuota): one key per calendar month (UTC) and campaign,
//
//	0x40 <be32 yyyymm><campaign id> → be64 messages the campaign sent that month
//
// written in each fan-out chunk's own batch, with the messages it counts. A campaign's chunks
// commit one after the other, so each key has one writer at a time and its value only grows;
// chunks of different campaigns write different keys, so their commit order does not matter. The
// month's total is the sum over its keys (SumMonthlySent). Deleting a campaign keeps its keys:
// its messages stay, and so does their count.

// Month returns the yyyymm number of t's calendar month in UTC (202603 for March 2026).
func Month(t time.Time) uint32 {
	t = t.UTC()
	return uint32(t.Year())*100 + uint32(t.Month())
}

func monthlySentKey(dst []byte, month uint32, campaignID string) []byte {
	return NewKey(dst, PrefixQuota).U32(month).Str(campaignID)
}

// PutMonthlySent stores n as the messages campaign campaignID sent in month (yyyymm) in b.
func (b *Batch) PutMonthlySent(month uint32, campaignID string, n uint64) {
	var kb [64]byte
	var vb [8]byte
	b.Set(monthlySentKey(kb[:0], month, campaignID), binary.BigEndian.AppendUint64(vb[:0], n))
}

// ReadMonthlySent returns the messages campaign campaignID sent in month (yyyymm); 0 when none.
func ReadMonthlySent(r Reader, month uint32, campaignID string) (uint64, error) {
	var kb [64]byte
	v, err := r.Get(nil, monthlySentKey(kb[:0], month, campaignID))
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cannot read the messages campaign %q sent in %d: %w", campaignID, month, err)
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("cannot read the messages campaign %q sent in %d: %d bytes: %w", campaignID, month, len(v), ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v), nil
}

// SumMonthlySent returns the campaign messages sent in month (yyyymm), all campaigns together.
func SumMonthlySent(r Reader, month uint32) (uint64, error) {
	var lb, ub [8]byte
	lower := NewKey(lb[:0], PrefixQuota).U32(month)
	upper := NewKey(ub[:0], PrefixQuota).U32(month + 1)
	it := r.NewIter(lower, upper)
	var sum uint64
	var err error
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		if len(v) != 8 {
			err = fmt.Errorf("cannot sum the campaign messages of %d: key %q holds %d bytes: %w", month, it.Key(), len(v), ErrCorrupt)
			break
		}
		sum += binary.BigEndian.Uint64(v)
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return sum, err
}
