package httpd

// Segment endpoints: bodies decoded and replies encoded by wire.

func (s *Server) createSegment(c *call) error {
	p, err := s.enc.DecodeSegment(c.Body())
	if err != nil {
		return err
	}
	seg, err := s.e.CreateSegment(p)
	if err != nil {
		return err
	}
	return c.reply(201, s.enc.AppendSegmentReply(nil, seg))
}

func (s *Server) querySegments(c *call) error {
	q, err := s.enc.DecodeQuery(c.Body())
	if err != nil {
		return err
	}
	page, err := s.e.QuerySegments(q)
	if err != nil {
		return err
	}
	return c.reply(201, s.enc.AppendSegmentsPage(make([]byte, 0, 256+512*len(page.Segments)), page))
}

func (s *Server) getSegment(c *call) error {
	seg, err := s.e.GetSegment(c.Param(0))
	if err != nil {
		return err
	}
	return c.reply(200, s.enc.AppendSegmentReply(nil, seg))
}

func (s *Server) updateSegment(c *call) error {
	p, err := s.enc.DecodeSegment(c.Body())
	if err != nil {
		return err
	}
	seg, err := s.e.UpdateSegment(c.Param(0), p)
	if err != nil {
		return err
	}
	return c.reply(201, s.enc.AppendSegmentReply(nil, seg))
}

func (s *Server) deleteSegment(c *call) error {
	if err := s.e.DeleteSegment(c.Param(0)); err != nil {
		return err
	}
	return c.reply(200, []byte("{}"))
}

func (s *Server) addSegmentTargets(c *call) error {
	ids, err := s.enc.DecodeTargetIDs(c.Body())
	if err != nil {
		return err
	}
	if err := s.e.AddSegmentTargets(c.Param(0), ids); err != nil {
		return err
	}
	return c.reply(201, []byte("{}"))
}

func (s *Server) deleteSegmentTargets(c *call) error {
	ids, err := s.enc.DecodeTargetIDs(c.Body())
	if err != nil {
		return err
	}
	if err := s.e.DeleteSegmentTargets(c.Param(0), ids); err != nil {
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
	q, err := s.enc.DecodeQuery(c.Body())
	if err != nil {
		return err
	}
	id := c.Param(0)
	page, err := s.e.QuerySegmentTargets(id, q)
	if err != nil {
		return err
	}
	return c.reply(201, s.enc.AppendTargetsPage(make([]byte, 0, 256+96*len(page.Targets)), id, page))
}
