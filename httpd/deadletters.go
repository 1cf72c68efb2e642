package httpd

import (
	"strconv"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/wire"
)

// Dead-letter extension endpoints (not part of Stream's API):
//
//	GET  /campaignd/deadletters?sink=webhook&limit=100&after=<seq>     (sink: webhook, kafka or push)
//	POST /campaignd/deadletters/replay   {"sink":"webhook","ids":["<event id>", ...]}   (no ids: all;
//	                                     webhook only: Kafka dead letters are records too large to write)

// listDeadLetters answers {"sink", "dead_letters":[{seq,id,type,key,attempts,last_error,dead_at,
// event}], "next"}; "next" (the last seq) is present when the page is full: pass it as after.
func (s *Server) listDeadLetters(c *call) error {
	sink := string(c.Query("sink"))
	if sink == "" {
		sink = "webhook"
	}
	limit := 100
	if v := c.Query("limit"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return engine.InputError("limit", "limit must be a number between 1 and 1000; got %q", v)
		}
		limit = n
	}
	var after uint64
	if v := c.Query("after"); len(v) > 0 {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return engine.InputError("after", "after must be the seq of the last dead letter of the previous page; got %q", v)
		}
		after = n
	}
	dls, err := s.e.DeadLetters(sink, after, limit)
	if err != nil {
		return err
	}
	return c.reply(200, wire.AppendDeadLetters(nil, sink, dls, limit))
}

// replayDeadLetters delivers dead letters again and answers {"replayed","delivered","failed"}.
// It returns once every selected dead letter was tried (with the sink's retry policy).
func (s *Server) replayDeadLetters(c *call) error {
	sink, ids, err := wire.DecodeReplay(c.Body())
	if err != nil {
		return err
	}
	if sink == "" {
		sink = string(c.Query("sink"))
	}
	if sink == "" {
		sink = "webhook"
	}
	res, err := s.e.ReplayDeadLetters(c.ctx, sink, ids)
	if err != nil {
		return err
	}
	return c.reply(200, wire.AppendReplayResult(nil, &res))
}
