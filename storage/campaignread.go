package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Read markers of campaigns (prefixCampaignRead): one key per recipient who read the channel
// holding the campaign's message to it, written once, never rewritten:
//
//	<be32 len><campaign id><be32 recipient ord>               user audiences: the receiver
//	<be32 len><campaign id><be32 channel ord><be32 user ord>  channel audiences: a member of the channel
//
// The value is be64 read_at (unix nanoseconds). A campaign's stats_users_read is the number of its
// markers; the engine counts them once and keeps the count in memory (engine/doc.go).

// CampaignRead names one read marker: Recipient is the audience ordinal (a user, or a channel for
// channel audiences) and Reader the member who read (0 for user audiences: the receiver).
type CampaignRead struct {
	Recipient uint32
	Reader    uint32
}

func campaignReadPrefix(dst []byte, id string) []byte {
	return NewKey(dst, prefixCampaignRead).LStr(id)
}

func campaignReadKey(dst []byte, id string, r CampaignRead) []byte {
	k := Key(campaignReadPrefix(dst, id)).U32(r.Recipient)
	if r.Reader != 0 {
		k = k.U32(r.Reader)
	}
	return k
}

// HasCampaignRead reports whether marker r of campaign id exists (through r's Reader).
func HasCampaignRead(rd Reader, id string, r CampaignRead) (bool, error) {
	var kb [80]byte
	_, err := rd.Get(nil, campaignReadKey(kb[:0], id, r))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("cannot read a read marker of campaign %q: %w", id, err)
}

// PutCampaignRead stores marker r of campaign id, read at (unix nanoseconds), in b.
func (b *Batch) PutCampaignRead(id string, r CampaignRead, at int64) {
	var kb [80]byte
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(at))
	b.Set(campaignReadKey(kb[:0], id, r), v[:])
}

// DeleteCampaignReads removes every read marker of campaign id in b (one range deletion).
func (b *Batch) DeleteCampaignReads(id string) {
	lower := campaignReadPrefix(nil, id)
	b.DeleteRange(lower, PrefixEnd(nil, lower))
}

// ScanCampaignReads calls fn with every read marker of campaign id, in key order (ascending
// recipient, then reader), and its read time, until fn returns false.
func ScanCampaignReads(rd Reader, id string, fn func(r CampaignRead, at int64) bool) error {
	lower := campaignReadPrefix(nil, id)
	it := rd.NewIter(lower, PrefixEnd(nil, lower))
	var err error
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key()[len(lower):], it.Value()
		var r CampaignRead
		switch {
		case len(k) == 4:
			r.Recipient = binary.BigEndian.Uint32(k)
		case len(k) == 8:
			r.Recipient, r.Reader = binary.BigEndian.Uint32(k), binary.BigEndian.Uint32(k[4:])
		default:
			err = fmt.Errorf("cannot read a read marker of campaign %q: key %x: %w", id, it.Key(), ErrCorrupt)
		}
		if err == nil && len(v) != 8 {
			err = fmt.Errorf("cannot read a read marker of campaign %q: value of %d bytes: %w", id, len(v), ErrCorrupt)
		}
		if err != nil || !fn(r, int64(binary.BigEndian.Uint64(v))) {
			break
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}

// CountCampaignReads returns the number of read markers of campaign id: one forward scan of its
// keys.
func CountCampaignReads(rd Reader, id string) (uint64, error) {
	var n uint64
	err := ScanCampaignReads(rd, id, func(CampaignRead, int64) bool { n++; return true })
	return n, err
}
