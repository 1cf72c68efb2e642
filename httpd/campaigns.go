package httpd

import (
	"strconv"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/wire"
)

// Campaign endpoints. Replies wrap the campaign as {campaign, users: {next?, prev?}}.

func (s *Server) createCampaign(c *call) error {
	var in engine.CampaignInput
	if err := wire.DecodeBody(c.Body(), &in); err != nil {
		return err
	}
	camp, err := s.e.CreateCampaign(&in)
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
	var in engine.CampaignInput
	if err := wire.DecodeBody(c.Body(), &in); err != nil {
		return err
	}
	camp, err := s.e.UpdateCampaign(c.Param(0), &in)
	if err != nil {
		return err
	}
	return s.replyCampaign(c, 201, camp, 0, "", "", true)
}

func (s *Server) startCampaign(c *call) error {
	var opts engine.StartOptions
	if body := c.Body(); len(body) > 0 {
		if err := wire.DecodeBody(body, &opts); err != nil {
			return err
		}
	}
	camp, err := s.e.StartCampaign(c.Param(0), &opts)
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

// queryCampaignsRequest is the body of POST /campaigns/query: a query, and the size of each
// campaign's users page.
type queryCampaignsRequest struct {
	engine.QueryParams
	UserLimit *int `json:"user_limit"`
}

func (s *Server) queryCampaigns(c *call) error {
	var req queryCampaignsRequest
	if err := wire.DecodeBody(c.Body(), &req); err != nil {
		return err
	}
	userLimit := 0
	if req.UserLimit != nil {
		if *req.UserLimit < 0 || *req.UserLimit > engine.MaxCampaignUsersPerPage {
			return engine.InputError("user_limit", "user_limit is %d; use 0 to %d", *req.UserLimit, engine.MaxCampaignUsersPerPage)
		}
		userLimit = *req.UserLimit
	}
	page, err := s.e.QueryCampaigns(&req.QueryParams)
	if err != nil {
		return err
	}
	b := append([]byte(nil), `{"campaigns":[`...)
	for i, camp := range page.Campaigns {
		if i > 0 {
			b = append(b, ',')
		}
		users, _, _, err := s.e.CampaignUsersPage(camp, userLimit, "", "")
		if err != nil {
			return err
		}
		b = s.e.AppendCampaignJSON(b, camp, users)
	}
	b = append(b, ']')
	b = appendCursors(b, page.Next, page.Prev)
	b = append(b, '}')
	return c.reply(201, b)
}

// replyCampaign answers {campaign, users: {next?, prev?}} with a users page of limit.
func (s *Server) replyCampaign(c *call, status int, camp *engine.Campaign, limit int, next, prev string, withUsers bool) error {
	users, nextCur, prevCur, err := s.e.CampaignUsersPage(camp, limit, next, prev)
	if err != nil {
		return err
	}
	b := append([]byte(nil), `{"campaign":`...)
	b = s.e.AppendCampaignJSON(b, camp, users)
	if withUsers {
		b = append(b, `,"users":{`...)
		if nextCur != "" {
			b = append(b, `"next":`...)
			b = wire.AppendString(b, nextCur)
		}
		if prevCur != "" {
			if nextCur != "" {
				b = append(b, ',')
			}
			b = append(b, `"prev":`...)
			b = wire.AppendString(b, prevCur)
		}
		b = append(b, '}')
	}
	b = append(b, '}')
	return c.reply(status, b)
}
