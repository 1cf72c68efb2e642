package httpd

// Channels and messages: bodies decoded and replies encoded by wire.

func (s *Server) queryChannel(c *call) error {
	return s.getOrCreateChannel(c, c.Param(0), c.Param(1))
}

func (s *Server) queryDistinctChannel(c *call) error {
	return s.getOrCreateChannel(c, c.Param(0), "")
}

func (s *Server) getOrCreateChannel(c *call, typ, id string) error {
	req, err := s.enc.DecodeChannelQuery(c.Body(), typ, id)
	if err != nil {
		return err
	}
	st, err := s.e.GetOrCreateChannel(req)
	if err != nil {
		return err
	}
	buf := getReplyBuf()
	defer putReplyBuf(buf)
	*buf = s.enc.AppendChannelState((*buf)[:0], st)
	return c.reply(201, *buf)
}

func (s *Server) sendMessage(c *call) error {
	req, err := s.enc.DecodeSendMessage(c.Body(), c.Param(0), c.Param(1))
	if err != nil {
		return err
	}
	m, err := s.e.SendMessage(req)
	if err != nil {
		return err
	}
	buf := getReplyBuf()
	defer putReplyBuf(buf)
	*buf = s.enc.AppendMessageReply((*buf)[:0], m)
	return c.reply(201, *buf)
}

func (s *Server) queryChannels(c *call) error {
	req, err := s.enc.DecodeQueryChannels(c.Body())
	if err != nil {
		return err
	}
	states, err := s.e.QueryChannels(req)
	if err != nil {
		return err
	}
	buf := getReplyBuf()
	defer putReplyBuf(buf)
	*buf = s.enc.AppendChannels((*buf)[:0], states)
	return c.reply(201, *buf)
}

// replyBufs holds reply buffers; c.reply copies into the response.
var replyBufs = make(chan *[]byte, 64)

func getReplyBuf() *[]byte {
	select {
	case b := <-replyBufs:
		return b
	default:
		b := make([]byte, 0, 4096)
		return &b
	}
}

func putReplyBuf(b *[]byte) {
	if cap(*b) > 1<<20 {
		return
	}
	*b = (*b)[:0]
	select {
	case replyBufs <- b:
	default:
	}
}
