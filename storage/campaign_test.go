package storage

import (
	"errors"
	"reflect"
	"testing"
)

func TestCampaignMarshalUnmarshal(t *testing.T) {
	f := func(c *Campaign) {
		t.Helper()
		b := c.Marshal([]byte("prefix"))
		var got Campaign
		if err := got.Unmarshal(b[len("prefix"):]); err != nil {
			t.Fatalf("cannot unmarshal: %s", err)
		}
		if !reflect.DeepEqual(&got, c) {
			t.Fatalf("unexpected campaign; got %+v; want %+v", got, *c)
		}
		// Every truncation is an error, never a panic.
		for i := 0; i < len(b)-len("prefix"); i++ {
			var c2 Campaign
			if err := c2.Unmarshal(b[len("prefix") : len("prefix")+i]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error for %d bytes; got %v; want ErrCorrupt", i, err)
			}
		}
	}
	f(&Campaign{ID: "c1", Status: CampaignDraft, SenderID: "admin", Message: MessageTemplate{Text: "hi"}})
	f(&Campaign{
		ID: "c 2/x", Name: "n", Description: "d", Status: CampaignInProgress, SenderID: "s",
		SenderMode: "include", SenderVisibility: "hidden",
		SegmentIDs: []string{"a", "b"}, UserIDs: []string{"u1"},
		Message: MessageTemplate{Text: "Hello {{ receiver.name }}", PollID: "p", Attachments: []byte(`[{"type":"image"}]`),
			Custom: []byte(`{"promotional":true}`), Searchable: 2},
		CreateChannels: true, ShowChannels: true, SkipPush: true, SkipWebhook: true, HasChannel: true,
		Channel: ChannelTemplate{Type: "messaging", ID: "{{receiver.id}}-{{sender.id}}", Team: "t",
			Members: []string{"m1", "m2"}, Custom: []byte(`{"x":1}`),
			MembersTemplate: []MemberTemplate{{UserID: "m3", ChannelRole: "channel_moderator", Custom: []byte(`{"y":2}`)}, {UserID: "m4"}}},
		ScheduledFor: 1, StopAt: -2, CreatedAt: 1700000000000000000, UpdatedAt: 1700000000000000001, Audience: AudienceChannels,
		StopReason: StopMonthlyCapacity, MaxPerSecond: 1_000_000,
	})
}

func TestCampaignUnmarshalVersion1(t *testing.T) {
	// Records stored before stop_reason and max_messages_per_second read back with both unset.
	c := &Campaign{ID: "old", Status: CampaignStopped, SenderID: "s", Message: MessageTemplate{Text: "hi"}, Audience: AudienceUsers}
	b := c.Marshal(nil)
	v1 := append([]byte{1}, b[1:len(b)-2]...) // no StopReason (one length byte) nor MaxPerSecond (one byte)
	got := Campaign{StopReason: "x", MaxPerSecond: 9}
	if err := got.Unmarshal(v1); err != nil {
		t.Fatalf("cannot read a version 1 campaign: %s", err)
	}
	if !reflect.DeepEqual(&got, c) {
		t.Fatalf("unexpected campaign; got %+v; want %+v", got, *c)
	}
	if err := got.Unmarshal(append([]byte{3}, b[1:]...)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unexpected error for an unknown version; got %v; want ErrCorrupt", err)
	}
}

func TestCampaignRunMarshalUnmarshal(t *testing.T) {
	f := func(r *CampaignRun) {
		t.Helper()
		b := r.Marshal(nil)
		var got CampaignRun
		if err := got.Unmarshal(b); err != nil {
			t.Fatalf("cannot unmarshal: %s", err)
		}
		if got != *r {
			t.Fatalf("unexpected run; got %+v; want %+v", got, *r)
		}
		if err := got.Unmarshal(append(b, 0)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("unexpected error for a trailing byte; got %v; want ErrCorrupt", err)
		}
	}
	f(&CampaignRun{})
	f(&CampaignRun{Frozen: true, Kind: AudienceUsers, Cursor: 1<<32 - 1, Total: 1e6, Done: 4096, MessagesSent: 4000,
		ChannelsCreated: 3000, UsersSent: 4000, Skipped: 96, StartedAt: 17e17, CompletedAt: 18e17})
}

func FuzzCampaignUnmarshal(f *testing.F) {
	c := &Campaign{ID: "c", Status: CampaignDraft, SenderID: "s", SegmentIDs: []string{"a"},
		Channel: ChannelTemplate{MembersTemplate: []MemberTemplate{{UserID: "m"}}}, HasChannel: true}
	f.Add(c.Marshal(nil))
	f.Add((&CampaignRun{Frozen: true, Cursor: 7}).Marshal(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Campaign
		if err := c.Unmarshal(b); err == nil {
			// A decodable record round-trips through its encoding.
			var c2 Campaign
			if err := c2.Unmarshal(c.Marshal(nil)); err != nil || !reflect.DeepEqual(&c, &c2) {
				t.Fatalf("campaign does not round-trip: %v %+v %+v", err, c, c2)
			}
		}
		var r CampaignRun
		if err := r.Unmarshal(b); err == nil {
			var r2 CampaignRun
			if err := r2.Unmarshal(r.Marshal(nil)); err != nil || r2 != r {
				t.Fatalf("run does not round-trip: %v %+v %+v", err, r, r2)
			}
		}
	})
}
