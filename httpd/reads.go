package httpd

// Read state: mark read, mark channels read and the unread counts, decoded and encoded by wire.

// markRead is POST /channels/{type}/{id}/read → 201 {"event": message.read}.
func (s *Server) markRead(c *call) error {
	req, err := s.enc.DecodeMarkRead(c.Body(), c.Param(0), c.Param(1))
	if err != nil {
		return err
	}
	r, err := s.e.MarkRead(req)
	if err != nil {
		return err
	}
	buf := getReplyBuf()
	defer putReplyBuf(buf)
	*buf = s.enc.AppendMarkReadReply((*buf)[:0], r)
	return c.reply(201, *buf)
}

// markChannelsRead is POST /channels/read → 201 {}.
func (s *Server) markChannelsRead(c *call) error {
	req, err := s.enc.DecodeMarkChannelsRead(c.Body())
	if err != nil {
		return err
	}
	if err := s.e.MarkChannelsRead(req.UserID, req.ReadByChannel); err != nil {
		return err
	}
	return c.reply(201, []byte("{}"))
}

// unreadCounts is GET /unread?user_id= → 200 {"total_unread_count", "channels", ...}.
func (s *Server) unreadCounts(c *call) error {
	u, err := s.e.UnreadCounts(string(c.Query("user_id")))
	if err != nil {
		return err
	}
	buf := getReplyBuf()
	defer putReplyBuf(buf)
	*buf = s.enc.AppendUnreadCounts((*buf)[:0], u)
	return c.reply(200, *buf)
}
