package storage

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleChannels() []Channel {
	return []Channel{
		{},
		{Type: "messaging", ID: "general", CreatedBy: 1, CreatedAt: 1, UpdatedAt: 2, NextSeq: 1},
		{
			Type: "team", ID: "!members-abc_DEF", CreatedBy: 1<<32 - 1, Team: "red", Frozen: true, Disabled: true,
			MemberCount: 3, MessageCount: 1 << 40, NextSeq: 1<<40 + 1, LastMessageAt: 1700000000123456000,
			CreatedAt: -7, UpdatedAt: 1700000000999999000, Custom: []byte(`{"color":"red","n":[1,2]}`),
		},
	}
}

func sampleMembers() []Member {
	return []Member{
		{},
		{ChannelRole: "channel_member", CreatedAt: 1, UpdatedAt: 1},
		{ChannelRole: "channel_moderator", CreatedAt: 1700000000123456000, UpdatedAt: -1, Custom: []byte(`{"x":true}`)},
		{ChannelRole: "channel_member", CreatedAt: 5, UpdatedAt: 6, Hidden: true, Banned: true, ShadowBanned: true},
		{
			ChannelRole: "owner", CreatedAt: 5, UpdatedAt: 6, Custom: []byte(`{"y":1}`), Hidden: true, BanExpires: 9,
			ArchivedAt: 10, PinnedAt: 11, LastRead: 12, LastReadSeq: 1 << 40, ClearedSeq: 3,
		},
		{ChannelRole: "channel_member", LastReadSeq: 1},
	}
}

func sampleMessages() []Message {
	return []Message{
		{},
		{ID: "m1", Type: "regular", Text: "hi", User: 1, CreatedAt: 1, UpdatedAt: 1},
		{
			ID: "7b4c-ü", Type: "reply", Text: "hello\n<b>world</b>", HTML: "<p>hello</p>\n", User: 1<<32 - 1,
			Attachments: []byte(`[{"type":"image","asset_url":"x"}]`), PollID: "p1", ParentID: "m1",
			MentionedUsers: []uint32{1, 2, 1 << 31}, Silent: true, ShowInChannel: true,
			CreatedAt: 1700000000123456000, UpdatedAt: 1700000000123457000, Custom: []byte(`{"campaign_id":"c1"}`),
		},
	}
}

// roundTrip marshals rec after a prefix, unmarshals it into a fresh value and compares, treating
// nil and empty byte slices as equal.
func roundTrip[T any](t *testing.T, rec T, marshal func(*T, []byte) []byte, unmarshal func(*T, []byte) error, norm func(*T)) {
	t.Helper()
	b := marshal(&rec, []byte("prefix"))
	if !bytes.HasPrefix(b, []byte("prefix")) {
		t.Fatalf("Marshal overwrote dst")
	}
	var got T
	if err := unmarshal(&got, b[len("prefix"):]); err != nil {
		t.Fatalf("unexpected error: %s", err)
	}
	norm(&got)
	norm(&rec)
	if !reflect.DeepEqual(got, rec) {
		t.Fatalf("unexpected record;\ngot  %+v\nwant %+v", got, rec)
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func TestChannelCodecRoundTrip(t *testing.T) {
	for _, c := range sampleChannels() {
		roundTrip(t, c, (*Channel).Marshal, (*Channel).Unmarshal, func(c *Channel) { c.Custom = nilIfEmpty(c.Custom) })
		roundTrip(t, c, (*Channel).Marshal, (*Channel).UnmarshalNoCopy, func(c *Channel) { c.Custom = nilIfEmpty(c.Custom) })
	}
	b := sampleChannels()[2].Marshal(nil)
	var c Channel
	if n := testing.AllocsPerRun(100, func() { _ = c.UnmarshalNoCopy(b) }); n != 0 {
		t.Fatalf("unexpected allocations in UnmarshalNoCopy; got %v; want 0", n)
	}
	for _, m := range sampleMembers() {
		roundTrip(t, m, (*Member).Marshal, (*Member).Unmarshal, func(m *Member) { m.Custom = nilIfEmpty(m.Custom) })
	}
	for _, m := range sampleMessages() {
		roundTrip(t, m, (*Message).Marshal, (*Message).Unmarshal, func(m *Message) {
			m.Custom = nilIfEmpty(m.Custom)
			m.Attachments = nilIfEmpty(m.Attachments)
		})
	}
}

func TestRecordCodecCorrupt(t *testing.T) {
	f := func(name string, good []byte, unmarshal func([]byte) error) {
		t.Helper()
		check := func(b []byte) {
			t.Helper()
			if err := unmarshal(b); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: unexpected error for %x; got %v; want ErrCorrupt", name, b, err)
			}
		}
		check(nil)
		check([]byte{99})
		check(append(append([]byte{}, good...), 0))
		for i := 0; i < len(good); i++ {
			check(good[:i])
		}
	}
	f("channel", sampleChannels()[2].Marshal(nil), func(b []byte) error { var c Channel; return c.Unmarshal(b) })
	f("channel (no copy)", sampleChannels()[2].Marshal(nil), func(b []byte) error { var c Channel; return c.UnmarshalNoCopy(b) })
	f("member", sampleMembers()[2].Marshal(nil), func(b []byte) error { var m Member; return m.Unmarshal(b) })
	f("member with state", sampleMembers()[4].Marshal(nil), func(b []byte) error { var m Member; return m.Unmarshal(b) })
	f("message", sampleMessages()[2].Marshal(nil), func(b []byte) error { var m Message; return m.Unmarshal(b) })
}

func TestMemberVersion1(t *testing.T) {
	// A version 1 record: version, role, created_at, updated_at, custom.
	v1 := []byte{1}
	v1 = AppendString(v1, "channel_moderator")
	v1 = AppendVarint(v1, 7)
	v1 = AppendVarint(v1, 8)
	v1 = AppendBytes(v1, []byte(`{"a":1}`))
	var m Member
	if err := m.Unmarshal(v1); err != nil {
		t.Fatalf("unexpected error: %s", err)
	}
	want := Member{ChannelRole: "channel_moderator", CreatedAt: 7, UpdatedAt: 8, Custom: []byte(`{"a":1}`)}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("unexpected member; got %+v; want %+v", m, want)
	}
	if f := MemberListFlags(v1); f != 0 {
		t.Fatalf("unexpected flags of a version 1 record; got %d; want 0", f)
	}
}

