package wire

import (
	"strconv"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
)

// AppendUser appends u as a UserResponse: the object embedded in messages, channels, members
// and events. Custom fields are flattened as top-level keys. It does not allocate (beyond
// growing dst).
func (Legacy) AppendUser(dst []byte, u *storage.User) []byte {
	dst = appendUserFields(dst, u)
	dst = appendCustomFields(dst, u.Custom)
	return append(dst, '}')
}

// AppendGoneUser appends the UserResponse of a user that is gone: {"id": id}, so that old
// messages and members still show who they were.
func (Legacy) AppendGoneUser(dst []byte, id string) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, id)
	return append(dst, '}')
}

// AppendFullUser appends u as a FullUserResponse: the UserResponse plus the devices, mutes and
// unread counters returned by upsert, partial update and query users.
func (Legacy) AppendFullUser(dst []byte, u *storage.User) []byte {
	dst = appendUserFields(dst, u)
	dst = append(dst, `,"devices":[],"mutes":[],"channel_mutes":[],"total_unread_count":0,"unread_count":0,"unread_channels":0,"unread_threads":0`...)
	dst = appendCustomFields(dst, u.Custom)
	return append(dst, '}')
}

// appendUserFields appends `{` and the known fields of u, without the closing brace.
func appendUserFields(dst []byte, u *storage.User) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, u.ID)
	dst = append(dst, `,"role":`...)
	role := u.Role
	if role == "" {
		role = engine.DefaultUserRole
	}
	dst = AppendString(dst, role)
	if u.Name != "" {
		dst = append(dst, `,"name":`...)
		dst = AppendString(dst, u.Name)
	}
	if u.Image != "" {
		dst = append(dst, `,"image":`...)
		dst = AppendString(dst, u.Image)
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
	dst = AppendString(dst, u.Language)
	dst = append(dst, `,"teams":`...)
	dst = appendStrings(dst, u.Teams)
	return append(dst, `,"blocked_user_ids":[]`...)
}

// AppendUsersByID appends the reply of POST and PATCH /users: {"users": {"<id>": FullUserResponse}}.
func (l Legacy) AppendUsersByID(dst []byte, users []storage.User) []byte {
	dst = append(dst, `{"users":{`...)
	for i := range users {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, users[i].ID)
		dst = append(dst, ':')
		dst = l.AppendFullUser(dst, &users[i])
	}
	return append(dst, `}}`...)
}

// AppendUsersList appends the reply of GET /users: {"users": [FullUserResponse, ...]}, always an
// array (the SDK iterates it).
func (l Legacy) AppendUsersList(dst []byte, users []storage.User) []byte {
	dst = append(dst, `{"users":[`...)
	for i := range users {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = l.AppendFullUser(dst, &users[i])
	}
	return append(dst, `]}`...)
}

// AppendDeletedUser appends the reply of DELETE /users/{id}: {"user": UserResponse, "task_id"}.
func (l Legacy) AppendDeletedUser(dst []byte, u *storage.User, taskID string) []byte {
	dst = append(dst, `{"user":`...)
	dst = l.AppendUser(dst, u)
	dst = append(dst, `,"task_id":`...)
	dst = AppendString(dst, taskID)
	return append(dst, '}')
}

// AppendImportResult appends the reply of POST /users/import (an extension):
// {"imported", "failed", "errors": [{"line", "reason"}], "errors_truncated"}.
func (Legacy) AppendImportResult(dst []byte, res *engine.ImportResult) []byte {
	dst = append(dst, `{"imported":`...)
	dst = strconv.AppendInt(dst, int64(res.Imported), 10)
	dst = append(dst, `,"failed":`...)
	dst = strconv.AppendInt(dst, int64(res.Failed), 10)
	dst = append(dst, `,"errors":[`...)
	for i, le := range res.Errors {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"line":`...)
		dst = strconv.AppendInt(dst, int64(le.Line), 10)
		dst = append(dst, `,"reason":`...)
		dst = AppendString(dst, le.Reason)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"errors_truncated":`...)
	dst = strconv.AppendBool(dst, res.ErrorsTruncated)
	return append(dst, '}')
}
