package httpd

func (s *Server) createCampaign(c *call) error { return errNotImplemented }

func (s *Server) queryCampaigns(c *call) error { return errNotImplemented }

func (s *Server) getCampaign(c *call) error { return errNotImplemented }

func (s *Server) updateCampaign(c *call) error { return errNotImplemented }

func (s *Server) deleteCampaign(c *call) error { return errNotImplemented }

func (s *Server) startCampaign(c *call) error { return errNotImplemented }

func (s *Server) stopCampaign(c *call) error { return errNotImplemented }
