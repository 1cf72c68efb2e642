package engine

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/VictoriaMetrics/metrics"

	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

// usersState is the engine's state for users, the user part of the filter, bulk import.
type usersState struct {
	// locks serialise read-modify-commit of user records (by ordinal), so that a concurrent
	// upsert, partial update or delete of the same user never loses a write.
	locks recordLocks
}

// nowMicros returns the engine clock in unix nanoseconds truncated to microseconds, the precision
// of wire timestamps: a stored time then equals the time parsed back from any reply.
func (e *Engine) nowMicros() int64 {
	return truncMicros(e.Now().UnixNano())
}

func truncMicros(n int64) int64 {
	r := n % 1000
	if r < 0 {
		r += 1000
	}
	return n - r
}

// UserDeleted reports whether u is soft-deleted. Soft-deleted users keep their record (and their
// ordinal) but are invisible to GetUser, UsersByOrdinals, ScanUsers and queries.
func UserDeleted(u *storage.User) bool { return u.DeletedAt != 0 }

// GetUser returns the user called id. found is false when the user does not exist or is
// soft-deleted. The returned user is a fresh copy the caller owns.
func (e *Engine) GetUser(id string) (u *storage.User, found bool, err error) {
	ord, ok := e.db.Users.Lookup(id)
	if !ok {
		return nil, false, nil
	}
	return e.GetUserByOrdinal(ord)
}

// GetUserByOrdinal is GetUser by ordinal.
func (e *Engine) GetUserByOrdinal(ord uint32) (*storage.User, bool, error) {
	u, found, err := e.getUserRecord(ord)
	if err != nil || !found || UserDeleted(u) {
		return nil, false, err
	}
	return u, true, nil
}

// getUserRecord reads the record of ord, soft-deleted or not.
func (e *Engine) getUserRecord(ord uint32) (*storage.User, bool, error) {
	u := &storage.User{}
	found, err := storage.ReadUser(e.db, ord, u)
	if err != nil || !found {
		return nil, false, err
	}
	return u, true, nil
}

// UsersByOrdinals calls fn for each ordinal in ords that names a live (stored, not soft-deleted)
// user, in the order of ords. ords should be ascending (a roaring bitmap's order): the users are
// then read with ONE forward Pebble scan, not one lookup each; any order works, just slower.
// Missing and soft-deleted users are skipped silently.
//
// NB: u aliases iterator memory and is reused: it is valid only during the call to fn. Copy what
// you keep (strings included: they alias the record bytes), except u.ID, which is the interner's
// string and may be kept.
func (e *Engine) UsersByOrdinals(ords []uint32, fn func(ord uint32, u *storage.User)) error {
	return e.userRecords(ords, false, fn)
}

// userRecords is UsersByOrdinals, including soft-deleted records when withDeleted is set.
func (e *Engine) userRecords(ords []uint32, withDeleted bool, fn func(ord uint32, u *storage.User)) error {
	return storage.ReadUsers(e.db, ords, func(ord uint32, u *storage.User) {
		if !withDeleted && UserDeleted(u) {
			return
		}
		u.ID = e.userID(ord, u.ID)
		fn(ord, u)
	})
}

// ScanUsers calls fn for every live user in ascending ordinal order, until fn returns false.
// It is one forward Pebble scan over the user keyspace.
//
// NB: u aliases iterator memory and is reused: it is valid only during the call to fn (u.ID, the
// interner's string, may be kept).
func (e *Engine) ScanUsers(fn func(ord uint32, u *storage.User) bool) error {
	return storage.ScanUsers(e.db, func(ord uint32, u *storage.User) bool {
		if UserDeleted(u) {
			return true
		}
		u.ID = e.userID(ord, u.ID)
		return fn(ord, u)
	})
}

// UserDoc is a user as a filter.Doc: f.Match((*engine.UserDoc)(u)). Known fields are answered
// from the decoded record without allocating; any other name is looked up in the raw custom JSON.
type UserDoc storage.User

var _ filter.Doc = (*UserDoc)(nil)

