package engine

import (
	"time"

	"github.com/campaignd/campaignd/storage"
)

// AppendUserJSON appends u as a UserResponse: the object embedded in messages,
// channels, members and events. Custom fields are flattened as top-level keys. It does not
// allocate (beyond growing dst).
func AppendUserJSON(dst []byte, u *storage.User) []byte {
	dst = appendUserFields(dst, u)
	dst = appendCustomFields(dst, u.Custom)
	return append(dst, '}')
}

// AppendFullUserJSON appends u as a FullUserResponse: the UserResponse plus the
// devices, mutes and unread counters returned by upsert, partial update and query users.
func AppendFullUserJSON(dst []byte, u *storage.User) []byte {
	dst = appendUserFields(dst, u)
	dst = append(dst, `,"devices":[],"mutes":[],"channel_mutes":[],"total_unread_count":0,"unread_count":0,"unread_channels":0,"unread_threads":0`...)
	dst = appendCustomFields(dst, u.Custom)
	return append(dst, '}')
}

// appendUserFields appends `{` and the known fields of u, without the closing brace.
func appendUserFields(dst []byte, u *storage.User) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, u.ID)
	dst = append(dst, `,"role":`...)
	role := u.Role
	if role == "" {
		role = DefaultUserRole
	}
	dst = AppendJSONString(dst, role)
	if u.Name != "" {
		dst = append(dst, `,"name":`...)
		dst = AppendJSONString(dst, u.Name)
	}
	if u.Image != "" {
		dst = append(dst, `,"image":`...)
		dst = AppendJSONString(dst, u.Image)
	}
	dst = append(dst, `,"created_at":`...)
	dst = appendNanos(dst, u.CreatedAt)
	dst = append(dst, `,"updated_at":`...)
	dst = appendNanos(dst, u.UpdatedAt)
	if u.LastActive != 0 {
		dst = append(dst, `,"last_active":`...)
		dst = appendNanos(dst, u.LastActive)
	}
	if u.DeactivatedAt != 0 {
		dst = append(dst, `,"deactivated_at":`...)
		dst = appendNanos(dst, u.DeactivatedAt)
	}
	if u.DeletedAt != 0 {
		dst = append(dst, `,"deleted_at":`...)
		dst = appendNanos(dst, u.DeletedAt)
	}
	dst = append(dst, `,"banned":`...)
	dst = appendBool(dst, u.Banned)
	dst = append(dst, `,"online":false,"shadow_banned":`...)
	dst = appendBool(dst, u.ShadowBanned)
	dst = append(dst, `,"invisible":`...)
	dst = appendBool(dst, u.Invisible)
	dst = append(dst, `,"language":`...)
	dst = AppendJSONString(dst, u.Language)
	dst = append(dst, `,"teams":[`...)
	for i, t := range u.Teams {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, t)
	}
	return append(dst, `],"blocked_user_ids":[]`...)
}

// appendCustomFields appends the members of the raw JSON object custom, each preceded by a comma:
// custom fields as top-level keys of the object being encoded.
func appendCustomFields(dst, custom []byte) []byte {
	if m := objectMembers(custom); m != nil {
		dst = append(append(dst, ','), m...)
	}
	return dst
}

// objectMembers returns the members of the raw JSON object obj, a compact object written by a
// decoder ("{}", "{...}") or empty, without its braces; nil when it has none.
func objectMembers(obj []byte) []byte {
	if len(obj) <= 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return nil
	}
	inner := obj[1 : len(obj)-1]
	for len(inner) > 0 && isJSONSpace(inner[0]) {
		inner = inner[1:]
	}
	if len(inner) == 0 {
		return nil
	}
	return inner
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func appendNanos(dst []byte, n int64) []byte {
	return AppendTime(dst, time.Unix(0, n))
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// DefaultUserRole is the role of a user stored without one.
const DefaultUserRole = "user"