func TestMemberListFlags(t *testing.T) {
	f := func(m Member, want ListFlags) {
		t.Helper()
		if got := MemberListFlags(m.Marshal(nil)); got != want {
			t.Fatalf("unexpected flags of %+v; got %d; want %d", m, got, want)
		}
		if got := m.Flags(); got != want {
			t.Fatalf("unexpected Flags of %+v; got %d; want %d", m, got, want)
		}
	}
	f(Member{}, 0)
	f(Member{Banned: true, LastRead: 1}, 0)
	f(Member{Hidden: true}, ListHidden)
	f(Member{ArchivedAt: 1}, ListArchived)
	f(Member{PinnedAt: 1, Hidden: true}, ListPinned|ListHidden)

	db := mustOpenTestStore(t)
	b := db.NewBatch()
	b.PutMember(1, 2, (&Member{Hidden: true, ArchivedAt: 5}).Marshal(nil))
	b.PutMember(3, 2, (&Member{}).Marshal(nil))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	got := map[uint32]ListFlags{}
	if err := ScanUserChannelFlags(db, 2, func(ch uint32, f ListFlags) bool { got[ch] = f; return true }); err != nil {
		t.Fatal(err)
	}
	if want := map[uint32]ListFlags{1: ListHidden | ListArchived, 3: 0}; !reflect.DeepEqual(got, want) {
		t.Fatalf("unexpected user channel flags; got %v; want %v", got, want)
	}
	b = db.NewBatch()
	b.DeleteMember(1, 2)
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	var chans []uint32
	if err := ScanUserChannels(db, 2, func(ch uint32) bool { chans = append(chans, ch); return true }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(chans, []uint32{3}) {
		t.Fatalf("unexpected channels after DeleteMember; got %v; want [3]", chans)
	}
}

func TestCampaignReads(t *testing.T) {
	db := mustOpenTestStore(t)
	b := db.NewBatch()
	b.PutCampaignRead("c", CampaignRead{Recipient: 7}, 70)
	b.PutCampaignRead("c", CampaignRead{Recipient: 5}, 50)
	b.PutCampaignRead("c", CampaignRead{Recipient: 9, Reader: 1}, 91)
	b.PutCampaignRead("cc", CampaignRead{Recipient: 1}, 1)
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	type read struct {
		r  CampaignRead
		at int64
	}
	var got []read
	if err := ScanCampaignReads(db, "c", func(r CampaignRead, at int64) bool { got = append(got, read{r, at}); return true }); err != nil {
		t.Fatal(err)
	}
	want := []read{{CampaignRead{Recipient: 5}, 50}, {CampaignRead{Recipient: 7}, 70}, {CampaignRead{Recipient: 9, Reader: 1}, 91}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("unexpected markers; got %v; want %v", got, want)
	}
	for _, tc := range []struct {
		id   string
		r    CampaignRead
		want bool
	}{{"c", CampaignRead{Recipient: 7}, true}, {"c", CampaignRead{Recipient: 8}, false}, {"c", CampaignRead{Recipient: 9, Reader: 1}, true}, {"cc", CampaignRead{Recipient: 7}, false}} {
		if ok, err := HasCampaignRead(db, tc.id, tc.r); err != nil || ok != tc.want {
			t.Fatalf("unexpected HasCampaignRead(%q, %+v); got %v, %v; want %v", tc.id, tc.r, ok, err, tc.want)
		}
	}
	b = db.NewBatch()
	b.DeleteCampaign("c")
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]uint64{"c": 0, "cc": 1} {
		if n, err := CountCampaignReads(db, id); err != nil || n != want {
			t.Fatalf("unexpected count of %q; got %d, %v; want %d", id, n, err, want)
		}
	}
}