// Field implements filter.Doc.
func (d *UserDoc) Field(name string) (filter.Value, bool) {
	switch name {
	case "id":
		return filter.StringValue(d.ID), true
	case "name":
		return filter.StringValue(d.Name), d.Name != ""
	case "role":
		return filter.StringValue(d.Role), true
	case "teams":
		return filter.ListValue(d.Teams), len(d.Teams) > 0
	case "banned":
		return filter.BoolValue(d.Banned), true
	case "shadow_banned":
		return filter.BoolValue(d.ShadowBanned), true
	case "created_at":
		return filter.TimeValue(d.CreatedAt), true
	case "updated_at":
		return filter.TimeValue(d.UpdatedAt), true
	case "last_active":
		return filter.TimeValue(d.LastActive), d.LastActive != 0
	case "image":
		return filter.StringValue(d.Image), d.Image != ""
	case "language":
		return filter.StringValue(d.Language), d.Language != ""
	case "invisible":
		return filter.BoolValue(d.Invisible), true
	case "deactivated_at":
		return filter.TimeValue(d.DeactivatedAt), d.DeactivatedAt != 0
	}
	return filter.CustomValue(d.Custom, name)
}

// DefaultUserRole is the role of a user stored without one.
const DefaultUserRole = "user"

// MaxUserTeams is the most teams one user may belong to.
const MaxUserTeams = 250

// MaxUserCustomSize is the largest custom data of one user, in bytes of compact JSON (Stream's
// limit is 5 KB per user).
const MaxUserCustomSize = 5 << 10

// MaxUsersPerUpsert is the most users one POST /users or PATCH /users request may hold.
const MaxUsersPerUpsert = 100

// UpsertUsers stores users with replace semantics (POST /users), atomically with one fsync:
// either every user is stored or, on error, none is.
//
// Each element is completed in place: an empty Role becomes DefaultUserRole; CreatedAt is kept
// from the stored user when there is one (else the given CreatedAt when set, else now); UpdatedAt
// is now; DeletedAt is cleared (upserting a soft-deleted user brings it back as a new user).
// Custom must be empty or a JSON object of at most MaxUserCustomSize bytes whose keys are not known
// user fields (the request decoders guarantee this). A later duplicate id in users wins.
func (e *Engine) UpsertUsers(users []storage.User) error {
	for i := range users {
		if err := ValidateUser(&users[i]); err != nil {
			return err
		}
	}
	ids := make([]string, len(users))
	for i := range users {
		ids[i] = users[i].ID
	}
	_, err := e.putUsers(users, ids, nil)
	return err
}

// ValidateUser checks what UpsertUsers requires of u: a valid id, custom data that is empty or a
// JSON object within MaxUserCustomSize, non-empty team names and the size limits of its fields.
func ValidateUser(u *storage.User) error {
	if err := CheckID("id", u.ID); err != nil {
		return err
	}
	if len(u.Custom) > MaxUserCustomSize {
		return InputError("custom", "user %q has %d bytes of custom data; the limit is %d", u.ID, len(u.Custom), MaxUserCustomSize)
	}
	if len(u.Custom) > 0 && (u.Custom[0] != '{' || !json.Valid(u.Custom)) {
		return InputError("custom", "the custom data of user %q must be a JSON object", u.ID)
	}
	for _, t := range u.Teams {
		if t == "" {
			return InputError("teams", "user %q has an empty team name", u.ID)
		}
	}
	return checkUserLimits(u)
}

// putUsers interns ids (ids[i] is users[i].ID, owned by the caller: the interner keeps new ones),
// reads the stored records of already known ordinals to keep created_at, and writes every user in
// one Tx. ords is scratch space; it returns the ordinals.
func (e *Engine) putUsers(users []storage.User, ids []string, ords []uint32) ([]uint32, error) {
	if len(users) == 0 {
		return ords[:0], nil
	}
	known := e.db.Users.Max()
	ords, err := e.db.Users.Intern(ords[:0], ids)
	if err != nil {
		return ords, fmt.Errorf("cannot intern %d user ids: %w", len(ids), err)
	}
	mask := ordsMask(ords)
	e.users.locks.lock(mask)
	defer e.users.locks.unlock(mask)

	// created_at of the users that may exist: one forward scan over their ordinals.
	var old []uint32
	for _, o := range ords {
		if o <= known {
			old = append(old, o)
		}
	}
	var created map[uint32]int64
	if len(old) > 0 {
		slices.Sort(old)
		created = make(map[uint32]int64, len(old))
		err := e.userRecords(old, false, func(ord uint32, u *storage.User) {
			created[ord] = u.CreatedAt
		})
		if err != nil {
			return ords, err
		}
	}

	now := e.nowMicros()
	tx := e.NewTxSize(usersSizeHint(users))
	for i := range users {
		u := &users[i]
		if u.Role == "" {
			u.Role = DefaultUserRole
		}
		if c, ok := created[ords[i]]; ok {
			u.CreatedAt = c
		} else if u.CreatedAt == 0 {
			u.CreatedAt = now
		} else {
			u.CreatedAt = truncMicros(u.CreatedAt)
		}
		u.UpdatedAt = now
		u.DeletedAt = 0
		u.LastActive = truncMicros(u.LastActive)
		u.DeactivatedAt = truncMicros(u.DeactivatedAt)
		tx.B.PutUser(ords[i], u)
	}
	if err := e.Commit(tx); err != nil {
		return ords, fmt.Errorf("cannot store %d users: %w", len(users), err)
	}
	usersUpserted.Add(len(users))
	return ords, nil
}

