package engine

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/campaignd/campaignd/storage"
)

// Limits on what one request may store, so that no request, template or stored data can make one
// record or one reply exceed a documented bound (README "Limits"). Sizes are bytes of UTF-8 or of
// compact JSON; lengths of message texts are characters (runes), as Stream counts them.
const (
	// DefaultMaxMessageLength is Stream's default max_message_length, in characters; MaxMessageLength
	// (Options) may raise it up to MaxMaxMessageLength, Stream's ceiling.
	DefaultMaxMessageLength = 5000
	MaxMaxMessageLength     = 20000
	// MaxMessageHTMLSize bounds a message's html.
	MaxMessageHTMLSize = 64 << 10
	// MaxMessageAttachments is the most attachments of one message (Stream's limit), and
	// MaxAttachmentsSize their largest JSON, together.
	MaxMessageAttachments = 30
	MaxAttachmentsSize    = 64 << 10
	// MaxMentionedUsers is the most users one message may mention.
	MaxMentionedUsers = 100
	// MaxUserTextSize bounds a user's name and image; role, language and each team are ids
	// (at most MaxIDLength bytes).
	MaxUserTextSize = 2 << 10
	// MaxCampaignNameSize and MaxCampaignDescriptionSize bound a campaign's name and description.
	MaxCampaignNameSize        = 1 << 10
	MaxCampaignDescriptionSize = 5 << 10
	// MaxChannelIDTemplateLength bounds channel_template.id, a template rendering to a channel id.
	MaxChannelIDTemplateLength = 1 << 10
)

// CodeMessageTooLong is Stream's MessageTooLongError (HTTP 400).
const CodeMessageTooLong = 20

// checkMessageText fails with a code-20 error when text (of field) has more than max characters.
func checkMessageText(field, text string, max int) error {
	if len(text) <= max { // a character is at least one byte
		return nil
	}
	if n := utf8.RuneCountInString(text); n > max {
		msg := fmt.Sprintf("%s is %d characters long; the maximum is %d: shorten the message", field, n, max)
		return &Error{Code: CodeMessageTooLong, Msg: msg, Fields: map[string]string{field: msg}}
	}
	return nil
}

// checkAttachments checks a compact JSON array of attachments (field names it): at most
// MaxMessageAttachments objects, MaxAttachmentsSize bytes together.
func checkAttachments(field string, raw []byte) error {
	if len(raw) == 0 {
		return nil
	}
	if len(raw) > MaxAttachmentsSize {
		return InputError(field, "%s is %d bytes of JSON; the maximum is %d for all attachments of a message", field, len(raw), MaxAttachmentsSize)
	}
	var atts []json.RawMessage
	if err := json.Unmarshal(raw, &atts); err != nil {
		return InputError(field, "%s must be an array of attachment objects", field)
	}
	if len(atts) > MaxMessageAttachments {
		return InputError(field, "%s holds %d attachments; the maximum is %d", field, len(atts), MaxMessageAttachments)
	}
	for i, a := range atts {
		if len(a) == 0 || a[0] != '{' {
			return InputError(field, "%s[%d] must be an object", field, i)
		}
	}
	return nil
}

// checkSize fails with a code-4 error when s (of field) is longer than max bytes.
func checkSize(field string, n, max int) error {
	if n > max {
		return InputError(field, "%s is %d bytes long; the maximum is %d", field, n, max)
	}
	return nil
}

