package engine

import "github.com/campaignd/campaignd/storage"

// The user side of channels and messages: resolving user ids, loading the users replies show and
// encoding those event bodies embed.

// UserRef is a user a channel, message or member refers to: its record, or only its id when the
// user is gone (deleted since it was referred to), so that old messages and members still show
// who they were.
type UserRef struct {
	ID string
	// User is the record; nil when the user is gone.
	User *storage.User
}

// userJSON appends the UserResponse of ord to dst (Encoder.AppendGoneUser for a user that is
// gone).
func (e *Engine) userJSON(dst []byte, ord uint32) ([]byte, error) {
	u, ok, err := e.GetUserByOrdinal(ord)
	if err != nil {
		return dst, err
	}
	if !ok {
		return e.enc.AppendGoneUser(dst, e.db.Users.ID(ord)), nil
	}
	return e.enc.AppendUser(dst, u), nil
}

// userRefs loads the users of one reply, each once, with ordered reads. It is not safe for
// concurrent use.
type userRefs struct {
	e   *Engine
	m   map[uint32]*UserRef
	buf []byte
}

func (e *Engine) newUserRefs() *userRefs {
	return &userRefs{e: e, m: make(map[uint32]*UserRef)}
}

// load reads every ord not loaded yet (0 is no user) with one ordered read; ords must be
// ascending for that read to be a forward scan.
func (r *userRefs) load(ords []uint32) error {
	var need []uint32
	for _, o := range ords {
		if _, ok := r.m[o]; !ok && o != 0 {
			need = append(need, o)
			r.m[o] = &UserRef{ID: r.e.db.Users.ID(o)} // gone unless read below
		}
	}
	if len(need) == 0 {
		return nil
	}
	return r.e.UsersByOrdinals(need, func(ord uint32, u *storage.User) {
		c := cloneUser(u, &r.buf)
		r.m[ord].User = &c
	})
}

// get returns the user ord (loaded before, else read now).
func (r *userRefs) get(ord uint32) (UserRef, error) {
	if err := r.load([]uint32{ord}); err != nil {
		return UserRef{}, err
	}
	return *r.m[ord], nil
}

// resolveUsers returns the ordinals of ids, and the ids that name no existing user.
func (e *Engine) resolveUsers(ids []string) (ords []uint32, missing []string, err error) {
	ords = make([]uint32, len(ids))
	for i, id := range ids {
		ord, ok := e.db.Users.Lookup(id)
		if ok {
			_, ok, err := e.GetUserByOrdinal(ord)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				ords[i] = ord
				continue
			}
		}
		missing = append(missing, id)
	}
	return ords, missing, nil
}
