package engine

import (
	"time"

	"github.com/campaignd/campaignd/storage"
)

// Encoder renders the Stream JSON the engine itself needs: the objects its templates read
// ({{ receiver.name }} is looked up in the receiver's UserResponse, {{ channel.x }} in the
// channel's ChannelResponse) and the bodies of the events it stores at commit (channel.created,
// message.new of the API, campaign.*) or renders for the relays at delivery (a campaign chunk's
// channel.created and message.new, chunkevents.go). The engine speaks no wire format of its own:
// package wire implements Encoder (wire.Legacy), and Options.Encoder is required.
//
// Users come into events already encoded (AppendUser), so that a user listed by many events of a
// chunk, such as a campaign's sender, is encoded once. Every method appends to dst and returns
// it, does no I/O, keeps nothing of its arguments and, for the fan-out's hot paths, does not
// allocate beyond growing dst. Implementations are safe for concurrent use.
type Encoder interface {
	// AppendUser appends u as a UserResponse (custom fields flattened).
	AppendUser(dst []byte, u *storage.User) []byte
	// AppendGoneUser appends the UserResponse of a user that is gone (deleted since something
	// referred to it), of which only the id is left.
	AppendGoneUser(dst []byte, id string) []byte
	// AppendChannel appends ch as a ChannelResponse; creator is its creator's UserResponse (nil:
	// none shown).
	AppendChannel(dst []byte, ch *storage.Channel, creator []byte) []byte
	// AppendChannelCreated appends the body of a channel.created event.
	AppendChannelCreated(dst []byte, ev *ChannelCreated) []byte
	// AppendMessageNew appends the body of a message.new event.
	AppendMessageNew(dst []byte, ev *MessageNew) []byte
	// AppendCampaignEvent appends the body of the campaign event typ ("campaign.started",
	// "campaign.stopped", "campaign.completed") of c, with Sender and Segments loaded, at time at.
	AppendCampaignEvent(dst []byte, typ string, at time.Time, c *Campaign) []byte
	// AppendChannelEvent appends the body of ev, a channel or message event other than
	// channel.created and message.new (see ChannelEvent).
	AppendChannelEvent(dst []byte, ev *ChannelEvent) []byte
}

// ChannelEvent is what the channel and message events beyond channel.created and message.new
// show: message.read, message.updated, message.deleted, channel.updated, channel.truncated,
// channel.deleted, channel.hidden, channel.visible, member.added, member.updated and
// member.removed. Every body has the type, the channel's cid, id and type, its member and message
// counts, its team and the time; the other parts are shown when set.
type ChannelEvent struct {
	Type string
	// Channel is the channel as the event leaves it.
	Channel *storage.Channel
	// WithChannel shows the channel as a ChannelResponse ("channel"), created by Creator (nil:
	// no created_by).
	WithChannel bool
	Creator     []byte
	// User is the acting user's UserResponse (the reader, the member who hid, the updater); nil:
	// none shown.
	User []byte
	// Member is the member of a member.* event.
	Member *EventMember
	// Message is the message of message.updated and message.deleted, or the one sent with a
	// channel update or truncation, with its author's and mentioned users' UserResponses.
	Message   *storage.Message
	Author    []byte
	Mentioned [][]byte
	// LastReadMessageID is message.read's last_read_message_id ("" when the channel has none).
	LastReadMessageID string
	// ClearHistory is channel.hidden's clear_history; HardDelete message.deleted's hard_delete.
	ClearHistory bool
	HardDelete   bool
	// At is the event's time, unix nanoseconds.
	At int64
}

// ChannelCreated is what a channel.created event shows.
type ChannelCreated struct {
	// Channel is the channel as created: its members counted, no message yet.
	Channel *storage.Channel
	// Creator is the creator's UserResponse.
	Creator []byte
	// Members are the members listed (at most maxEventMembers), in key order.
	Members []EventMember
	// At is the event's time, unix nanoseconds.
	At int64
}

// MessageNew is what a message.new event shows.
type MessageNew struct {
	// Channel is the message's channel, its counters including Message.
	Channel *storage.Channel
	Message *storage.Message
	// Author is the author's UserResponse; Mentioned are the UserResponses of
	// Message.MentionedUsers.
	Author    []byte
	Mentioned [][]byte
	// Members are the members listed (at most maxEventMembers).
	Members []EventMember
}

// EventMember is a channel member as an event lists it.
type EventMember struct {
	UserID string
	Member storage.Member
	// Creator marks the channel's creator (Stream's legacy role "owner").
	Creator bool
	// User is the member's UserResponse.
	User []byte
}

// maxEventMembers is how many members an event body lists: Stream truncates its events' member
// lists to 50.
const maxEventMembers = 50