// checkMessageInput checks the limits of a message sent through the API.
func (e *Engine) checkMessageInput(in *MessageInput) error {
	if err := checkMessageText("message.text", in.Text, e.opts.MaxMessageLength); err != nil {
		return err
	}
	if len(in.HTML) > MaxMessageHTMLSize {
		msg := fmt.Sprintf("message.html is %d bytes long; the maximum is %d", len(in.HTML), MaxMessageHTMLSize)
		return &Error{Code: CodeMessageTooLong, Msg: msg, Fields: map[string]string{"message.html": msg}}
	}
	if err := checkAttachments("message.attachments", in.Attachments); err != nil {
		return err
	}
	if len(in.MentionedUsers) > MaxMentionedUsers {
		return InputError("message.mentioned_users", "message.mentioned_users names %d users; the maximum is %d", len(in.MentionedUsers), MaxMentionedUsers)
	}
	for _, f := range []struct{ name, v string }{{"message.parent_id", in.ParentID}, {"message.poll_id", in.PollID}} {
		if err := checkSize(f.name, len(f.v), MaxIDLength); err != nil {
			return err
		}
	}
	return nil
}

// checkUserLimits checks the sizes of u's strings (u.ID and Custom are checked by the callers).
func checkUserLimits(u *storage.User) error {
	for _, f := range []struct {
		name string
		v    string
		max  int
	}{{"name", u.Name, MaxUserTextSize}, {"image", u.Image, MaxUserTextSize}, {"role", u.Role, MaxIDLength}, {"language", u.Language, MaxIDLength}} {
		if len(f.v) > f.max {
			return InputError(f.name, "user %q: %s is %d bytes long; the maximum is %d", u.ID, f.name, len(f.v), f.max)
		}
	}
	if len(u.Teams) > MaxUserTeams {
		return InputError("teams", "user %q has %d teams; the limit is %d", u.ID, len(u.Teams), MaxUserTeams)
	}
	for _, t := range u.Teams {
		if len(t) > MaxIDLength {
			return InputError("teams", "user %q: the team name %.40q... is %d bytes long; the maximum is %d", u.ID, t, len(t), MaxIDLength)
		}
	}
	return nil
}

// checkCampaignLimits checks the sizes of campaign c's fields and that its message template, text
// (compiled), can render to a message of at most MaxMessageLength characters.
func (e *Engine) checkCampaignLimits(c *storage.Campaign, text *Template) error {
	if err := checkSize("name", len(c.Name), MaxCampaignNameSize); err != nil {
		return err
	}
	if err := checkSize("description", len(c.Description), MaxCampaignDescriptionSize); err != nil {
		return err
	}
	m := &c.Message
	if n, max := text.LiteralLength(), e.opts.MaxMessageLength; n > max {
		return InputError("message_template.text", "message_template.text has %d characters outside its {{ }} tags, so every message would be longer than the maximum of %d characters: shorten the template", n, max)
	}
	if err := checkAttachments("message_template.attachments", m.Attachments); err != nil {
		return err
	}
	// The messages' custom data is message_template.custom plus campaign_id, under the limit of
	// every message's custom data.
	if max := MaxChannelCustomSize - (len(campaignMessageCustom(nil, c.ID)) - 1); len(m.Custom) > max {
		return InputError("message_template.custom", "message_template.custom is %d bytes of JSON; the maximum is %d (a message's custom data, campaign_id included, is at most %d bytes)", len(m.Custom), max, MaxChannelCustomSize)
	}
	if err := checkSize("message_template.poll_id", len(m.PollID), MaxIDLength); err != nil {
		return err
	}
	if !c.HasChannel {
		return nil
	}
	ch := &c.Channel
	if err := checkSize("channel_template.id", len(ch.ID), MaxChannelIDTemplateLength); err != nil {
		return err
	}
	if err := checkSize("channel_template.team", len(ch.Team), MaxIDLength); err != nil {
		return err
	}
	if err := checkSize("channel_template.custom", len(ch.Custom), MaxChannelCustomSize); err != nil {
		return err
	}
	for i := range ch.MembersTemplate {
		mt := &ch.MembersTemplate[i]
		if err := checkSize(fmt.Sprintf("channel_template.members_template[%d].custom", i), len(mt.Custom), MaxChannelCustomSize); err != nil {
			return err
		}
		if err := checkSize(fmt.Sprintf("channel_template.members_template[%d].channel_role", i), len(mt.ChannelRole), MaxIDLength); err != nil {
			return err
		}
	}
	return nil
}
