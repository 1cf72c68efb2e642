package httpd

func (s *Server) queryChannels(c *call) error { return errNotImplemented }

func (s *Server) queryDistinctChannel(c *call) error { return errNotImplemented }

func (s *Server) queryChannel(c *call) error { return errNotImplemented }

func (s *Server) sendMessage(c *call) error { return errNotImplemented }
