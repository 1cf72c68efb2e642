package httpd

import (
	"slices"
	"testing"

	"github.com/campaignd/campaignd/engine"
)

// TestDistinctChannelSquatting reproduces the distinct-channel squatting attack: an outsider
// creates the 1-1 channel id of a sender and receiver with members of its own, hoping a campaign
// posts the receiver's personalised text into it.
func TestDistinctChannelSquatting(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("snd", "rcv", "eve")
	distinct := engine.DistinctChannelID([]string{"snd", "rcv"})

	f := func(path string, body map[string]any) {
		t.Helper()
		status, m := ts.do("POST", path, body)
		wantError(t, status, m, 400, 4)
	}
	// The distinct id with other members, with no members, and other ids holding "!".
	f("/channels/messaging/"+distinct+"/query", map[string]any{"data": map[string]any{"created_by_id": "eve", "members": []string{"eve"}}})
	f("/channels/messaging/"+distinct+"/query", map[string]any{"data": map[string]any{"created_by_id": "eve"}})
	f("/channels/messaging/!members-x/query", map[string]any{"data": map[string]any{"created_by_id": "eve", "members": []string{"eve"}}})
	f("/channels/messaging/a!b/query", map[string]any{"data": map[string]any{"created_by_id": "eve"}})
	if _, ok := ts.channelTexts("messaging:" + distinct); ok {
		t.Fatalf("a refused request created channel %s", distinct)
	}
	// A campaign template whose literal text holds "!" is refused at create.
	status, m := ts.do("POST", "/campaigns", map[string]any{
		"sender_id": "snd", "user_ids": []string{"rcv"}, "message_template": map[string]any{"text": "x"},
		"create_channels": true, "channel_template": map[string]any{"type": "messaging", "id": "!members-{{ receiver.id }}"},
	})
	wantError(t, status, m, 400, 4)

	// The members themselves may name it: the same distinct channel, found again by its id.
	ts.mustOK("POST", "/channels/messaging/"+distinct+"/query", map[string]any{"data": map[string]any{"created_by_id": "snd", "members": []string{"rcv", "snd"}}})
	ts.mustOK("POST", "/channels/messaging/"+distinct+"/query", map[string]any{})
	ts.mustOK("POST", "/channels/messaging/"+distinct+"/message", map[string]any{"message": map[string]any{"text": "hi", "user_id": "snd"}})

	// A campaign from snd to rcv writes into that channel.
	id := ts.mustCreateCampaign(map[string]any{
		"sender_id": "snd", "user_ids": []string{"rcv"}, "message_template": map[string]any{"text": "secret for {{ receiver.id }}"},
		"create_channels": true, "channel_template": map[string]any{"type": "messaging"},
	})
	if status, m := ts.do("POST", "/campaigns/"+id+"/start", "{}"); status != 201 {
		t.Fatalf("cannot start: %d %v", status, m)
	}
	ts.waitCampaignStatus(id, "completed")
	if texts, _ := ts.channelTexts("messaging:" + distinct); !slices.Equal(texts, []string{"hi", "secret for rcv"}) {
		t.Fatalf("unexpected texts in %s; got %q", distinct, texts)
	}
}

// TestCampaignSkipsChannelsWithoutReceiver checks that a campaign does not post into an existing
// channel (found by its channel_template.id) that the receiver is not a member of.
func TestCampaignSkipsChannelsWithoutReceiver(t *testing.T) {
	ts := mustStartTestServer(t)
	ts.mustCreateUsers("snd", "rcv", "eve", "ok")
	// Eve makes the channel the template will name for rcv, with herself as the only member.
	ts.mustOK("POST", "/channels/messaging/rcv-snd/query", map[string]any{"data": map[string]any{"created_by_id": "eve", "members": []string{"eve"}}})
	id := ts.mustCreateCampaign(map[string]any{
		"sender_id": "snd", "user_ids": []string{"rcv", "ok"}, "message_template": map[string]any{"text": "secret for {{ receiver.id }}"},
		"create_channels": true, "channel_template": map[string]any{"type": "messaging", "id": "{{ receiver.id }}-{{ sender.id }}"},
	})
	if status, m := ts.do("POST", "/campaigns/"+id+"/start", "{}"); status != 201 {
		t.Fatalf("cannot start: %d %v", status, m)
	}
	c := ts.waitCampaignStatus(id, "completed")
	if texts, _ := ts.channelTexts("messaging:rcv-snd"); len(texts) != 0 {
		t.Fatalf("the campaign posted into a channel its receiver is not a member of: %q", texts)
	}
	if texts, _ := ts.channelTexts("messaging:ok-snd"); !slices.Equal(texts, []string{"secret for ok"}) {
		t.Fatalf("unexpected texts in messaging:ok-snd; got %q", texts)
	}
	st := c["stats"].(map[string]any)
	if st["stats_messages_sent"] != 1.0 || st["stats_targets_skipped"] != 1.0 {
		t.Fatalf("unexpected stats; got %v; want 1 sent, 1 skipped", st)
	}
}
