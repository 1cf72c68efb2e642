package httpd

import (
	"bytes"
	"strconv"
	"sync"

	"github.com/google/uuid"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/wire"
)

// Users (POST, PATCH, GET /users, DELETE /users/{id}) and the NDJSON bulk import, decoded and
// encoded by package wire (wire.UserDecoder also decodes the import's lines).

var userDecoderPool = sync.Pool{New: func() any { return new(wire.UserDecoder) }}

func getUserDecoder() *wire.UserDecoder { return userDecoderPool.Get().(*wire.UserDecoder) }

func putUserDecoder(d *wire.UserDecoder) {
	d.Reset()
	userDecoderPool.Put(d)
}

// upsertUsers is POST /users: {"users": {"<id>": {...}}} → 201 {"users": {"<id>": FullUserResponse}}.
func (s *Server) upsertUsers(c *call) error {
	d := getUserDecoder()
	defer putUserDecoder(d)
	users, err := d.DecodeUpsertUsers(c.Body(), nil)
	if err != nil {
		return err
	}
	if err := s.e.UpsertUsers(users); err != nil {
		return err
	}
	return c.reply(201, s.enc.AppendUsersByID(nil, users))
}

// partialUpdateUsers is PATCH /users: {"users": [{"id", "set", "unset"}]} → 200 {"users": {...}}.
// An unknown user fails the request with 404 code 16 and nothing is written.
func (s *Server) partialUpdateUsers(c *call) error {
	d := getUserDecoder()
	defer putUserDecoder(d)
	patches, err := d.DecodePartialUpdate(c.Body())
	if err != nil {
		return err
	}
	users, err := s.e.PatchUsers(patches)
	if err != nil {
		return err
	}
	return c.reply(200, s.enc.AppendUsersByID(nil, users))
}

// queryUsers is GET /users?payload=<JSON> → 200 {"users": [FullUserResponse, ...]} (always an array).
func (s *Server) queryUsers(c *call) error {
	q, err := s.enc.DecodeUserQuery(c.Query("payload"))
	if err != nil {
		return err
	}
	users, err := s.e.QueryUsers(q)
	if err != nil {
		return err
	}
	return c.reply(200, s.enc.AppendUsersList(nil, users))
}

// deleteUser is DELETE /users/{id}?hard_delete=&mark_messages_deleted= → 200 {"user", "task_id"}.
// mark_messages_deleted and delete_conversation_channels are accepted and not acted on.
func (s *Server) deleteUser(c *call) error {
	id := c.Param(0)
	if err := engine.CheckID("id", id); err != nil {
		return err
	}
	hard, err := boolQuery(c, "hard_delete")
	if err != nil {
		return err
	}
	for _, name := range []string{"mark_messages_deleted", "delete_conversation_channels"} {
		if _, err := boolQuery(c, name); err != nil {
			return err
		}
	}
	u, err := s.e.DeleteUser(id, hard)
	if err != nil {
		return err
	}
	return c.reply(200, s.enc.AppendDeletedUser(nil, u, uuid.NewString()))
}

// boolQuery parses an optional boolean query parameter.
func boolQuery(c *call, name string) (bool, error) {
	v := c.Query(name)
	if len(v) == 0 {
		return false, nil
	}
	b, err := strconv.ParseBool(string(v))
	if err != nil {
		return false, engine.InputError(name, "query parameter %q must be true or false, not %q", name, v)
	}
	return b, nil
}

// importUsers is POST /users/import (our extension): an NDJSON body, one user object per line,
// streamed → 201 {"imported", "failed", "errors": [{"line", "reason"}], "errors_truncated"}.
func (s *Server) importUsers(c *call) error {
	r := c.BodyStream()
	if r == nil { // no streamed body (e.g. empty): read what fasthttp holds
		r = bytes.NewReader(c.ctx.Request.Body())
	}
	res, err := s.e.ImportUsers(r, engine.ImportOptions{NewDecoder: wire.NewUserDecoder})
	if ae, ok := engine.AsError(err); ok && ae.Status == 507 {
		c.refuseBody(ae, ae.Status) // low disk space stopped it: the rest of the body is unread
		return nil
	}
	if err != nil {
		return err
	}
	return c.reply(201, s.enc.AppendImportResult(nil, &res))
}
