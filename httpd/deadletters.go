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
	b := append([]byte(nil), `{"sink":`...)
	b = wire.AppendString(b, sink)
	b = append(b, `,"dead_letters":[`...)
	for i := range dls {
		d := &dls[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"seq":`...)
		b = strconv.AppendUint(b, d.Seq, 10)
		b = append(b, `,"id":`...)
		b = wire.AppendString(b, d.Event.ID)
		b = append(b, `,"type":`...)
		b = wire.AppendString(b, d.Event.Type)
		b = append(b, `,"key":`...)
		b = wire.AppendString(b, d.Event.Key)
		b = append(b, `,"attempts":`...)
		b = strconv.AppendInt(b, int64(d.Attempts), 10)
		b = append(b, `,"last_error":`...)
		b = wire.AppendString(b, d.LastError)
		b = append(b, `,"dead_at":`...)
		b = wire.AppendTime(b, d.DeadAt)
		b = append(b, `,"event":`...)
		b = append(b, d.Event.JSON...)
		b = append(b, '}')
	}
	b = append(b, ']')
	if len(dls) == limit && limit > 0 {
		b = append(b, `,"next":`...)
		b = strconv.AppendUint(b, dls[len(dls)-1].Seq, 10)
	}
	b = append(b, '}')
	return c.reply(200, b)
}

// replayDeadLetters delivers dead letters again and answers {"replayed","delivered","failed"}.
// It returns once every selected dead letter was tried (with the sink's retry policy).
func (s *Server) replayDeadLetters(c *call) error {
	var req struct {
		Sink string   `json:"sink"`
		IDs  []string `json:"ids"`
	}
	if len(c.Body()) > 0 {
		if err := wire.DecodeBody(c.Body(), &req); err != nil {
			return err
		}
	}
	if req.Sink == "" {
		req.Sink = string(c.Query("sink"))
	}
	if req.Sink == "" {
		req.Sink = "webhook"
	}
	res, err := s.e.ReplayDeadLetters(c.ctx, req.Sink, req.IDs)
	if err != nil {
		return err
	}
	b := append([]byte(nil), `{"replayed":`...)
	b = strconv.AppendInt(b, int64(res.Replayed), 10)
	b = append(b, `,"delivered":`...)
	b = strconv.AppendInt(b, int64(res.Delivered), 10)
	b = append(b, `,"failed":`...)
	b = strconv.AppendInt(b, int64(res.Failed), 10)
	b = append(b, '}')
	return c.reply(200, b)
}
