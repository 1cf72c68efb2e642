package storage

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/campaignd/campaignd/internal/bytesconv"
)

const userVersion = 1

// User flag bits in the record's flags byte.
const (
	userBanned       = 1 << 0
	userShadowBanned = 1 << 1
	userInvisible    = 1 << 2
)

// User is the stored form of one user (PrefixUser + be32 ordinal, the ordinal from DB.Users).
//
// Times are unix nanoseconds (UTC), truncated to microseconds by the engine so that they survive
// the wire format; 0 means "not set". Custom is one raw JSON object holding every custom top-level
// key of the user ("{}" or empty when there are none); it never holds a known field's key.
type User struct {
	ID       string
	Role     string
	Name     string
	Image    string
	Language string
	Teams    []string

	Banned       bool
	ShadowBanned bool
	Invisible    bool

	CreatedAt     int64
	UpdatedAt     int64
	LastActive    int64
	DeactivatedAt int64
	DeletedAt     int64

	Custom []byte
}

// UserKey appends the key of the user with ordinal ord to dst.
func UserKey(dst []byte, ord uint32) []byte {
	return NewKey(dst, PrefixUser).U32(ord)
}

// userKeyOrd returns the ordinal of a user key.
func userKeyOrd(k []byte) (uint32, error) {
	if len(k) != 5 {
		return 0, fmt.Errorf("cannot read user key %x: %w", k, ErrCorrupt)
	}
	return binary.BigEndian.Uint32(k[1:]), nil
}

// userUpperKey appends the exclusive upper bound of the keys of the ordinals up to hi to dst.
func userUpperKey(dst []byte, hi uint32) []byte {
	if hi == ^uint32(0) {
		return append(dst, PrefixUser+1)
	}
	return UserKey(dst, hi+1)
}

// ReadUser reads the record of user ord through r into u (strings copied; u.Custom is u's own).
// found is false when there is none.
func ReadUser(r Reader, ord uint32, u *User) (found bool, err error) {
	var kb [5]byte
	found, err = GetRecord(r, UserKey(kb[:0], ord), u)
	if err != nil {
		return false, fmt.Errorf("cannot read user %d: %w", ord, err)
	}
	return found, nil
}

// PutUser stores u as the record of user ord in b.
func (b *Batch) PutUser(ord uint32, u *User) {
	var kb [5]byte
	b.putRecord(UserKey(kb[:0], ord), u)
}

// DeleteUser removes the record of user ord in b.
func (b *Batch) DeleteUser(ord uint32) {
	var kb [5]byte
	b.Delete(UserKey(kb[:0], ord))
}

