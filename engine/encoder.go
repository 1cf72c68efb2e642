package engine

import (
	"time"

	"github.com/campaignd/campaignd/storage"
)

// Encoder renders the Stream JSON the engine itself needs: the objects its templates read
// ({{ receiver.name }} is looked up in the receiver's UserResponse) and the event bodies it
// stores or hands to the relays. The engine speaks no wire format of its own: package wire
// implements Encoder (wire.Legacy), and Options.Encoder is required.
//
// Every method appends to dst and returns it, does no I/O and, for the fan-out's hot path, must
// not allocate beyond growing dst. Implementations are safe for concurrent use.
type Encoder interface {
	// AppendUser appends u as a UserResponse (custom fields flattened).
	AppendUser(dst []byte, u *storage.User) []byte
	// AppendGoneUser appends the UserResponse of a user that is gone (deleted since something
	// referred to it), of which only the id is left.
	AppendGoneUser(dst []byte, id string) []byte
	// AppendCampaignEvent appends the body of the campaign event typ ("campaign.started",
	// "campaign.stopped", "campaign.completed") of c, with Sender and Segments loaded, at time at.
	AppendCampaignEvent(dst []byte, typ string, at time.Time, c *Campaign) []byte
}
