package engine

import "github.com/campaignd/campaignd/storage"

// The user side of channels and messages: resolving user ids and embedding UserResponses.

// userJSON appends the UserResponse of ord to dst. A user that is gone (deleted since it was
// referenced) is shown as {"id": ...} so that old messages and members still render.
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

// UserJSONCache holds encoded UserResponses by user ordinal so that a caller writing or reading
// many channels and messages encodes each user once: the fan-out seeds it with the sender and a
// chunk's receivers (Put) and passes it in ChannelSpec.Users and MessageOptions.Users. Users not
// in it are read and added on first use. It is not safe for concurrent use; a nil cache reads
// every time.
type UserJSONCache struct {
	e *Engine
	m map[uint32][]byte
}

// NewUserJSONCache returns an empty cache.
func (e *Engine) NewUserJSONCache() *UserJSONCache { return &UserJSONCache{e: e} }

// Put stores the UserResponse of ord (e.g. Encoder.AppendUser of a record the caller loaded).
// The cache keeps j: the caller must not modify it afterwards.
func (c *UserJSONCache) Put(ord uint32, j []byte) {
	if c.m == nil {
		c.m = make(map[uint32][]byte)
	}
	c.m[ord] = j
}

// Reset empties the cache, keeping its memory (e.g. between fan-out chunks).
func (c *UserJSONCache) Reset() { clear(c.m) }

// userJSONVia returns the UserResponse of ord from c (nil c: read it).
func (e *Engine) userJSONVia(c *UserJSONCache, ord uint32) ([]byte, error) {
	if c == nil {
		return e.userJSON(nil, ord)
	}
	return c.get(ord)
}

func (c *UserJSONCache) get(ord uint32) ([]byte, error) {
	if j, ok := c.m[ord]; ok {
		return j, nil
	}
	j, err := c.e.userJSON(nil, ord)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = make(map[uint32][]byte)
	}
	c.m[ord] = j
	return j, nil
}

// load encodes every ord not cached yet with one ordered read.
func (c *UserJSONCache) load(ords []uint32) error {
	var need []uint32
	for _, o := range ords {
		if _, ok := c.m[o]; !ok && o != 0 {
			need = append(need, o)
		}
	}
	if len(need) == 0 {
		return nil
	}
	if c.m == nil {
		c.m = make(map[uint32][]byte, len(need))
	}
	err := c.e.UsersByOrdinals(need, func(ord uint32, u *storage.User) {
		c.m[ord] = c.e.enc.AppendUser(nil, u)
	})
	if err != nil {
		return err
	}
	for _, o := range need {
		if _, ok := c.m[o]; !ok {
			c.m[o] = c.e.enc.AppendGoneUser(nil, c.e.db.Users.ID(o))
		}
	}
	return nil
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