func TestChannelKeys(t *testing.T) {
	f := func(got []byte, want string) {
		t.Helper()
		if string(got) != want {
			t.Fatalf("unexpected key; got %x; want %x", got, want)
		}
	}
	f(ChannelKey(nil, 0x01020304), "\x04\x01\x02\x03\x04")
	f(MemberKey(nil, 1, 2), "\x05\x00\x00\x00\x01\x00\x00\x00\x02")
	f(UserChannelKey(nil, 2, 1), "\x06\x00\x00\x00\x02\x00\x00\x00\x01")
	f(MessageKey(nil, 1, 258), "\x07\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01\x02")
	f(MessageIDKey(nil, "m/1"), "\x08m/1")
	f(AppendMessageRef(nil, 1, 2), "\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02")

	ord, seq, err := ParseMessageRef(AppendMessageRef(nil, 7, 1<<40))
	if err != nil || ord != 7 || seq != 1<<40 {
		t.Fatalf("unexpected ref; got %d %d %v; want 7 %d nil", ord, seq, err, uint64(1<<40))
	}
	if _, _, err := ParseMessageRef([]byte{1}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unexpected error; got %v; want ErrCorrupt", err)
	}
	ord, seq, ok := ParseMessageKey(MessageKey(nil, 9, 10))
	if !ok || ord != 9 || seq != 10 {
		t.Fatalf("unexpected key parse; got %d %d %v", ord, seq, ok)
	}
	if _, _, ok := ParseMessageKey(ChannelKey(nil, 9)); ok {
		t.Fatalf("ParseMessageKey accepted a channel key")
	}
}

// FuzzChannelRecords feeds arbitrary bytes to every channel-area record decoder: they must not
// panic, and whatever decodes must re-encode to a value that decodes the same.
func FuzzChannelRecords(f *testing.F) {
	for _, c := range sampleChannels() {
		f.Add(c.Marshal(nil))
	}
	for _, m := range sampleMembers() {
		f.Add(m.Marshal(nil))
	}
	for _, m := range sampleMessages() {
		f.Add(m.Marshal(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c, c2 Channel
		if c.Unmarshal(b) == nil {
			if err := c2.Unmarshal(c.Marshal(nil)); err != nil {
				t.Fatalf("re-decoding channel: %s", err)
			}
			c.Custom, c2.Custom = nilIfEmpty(c.Custom), nilIfEmpty(c2.Custom)
			if !reflect.DeepEqual(c, c2) {
				t.Fatalf("channel changed; %+v vs %+v", c, c2)
			}
		}
		var m, m2 Member
		if m.Unmarshal(b) == nil {
			v := m.Marshal(nil)
			if err := m2.Unmarshal(v); err != nil {
				t.Fatalf("re-decoding member: %s", err)
			}
			m.Custom, m2.Custom = nilIfEmpty(m.Custom), nilIfEmpty(m2.Custom)
			if !reflect.DeepEqual(m, m2) {
				t.Fatalf("member changed; %+v vs %+v", m, m2)
			}
			if MemberListFlags(v) != m.Flags() {
				t.Fatalf("list flags %d disagree with the member's %d", MemberListFlags(v), m.Flags())
			}
		}
		var g, g2 Message
		if g.Unmarshal(b) == nil {
			if err := g2.Unmarshal(g.Marshal(nil)); err != nil {
				t.Fatalf("re-decoding message: %s", err)
			}
			g.Custom, g2.Custom = nilIfEmpty(g.Custom), nilIfEmpty(g2.Custom)
			g.Attachments, g2.Attachments = nilIfEmpty(g.Attachments), nilIfEmpty(g2.Attachments)
			if !reflect.DeepEqual(g, g2) {
				t.Fatalf("message changed; %+v vs %+v", g, g2)
			}
		}
	})
}
