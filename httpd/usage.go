package httpd

// getCampaignUsage serves GET /campaignd/usage (extension): the month's campaign messages,
// {month, sent, capacity, remaining, resets_at}; capacity and remaining are null without a
// monthly capacity.
func (s *Server) getCampaignUsage(c *call) error {
	u, err := s.e.CampaignUsage()
	if err != nil {
		return err
	}
	return c.reply(200, s.enc.AppendCampaignUsage(nil, &u))
}
