package httpd

import (
	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/wire"
)

// Segment endpoints. Replies are built from the engine's append-style encoders.

func segmentReply(c *call, status int, seg *engine.Segment) error {
	buf := append(make([]byte, 0, 512), `{"segment":`...)
	buf = engine.AppendSegmentJSON(buf, seg)
	return c.reply(status, append(buf, '}'))
}

func (s *Server) createSegment(c *call) error {
	var p engine.SegmentParams
	if err := wire.DecodeBody(c.Body(), &p); err != nil {
		return err
	}
	seg, err := s.e.CreateSegment(&p)
	if err != nil {
		return err
	}
	return segmentReply(c, 201, seg)
}

func (s *Server) querySegments(c *call) error {
	var q engine.QueryParams
	if len(c.Body()) > 0 {
		if err := wire.DecodeBody(c.Body(), &q); err != nil {
			return err
		}
	}
	page, err := s.e.QuerySegments(&q)
	if err != nil {
		return err
	}
	buf := append(make([]byte, 0, 256+512*len(page.Segments)), `{"segments":[`...)
	for i, seg := range page.Segments {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = engine.AppendSegmentJSON(buf, seg)
	}
	buf = append(buf, ']')
	buf = appendCursors(buf, page.Next, page.Prev)
	return c.reply(201, append(buf, '}'))
}

func appendCursors(buf []byte, next, prev string) []byte {
	if next != "" {
		buf = append(buf, `,"next":`...)
		buf = wire.AppendString(buf, next)
	}
	if prev != "" {
		buf = append(buf, `,"prev":`...)
		buf = wire.AppendString(buf, prev)
	}
	return buf
}

func (s *Server) getSegment(c *call) error {
	seg, err := s.e.GetSegment(c.Param(0))
	if err != nil {
		return err
	}
	return segmentReply(c, 200, seg)
}

func (s *Server) updateSegment(c *call) error {
	var p engine.SegmentParams
	if err := wire.DecodeBody(c.Body(), &p); err != nil {
		return err
	}
	seg, err := s.e.UpdateSegment(c.Param(0), &p)
	if err != nil {
		return err
	}
	return segmentReply(c, 201, seg)
}

func (s *Server) deleteSegment(c *call) error {
	if err := s.e.DeleteSegment(c.Param(0)); err != nil {
		return err
	}
	return c.reply(200, []byte("{}"))
}

// targetsBody is the body of addtargets and deletetargets.
type targetsBody struct {
	TargetIDs []string `json:"target_ids"`
}

func (s *Server) addSegmentTargets(c *call) error {
	var b targetsBody
	if err := wire.DecodeBody(c.Body(), &b); err != nil {
		return err
	}
	if err := s.e.AddSegmentTargets(c.Param(0), b.TargetIDs); err != nil {
		return err
	}
	return c.reply(201, []byte("{}"))
}

func (s *Server) deleteSegmentTargets(c *call) error {
	var b targetsBody
	if err := wire.DecodeBody(c.Body(), &b); err != nil {
		return err
	}
	if err := s.e.DeleteSegmentTargets(c.Param(0), b.TargetIDs); err != nil {
		return err
	}
	return c.reply(201, []byte("{}"))
}

func (s *Server) segmentTargetExists(c *call) error {
	if err := s.e.SegmentTargetExists(c.Param(0), c.Param(1)); err != nil {
		return err
	}
	return c.reply(200, []byte("{}"))
}

func (s *Server) querySegmentTargets(c *call) error {
	var q engine.QueryParams
	if len(c.Body()) > 0 {
		if err := wire.DecodeBody(c.Body(), &q); err != nil {
			return err
		}
	}
	id := c.Param(0)
	page, err := s.e.QuerySegmentTargets(id, &q)
	if err != nil {
		return err
	}
	buf := append(make([]byte, 0, 256+96*len(page.Targets)), `{"targets":[`...)
	for i := range page.Targets {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = engine.AppendSegmentTargetJSON(buf, id, &page.Targets[i])
	}
	buf = append(buf, ']')
	buf = appendCursors(buf, page.Next, page.Prev)
	return c.reply(201, append(buf, '}'))
}
