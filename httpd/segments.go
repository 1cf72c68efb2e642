package httpd

func (s *Server) createSegment(c *call) error { return errNotImplemented }

func (s *Server) querySegments(c *call) error { return errNotImplemented }

func (s *Server) getSegment(c *call) error { return errNotImplemented }

func (s *Server) updateSegment(c *call) error { return errNotImplemented }

func (s *Server) deleteSegment(c *call) error { return errNotImplemented }

func (s *Server) addSegmentTargets(c *call) error { return errNotImplemented }

func (s *Server) deleteSegmentTargets(c *call) error { return errNotImplemented }

func (s *Server) segmentTargetExists(c *call) error { return errNotImplemented }

func (s *Server) querySegmentTargets(c *call) error { return errNotImplemented }