// PatchUsers applies partial updates (PATCH /users) atomically with one fsync and returns the
// updated users in the order of patches. An unknown (or soft-deleted) user fails the whole request
// with a code-16 error and nothing is written. Unsetting role restores DefaultUserRole.
func (e *Engine) PatchUsers(patches []UserPatch) ([]storage.User, error) {
	if len(patches) == 0 {
		return nil, nil
	}
	ords := make([]uint32, len(patches))
	for i := range patches {
		ord, ok := e.db.Users.Lookup(patches[i].ID)
		if !ok {
			return nil, NotFoundError("user %q does not exist; create it with POST /users first", patches[i].ID)
		}
		ords[i] = ord
	}
	mask := ordsMask(ords)
	e.users.locks.lock(mask)
	defer e.users.locks.unlock(mask)

	out := make([]storage.User, len(patches))
	for i := range patches {
		u, found, err := e.GetUserByOrdinal(ords[i])
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, NotFoundError("user %q does not exist; create it with POST /users first", patches[i].ID)
		}
		if err := patches[i].Apply(u); err != nil {
			return nil, err
		}
		out[i] = *u
	}
	now := e.nowMicros()
	tx := e.NewTx()
	for i := range out {
		u := &out[i]
		u.UpdatedAt = now
		tx.B.PutUser(ords[i], u)
	}
	if err := e.Commit(tx); err != nil {
		return nil, fmt.Errorf("cannot update %d users: %w", len(out), err)
	}
	usersUpdated.Add(len(out))
	return out, nil
}

// UserFields is a set of a user's known fields (those a partial update sets or unsets).
type UserFields uint32

// The known user fields.
const (
	UserName UserFields = 1 << iota
	UserImage
	UserRole
	UserLanguage
	UserTeams
	UserBanned
	UserShadowBanned
	UserInvisible
	UserCreatedAt
	UserLastActive
)

// Clear resets the fields of f in u to their zero values.
func (f UserFields) Clear(u *storage.User) {
	if f&UserName != 0 {
		u.Name = ""
	}
	if f&UserImage != 0 {
		u.Image = ""
	}
	if f&UserRole != 0 {
		u.Role = ""
	}
	if f&UserLanguage != 0 {
		u.Language = ""
	}
	if f&UserTeams != 0 {
		u.Teams = nil
	}
	if f&UserBanned != 0 {
		u.Banned = false
	}
	if f&UserShadowBanned != 0 {
		u.ShadowBanned = false
	}
	if f&UserInvisible != 0 {
		u.Invisible = false
	}
	if f&UserCreatedAt != 0 {
		u.CreatedAt = 0
	}
	if f&UserLastActive != 0 {
		u.LastActive = 0
	}
}

// UserPatch is one partial update of PATCH /users (decoded by wire).
type UserPatch struct {
	ID string
	// Set holds the values of the known fields in SetMask.
	Set     storage.User
	SetMask UserFields
	// SetCustom holds the custom fields to set.
	SetCustom []CustomField
	// UnsetMask are the known fields to reset; UnsetCustom the custom keys to remove.
	UnsetMask   UserFields
	UnsetCustom []string
}

// CustomField is one custom field to set: its key and the compact JSON object member
// `"key":value` that holds it.
type CustomField struct {
	Key    string
	Member []byte
}

