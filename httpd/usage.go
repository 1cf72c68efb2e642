package httpd

import (
	"strconv"

	"github.com/campaignd/campaignd/wire"
)

// getCampaignUsage serves GET /campaignd/usage (extension): the month's campaign messages,
// {month, sent, capacity, remaining, resets_at}; capacity and remaining are null without a
// monthly capacity.
func (s *Server) getCampaignUsage(c *call) error {
	u, err := s.e.CampaignUsage()
	if err != nil {
		return err
	}
	b := append([]byte(nil), `{"month":`...)
	b = wire.AppendString(b, u.Month)
	b = append(b, `,"sent":`...)
	b = strconv.AppendUint(b, u.Sent, 10)
	if u.Capacity > 0 {
		b = append(b, `,"capacity":`...)
		b = strconv.AppendUint(b, u.Capacity, 10)
		b = append(b, `,"remaining":`...)
		b = strconv.AppendUint(b, u.Left, 10)
	} else {
		b = append(b, `,"capacity":null,"remaining":null`...)
	}
	b = append(b, `,"resets_at":`...)
	b = wire.AppendTime(b, u.ResetsAt)
	b = append(b, '}')
	return c.reply(200, b)
}
