package storage

import (
	"encoding/binary"
	"fmt"
)

// Scans of channels and memberships by ordinal. Member keys are <channel ord><user ord>, their
// twins <user ord><channel ord> (see Member).

// ScanUserChannels calls fn with the ordinal of every channel user is a member of, ascending,
// until fn returns false.
func ScanUserChannels(r Reader, user uint32, fn func(ch uint32) bool) error {
	return scanOrdPairs(r, NewKey(nil, PrefixUserChannel).U32(user), func(ch uint32, _ []byte) bool { return fn(ch) })
}

// ScanUserChannelFlags is ScanUserChannels with each membership's ListFlags (from the reverse
// key's value: no member record is read).
func ScanUserChannelFlags(r Reader, user uint32, fn func(ch uint32, f ListFlags) bool) error {
	return scanOrdPairs(r, NewKey(nil, PrefixUserChannel).U32(user), func(ch uint32, v []byte) bool {
		var f ListFlags
		if len(v) > 0 {
			f = ListFlags(v[0])
		}
		return fn(ch, f)
	})
}

// ScanMembers calls fn with the user ordinal and the encoded Member record of every member of
// channel ch, in user ordinal order, until fn returns false. v aliases iterator memory: it is
// valid only during the call.
func ScanMembers(r Reader, ch uint32, fn func(user uint32, v []byte) bool) error {
	return scanOrdPairs(r, NewKey(nil, PrefixMember).U32(ch), fn)
}

// scanOrdPairs calls fn with the second ordinal and the value of every key <prefix><be32 ord>.
func scanOrdPairs(r Reader, prefix []byte, fn func(ord uint32, v []byte) bool) error {
	it := r.NewIter(prefix, PrefixEnd(nil, prefix))
	var err error
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+4 {
			err = fmt.Errorf("cannot read membership key %x: %w", k, ErrCorrupt)
			break
		}
		if !fn(binary.BigEndian.Uint32(k[len(prefix):]), it.Value()) {
			break
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}

// ScanChannels calls fn with every channel record in ordinal order, until fn returns false.
//
// NB: c aliases iterator memory and is reused (UnmarshalNoCopy): it is valid only during the call.
func ScanChannels(r Reader, fn func(ord uint32, c *Channel) bool) error {
	it := r.NewIter([]byte{PrefixChannel}, []byte{PrefixChannel + 1})
	var (
		c   Channel
		err error
	)
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 5 {
			err = fmt.Errorf("cannot read channel key %x: %w", k, ErrCorrupt)
			break
		}
		ord := binary.BigEndian.Uint32(k[1:])
		if err = c.UnmarshalNoCopy(it.Value()); err != nil {
			err = fmt.Errorf("cannot read channel %d: %w", ord, err)
			break
		}
		if !fn(ord, &c) {
			break
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}
