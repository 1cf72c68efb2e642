package httpd

import (
	"bytes"
	"strconv"
	"sync"

	"github.com/google/uuid"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
)

// Users (POST, PATCH, GET /users, DELETE /users/{id}) and the NDJSON bulk import. Request decoding lives in the engine
// (engine.UserDecoder, engine.ParseUserQuery) so the import's hot path and these handlers share it.

var userDecoderPool = sync.Pool{New: func() any { return new(engine.UserDecoder) }}

func getUserDecoder() *engine.UserDecoder { return userDecoderPool.Get().(*engine.UserDecoder) }

func putUserDecoder(d *engine.UserDecoder) {
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
	return c.reply(201, appendUsersMap(nil, users))
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
	return c.reply(200, appendUsersMap(nil, users))
}

func appendUsersMap(dst []byte, users []storage.User) []byte {
	dst = append(dst, `{"users":{`...)
	for i := range users {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = engine.AppendJSONString(dst, users[i].ID)
		dst = append(dst, ':')
		dst = engine.AppendFullUserJSON(dst, &users[i])
	}
	return append(dst, `}}`...)
}

// queryUsers is GET /users?payload=<JSON> → 200 {"users": [FullUserResponse, ...]} (always an array).
func (s *Server) queryUsers(c *call) error {
	q, err := engine.ParseUserQuery(c.Query("payload"))
	if err != nil {
		return err
	}
	users, err := s.e.QueryUsers(q)
	if err != nil {
		return err
	}
	b := append([]byte(nil), `{"users":[`...)
	for i := range users {
		if i > 0 {
			b = append(b, ',')
		}
		b = engine.AppendFullUserJSON(b, &users[i])
	}
	return c.reply(200, append(b, `]}`...))
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
	b := append([]byte(nil), `{"user":`...)
	b = engine.AppendUserJSON(b, u)
	b = append(b, `,"task_id":"`...)
	b = append(b, uuid.NewString()...)
	return c.reply(200, append(b, `"}`...))
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
	res, err := s.e.ImportUsers(r, engine.ImportOptions{})
	if ae, ok := engine.AsError(err); ok && ae.Status == 507 {
		c.refuseBody(ae, ae.Status) // low disk space stopped it: the rest of the body is unread
		return nil
	}
	if err != nil {
		return err
	}
	b := append([]byte(nil), `{"imported":`...)
	b = strconv.AppendInt(b, int64(res.Imported), 10)
	b = append(b, `,"failed":`...)
	b = strconv.AppendInt(b, int64(res.Failed), 10)
	b = append(b, `,"errors":[`...)
	for i, le := range res.Errors {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"line":`...)
		b = strconv.AppendInt(b, int64(le.Line), 10)
		b = append(b, `,"reason":`...)
		b = engine.AppendJSONString(b, le.Reason)
		b = append(b, '}')
	}
	b = append(b, `],"errors_truncated":`...)
	b = strconv.AppendBool(b, res.ErrorsTruncated)
	return c.reply(201, append(b, '}'))
}