// Apply applies p to u (its ID aside); u.Custom is rebuilt in fresh memory when p changes custom
// fields. Unsetting role restores DefaultUserRole. A result over MaxUserCustomSize bytes of
// custom data is a code-4 error.
func (p *UserPatch) Apply(u *storage.User) error {
	p.UnsetMask.Clear(u)
	s := &p.Set
	for m := p.SetMask; m != 0; m &= m - 1 {
		switch bit := UserFields(1) << bits.TrailingZeros32(uint32(m)); bit {
		case UserName:
			u.Name = strings.Clone(s.Name)
		case UserImage:
			u.Image = strings.Clone(s.Image)
		case UserRole:
			u.Role = strings.Clone(s.Role)
		case UserLanguage:
			u.Language = strings.Clone(s.Language)
		case UserTeams:
			u.Teams = nil
			for _, t := range s.Teams {
				u.Teams = append(u.Teams, strings.Clone(t))
			}
		case UserBanned:
			u.Banned = s.Banned
		case UserShadowBanned:
			u.ShadowBanned = s.ShadowBanned
		case UserInvisible:
			u.Invisible = s.Invisible
		case UserLastActive:
			u.LastActive = truncMicros(s.LastActive)
		}
	}
	if u.Role == "" {
		u.Role = DefaultUserRole
	}
	if len(p.SetCustom) == 0 && len(p.UnsetCustom) == 0 {
		return nil
	}
	custom := []byte{'{'}
	add := func(member []byte) {
		if len(custom) > 1 {
			custom = append(custom, ',')
		}
		custom = append(custom, member...)
	}
	filter.EachMember(u.Custom, func(key string, member []byte) {
		if slices.Contains(p.UnsetCustom, key) || slices.ContainsFunc(p.SetCustom, func(c CustomField) bool { return c.Key == key }) {
			return
		}
		add(member)
	})
	for i := range p.SetCustom {
		add(p.SetCustom[i].Member)
	}
	custom = append(custom, '}')
	if len(custom) > MaxUserCustomSize {
		return InputError("set", "user %q would have %d bytes of custom data; the limit is %d", u.ID, len(custom), MaxUserCustomSize)
	}
	if len(custom) == 2 {
		custom = nil
	}
	u.Custom = custom
	return nil
}

// DeleteUser deletes the user called id and returns it as it was (with DeletedAt set). A soft
// delete keeps the record, marked deleted, hidden from reads and queries; hard deletes the record.
// The ordinal is never reused. An unknown user is a code-16 error; a soft-deleted one can still be
// hard-deleted.
func (e *Engine) DeleteUser(id string, hard bool) (*storage.User, error) {
	ord, ok := e.db.Users.Lookup(id)
	if !ok {
		return nil, NotFoundError("user %q does not exist", id)
	}
	mask := ordsMask([]uint32{ord})
	e.users.locks.lock(mask)
	defer e.users.locks.unlock(mask)
	u, found, err := e.getUserRecord(ord)
	if err != nil {
		return nil, err
	}
	if !found || (UserDeleted(u) && !hard) {
		return nil, NotFoundError("user %q does not exist", id)
	}
	if u.DeletedAt == 0 {
		u.DeletedAt = e.nowMicros()
	}
	tx := e.NewTx()
	if hard {
		tx.B.DeleteUser(ord)
	} else {
		tx.B.PutUser(ord, u)
	}
	if err := e.Commit(tx); err != nil {
		return nil, fmt.Errorf("cannot delete user %q: %w", id, err)
	}
	usersDeleted.Inc()
	return u, nil
}

var (
	usersUpserted = metrics.NewCounter(`campaignd_users_upserted_total`)
	usersUpdated  = metrics.NewCounter(`campaignd_users_updated_total`)
	usersDeleted  = metrics.NewCounter(`campaignd_users_deleted_total`)
)

// usersSizeHint estimates the batch bytes needed to store users.
func usersSizeHint(users []storage.User) int {
	n := 0
	for i := range users {
		u := &users[i]
		n += 80 + len(u.ID) + len(u.Role) + len(u.Name) + len(u.Image) + len(u.Language) + len(u.Custom)
		for _, t := range u.Teams {
			n += 2 + len(t)
		}
	}
	return n
}

// userID returns the interned id of ord (a string that may be kept), or a copy of recID when the
// interner does not know ord (never the case for a record written through the engine).
func (e *Engine) userID(ord uint32, recID string) string {
	if id := e.db.Users.ID(ord); id != "" {
		return id
	}
	return strings.Clone(recID)
}
