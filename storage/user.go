package storage

import (
	"fmt"
	"unsafe"
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
		return aliasString(d.Bytes())
	}
	return d.String()
}

// aliasString returns b as a string without copying; the string aliases b.
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
