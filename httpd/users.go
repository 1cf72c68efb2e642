package httpd

func (s *Server) upsertUsers(c *call) error { return errNotImplemented }

func (s *Server) partialUpdateUsers(c *call) error { return errNotImplemented }

func (s *Server) queryUsers(c *call) error { return errNotImplemented }

func (s *Server) importUsers(c *call) error { return errNotImplemented }

func (s *Server) deleteUser(c *call) error { return errNotImplemented }