// ScanUsers calls fn with every stored user record (soft-deleted ones included) in ascending
// ordinal order, until fn returns false. It is one forward scan.
//
// NB: u aliases iterator memory and is reused (UnmarshalNoCopy): it is valid only during the call.
func ScanUsers(r Reader, fn func(ord uint32, u *User) bool) error {
	it := r.NewIter([]byte{PrefixUser}, []byte{PrefixUser + 1})
	var (
		u   User
		err error
	)
	for ok := it.First(); ok; ok = it.Next() {
		var ord uint32
		if ord, err = userKeyOrd(it.Key()); err != nil {
			break
		}
		if err = u.UnmarshalNoCopy(it.Value()); err != nil {
			err = fmt.Errorf("cannot read user %d: %w", ord, err)
			break
		}
		if !fn(ord, &u) {
			break
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}

// ReadUsers calls fn with the stored record of each ordinal of ords that has one (soft-deleted
// ones included), in the order of ords. Ascending ords (a roaring bitmap's order) are read with
// ONE forward scan, not one lookup each; any order works, just slower.
//
// NB: u aliases iterator memory and is reused, as in ScanUsers.
func ReadUsers(r Reader, ords []uint32, fn func(ord uint32, u *User)) error {
	if len(ords) == 0 {
		return nil
	}
	lo, hi := ords[0], ords[len(ords)-1]
	sorted := slices.IsSorted(ords)
	if !sorted {
		lo, hi = slices.Min(ords), slices.Max(ords)
	}
	var lower, upper, kb [5]byte
	it := r.NewIter(UserKey(lower[:0], lo), userUpperKey(upper[:0], hi))
	var (
		u   User
		cur uint32 // ordinal the iterator is on; 0 when unpositioned
		err error
	)
	for _, ord := range ords {
		var ok bool
		switch {
		case cur != 0 && ord == cur:
			ok = true
		case sorted && cur != 0 && ord < cur:
			continue // the iterator already passed ord: no such record
		case cur != 0 && ord == cur+1:
			ok = it.Next()
		default:
			ok = it.SeekGE(UserKey(kb[:0], ord))
		}
		if !ok {
			if sorted {
				break // no record at or after ord
			}
			cur = 0
			continue
		}
		if cur, err = userKeyOrd(it.Key()); err != nil {
			break
		}
		if cur != ord {
			continue
		}
		if err = u.UnmarshalNoCopy(it.Value()); err != nil {
			err = fmt.Errorf("cannot read user %d: %w", ord, err)
			break
		}
		fn(ord, &u)
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}

// Marshal appends the encoded user to dst.
func (u *User) Marshal(dst []byte) []byte {
	dst = append(dst, userVersion)
	var flags byte
	if u.Banned {
		flags |= userBanned
	}
	if u.ShadowBanned {
		flags |= userShadowBanned
	}
	if u.Invisible {
		flags |= userInvisible
	}
	dst = append(dst, flags)
	dst = AppendString(dst, u.ID)
	dst = AppendString(dst, u.Role)
	dst = AppendString(dst, u.Name)
	dst = AppendString(dst, u.Image)
	dst = AppendString(dst, u.Language)
	dst = AppendStrings(dst, u.Teams)
	dst = AppendVarint(dst, u.CreatedAt)
	dst = AppendVarint(dst, u.UpdatedAt)
	dst = AppendVarint(dst, u.LastActive)
	dst = AppendVarint(dst, u.DeactivatedAt)
	dst = AppendVarint(dst, u.DeletedAt)
	return AppendBytes(dst, u.Custom)
}

// Unmarshal decodes src into u. Strings are copied; u.Custom aliases src. u.Teams reuses its
// backing array when it is large enough.
func (u *User) Unmarshal(src []byte) error {
	return u.unmarshal(src, false)
}

// UnmarshalNoCopy decodes src into u without copying: every string, u.Teams' elements and
// u.Custom alias src, so u is valid only while src is unchanged (e.g. until an iterator moves).
// It does not allocate once u.Teams has grown to the record's team count. Used by scans.
func (u *User) UnmarshalNoCopy(src []byte) error {
	return u.unmarshal(src, true)
}

func (u *User) unmarshal(src []byte, alias bool) error {
	d := Decoder{B: src}
	if err := d.Version(userVersion, "user"); err != nil {
		return err
	}
	flags := d.Byte()
	u.Banned = flags&userBanned != 0
	u.ShadowBanned = flags&userShadowBanned != 0
	u.Invisible = flags&userInvisible != 0
	u.ID = d.stringAlias(alias)
	u.Role = d.stringAlias(alias)
	u.Name = d.stringAlias(alias)
	u.Image = d.stringAlias(alias)
	u.Language = d.stringAlias(alias)
	n := d.Uvarint()
	if d.Err == nil && n > uint64(len(d.B)) {
		d.fail()
	}
	u.Teams = u.Teams[:0]
	if d.Err == nil && n > 0 {
		if uint64(cap(u.Teams)) < n {
			u.Teams = make([]string, 0, n)
		}
		for i := uint64(0); i < n && d.Err == nil; i++ {
			u.Teams = append(u.Teams, d.stringAlias(alias))
		}
	}
	if len(u.Teams) == 0 {
		u.Teams = nil
	}
	u.CreatedAt = d.Varint()
	u.UpdatedAt = d.Varint()
	u.LastActive = d.Varint()
	u.DeactivatedAt = d.Varint()
	u.DeletedAt = d.Varint()
	u.Custom = d.Bytes()
	if d.Err == nil && len(d.B) != 0 {
		d.fail()
	}
	if d.Err != nil {
		return fmt.Errorf("cannot decode user: %w", d.Err)
	}
	return nil
}

// stringAlias reads a length-prefixed string, aliasing the input when alias is set.
func (d *Decoder) stringAlias(alias bool) string {
	if alias {
		return bytesconv.UnsafeString(d.Bytes())
	}
	return d.String()
}
