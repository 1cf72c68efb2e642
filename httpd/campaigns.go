package httpd

import (
	"strconv"

	"github.com/campaignd/campaignd/engine"
)

// Campaign endpoints. Replies wrap the campaign as {campaign, users: {next?, prev?}}.

func (s *Server) createCampaign(c *call) error {
	in, err := s.enc.DecodeCampaign(c.Body())
	if err != nil {
		return err
	}
	camp, err := s.e.CreateCampaign(in)
	if err != nil {
		return err
	}
	return s.replyCampaign(c, 201, camp, 0, "", "", true)
}

func (s *Server) getCampaign(c *call) error {
	camp, err := s.e.GetCampaign(c.Param(0))
	if err != nil {
		return err
	}
	limit := engine.DefaultCampaignUsersPerPage
	if v := c.Query("limit"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 0 {
			return engine.InputError("limit", "limit %q must be a number from 0 to %d", v, engine.MaxCampaignUsersPerPage)
		}
		limit = n
	}
	return s.replyCampaign(c, 200, camp, limit, string(c.Query("next")), string(c.Query("prev")), true)
}

func (s *Server) updateCampaign(c *call) error {
	in, err := s.enc.DecodeCampaign(c.Body())
	if err != nil {
		return err
	}
	camp, err := s.e.UpdateCampaign(c.Param(0), in)
	if err != nil {
		return err
	}
	return s.replyCampaign(c, 201, camp, 0, "", "", true)
}

func (s *Server) startCampaign(c *call) error {
	opts, err := s.enc.DecodeStart(c.Body())
	if err != nil {
		return err
	}
	camp, err := s.e.StartCampaign(c.Param(0), opts)
	if err != nil {
		return err
	}
	return s.replyCampaign(c, 201, camp, 0, "", "", true)
}

// stopCampaign accepts any body: the SDK sends none, with a form content type.
func (s *Server) stopCampaign(c *call) error {
	camp, err := s.e.StopCampaign(c.Param(0))
	if err != nil {
		return err
	}
	return s.replyCampaign(c, 201, camp, 0, "", "", false)
}

func (s *Server) deleteCampaign(c *call) error {
	if err := s.e.DeleteCampaign(c.Param(0)); err != nil {
		return err
	}
	return c.reply(200, []byte("{}"))
}

func (s *Server) queryCampaigns(c *call) error {
	q, userLimit, err := s.enc.DecodeCampaignQuery(c.Body())
	if err != nil {
		return err
	}
	page, err := s.e.QueryCampaigns(q)
	if err != nil {
		return err
	}
	users := make([]*engine.CampaignUsers, len(page.Campaigns))
	for i, camp := range page.Campaigns {
		if users[i], err = s.e.CampaignUsersPage(camp, userLimit, "", ""); err != nil {
			return err
		}
	}
	return c.reply(201, s.enc.AppendCampaignsPage(nil, page, users))
}

// replyCampaign answers {campaign, users: {next?, prev?}} with a users page of limit.
func (s *Server) replyCampaign(c *call, status int, camp *engine.Campaign, limit int, next, prev string, withUsers bool) error {
	users, err := s.e.CampaignUsersPage(camp, limit, next, prev)
	if err != nil {
		return err
	}
	return c.reply(status, s.enc.AppendCampaignReply(nil, camp, users, withUsers))
}
