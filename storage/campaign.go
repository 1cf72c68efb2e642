package storage

import "fmt"

// Campaign statuses as stored and as sent on the wire.
const (
	CampaignDraft      = "draft"
	CampaignScheduled  = "scheduled"
	CampaignInProgress = "in_progress"
	CampaignCompleted  = "completed"
	CampaignStopped    = "stopped"
)

// AudienceKind says who the ordinals of a campaign's audience are.
type AudienceKind byte

// Audience kinds, as stored.
const (
	AudienceUnknown  AudienceKind = 0 // not decided yet
	AudienceUsers    AudienceKind = 1 // user ordinals: one message per user, in a 1-1 (or templated) channel
	AudienceChannels AudienceKind = 2 // channel ordinals: one message per channel (channel segments)
)

func (k AudienceKind) String() string {
	switch k {
	case AudienceUnknown:
		return "unknown"
	case AudienceUsers:
		return "users"
	case AudienceChannels:
		return "channels"
	}
	return fmt.Sprintf("AudienceKind(%d)", byte(k))
}

const (
	// campaignVersion 2 added StopReason and MaxPerSecond; version 1 records read with both unset.
	campaignVersion    = 2
	campaignRunVersion = 1
)

// Why a campaign stopped (Campaign.StopReason), as sent in the stop_reason extension field.
const (
	StopManual          = "manual"           // StopCampaign or DeleteCampaign
	StopAt              = "stop_at"          // its stop_at came
	StopMonthlyCapacity = "monthly_capacity" // the month's campaign capacity was used up
	StopError           = "error"            // it could not run (its sender or a segment was deleted)
)

// MessageTemplate is a campaign's message_template as stored. Attachments and Custom hold raw JSON
// (an array and an object) or nil when absent.
type MessageTemplate struct {
	Text        string
	PollID      string
	Attachments []byte
	Custom      []byte
	// Searchable is 0 when unset, 1 for false, 2 for true.
	Searchable byte
}

// MemberTemplate is one channel_template.members_template entry. Custom is a raw JSON object or nil.
type MemberTemplate struct {
	UserID      string
	ChannelRole string
	Custom      []byte
}

// ChannelTemplate is a campaign's channel_template as stored. Custom is a raw JSON object or nil.
type ChannelTemplate struct {
	Type            string
	ID              string
	Team            string
	Members         []string
	MembersTemplate []MemberTemplate
	Custom          []byte
}

// Campaign is the campaign definition (PrefixCampaign). It changes on create, update and status
// transitions only; the fan-out's per-chunk progress lives in CampaignRun so that a chunk rewrites a
// small record. Timestamps are unix nanoseconds, 0 meaning unset.
type Campaign struct {
	ID               string
	Name             string
	Description      string
	Status           string
	SenderID         string
	SenderMode       string // "", "exclude" or "include"
	SenderVisibility string // "", "hidden" or "archived"
	SegmentIDs       []string
	UserIDs          []string
	Message          MessageTemplate
	CreateChannels   bool
	ShowChannels     bool
	SkipPush         bool
	SkipWebhook      bool
	HasChannel       bool // a channel_template was given
	Channel          ChannelTemplate
	ScheduledFor     int64
	StopAt           int64
	CreatedAt        int64
	UpdatedAt        int64
	// Audience says whether segment_ids target users or channels; set at create and update.
	Audience AudienceKind
	// StopReason is why a stopped campaign stopped (StopManual, ...); empty otherwise.
	StopReason string
	// MaxPerSecond bounds the fan-out's pace in messages per second (max_messages_per_second);
	// 0 = as fast as it goes.
	MaxPerSecond uint32
}

// Marshal appends the encoded campaign to dst.
func (c *Campaign) Marshal(dst []byte) []byte {
	dst = append(dst, campaignVersion)
	dst = AppendString(dst, c.ID)
	dst = AppendString(dst, c.Name)
	dst = AppendString(dst, c.Description)
	dst = AppendString(dst, c.Status)
	dst = AppendString(dst, c.SenderID)
	dst = AppendString(dst, c.SenderMode)
	dst = AppendString(dst, c.SenderVisibility)
	dst = AppendStrings(dst, c.SegmentIDs)
	dst = AppendStrings(dst, c.UserIDs)
	m := &c.Message
	dst = AppendString(dst, m.Text)
	dst = AppendString(dst, m.PollID)
	dst = AppendBytes(dst, m.Attachments)
	dst = AppendBytes(dst, m.Custom)
	dst = append(dst, m.Searchable)
	var flags byte
	for i, b := range [...]bool{c.CreateChannels, c.ShowChannels, c.SkipPush, c.SkipWebhook, c.HasChannel} {
		if b {
			flags |= 1 << i
		}
	}
	dst = append(dst, flags)
	ch := &c.Channel
	dst = AppendString(dst, ch.Type)
	dst = AppendString(dst, ch.ID)
	dst = AppendString(dst, ch.Team)
	dst = AppendStrings(dst, ch.Members)
	dst = AppendUvarint(dst, uint64(len(ch.MembersTemplate)))
	for i := range ch.MembersTemplate {
		mt := &ch.MembersTemplate[i]
		dst = AppendString(dst, mt.UserID)
		dst = AppendString(dst, mt.ChannelRole)
		dst = AppendBytes(dst, mt.Custom)
	}
	dst = AppendBytes(dst, ch.Custom)
	dst = AppendVarint(dst, c.ScheduledFor)
	dst = AppendVarint(dst, c.StopAt)
	dst = AppendVarint(dst, c.CreatedAt)
	dst = AppendVarint(dst, c.UpdatedAt)
	dst = append(dst, byte(c.Audience))
	dst = AppendString(dst, c.StopReason)
	return AppendUvarint(dst, uint64(c.MaxPerSecond))
}

// Unmarshal decodes src into c. Nothing in c aliases src.
func (c *Campaign) Unmarshal(src []byte) error {
	d := Decoder{B: src}
	version := d.Byte()
	if d.Err == nil && version != 1 && version != campaignVersion {
		return fmt.Errorf("cannot decode campaign: unknown version %d: %w", version, ErrCorrupt)
	}
	c.ID = d.String()
	c.Name = d.String()
	c.Description = d.String()
	c.Status = d.String()
	c.SenderID = d.String()
	c.SenderMode = d.String()
	c.SenderVisibility = d.String()
	c.SegmentIDs = d.Strings()
	c.UserIDs = d.Strings()
	m := &c.Message
	m.Text = d.String()
	m.PollID = d.String()
	m.Attachments = cloneOrNil(d.Bytes())
	m.Custom = cloneOrNil(d.Bytes())
	m.Searchable = d.Byte()
	if m.Searchable > 2 {
		d.fail()
	}
	flags := d.Byte()
	if flags >= 32 {
		d.fail()
	}
	c.CreateChannels = flags&1 != 0
	c.ShowChannels = flags&2 != 0
	c.SkipPush = flags&4 != 0
	c.SkipWebhook = flags&8 != 0
	c.HasChannel = flags&16 != 0
	ch := &c.Channel
	ch.Type = d.String()
	ch.ID = d.String()
	ch.Team = d.String()
	ch.Members = d.Strings()
	n := d.Uvarint()
	if d.Err == nil && n > uint64(len(d.B)) {
		d.fail()
	}
	ch.MembersTemplate = nil
	if d.Err == nil && n > 0 {
		ch.MembersTemplate = make([]MemberTemplate, n)
		for i := range ch.MembersTemplate {
			mt := &ch.MembersTemplate[i]
			mt.UserID = d.String()
			mt.ChannelRole = d.String()
			mt.Custom = cloneOrNil(d.Bytes())
		}
	}
	ch.Custom = cloneOrNil(d.Bytes())
	c.ScheduledFor = d.Varint()
	c.StopAt = d.Varint()
	c.CreatedAt = d.Varint()
	c.UpdatedAt = d.Varint()
	c.Audience = AudienceKind(d.Byte())
	c.StopReason, c.MaxPerSecond = "", 0
	if version >= 2 {
		c.StopReason = d.String()
		mps := d.Uvarint()
		if mps > 1<<32-1 {
			d.fail()
		}
		c.MaxPerSecond = uint32(mps)
	}
	if d.Err != nil {
		return fmt.Errorf("cannot decode campaign: %w", d.Err)
	}
	if len(d.B) != 0 {
		return fmt.Errorf("cannot decode campaign: %d trailing bytes: %w", len(d.B), ErrCorrupt)
	}
	return nil
}

func cloneOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// CampaignRun is the fan-out's durable progress (PrefixCampaignRun), rewritten in every chunk's
// batch together with the chunk's messages, so that Cursor always names the last audience ordinal
// whose message is durable. Timestamps are unix nanoseconds, 0 meaning unset.
type CampaignRun struct {
	// Frozen is set once the audience bitmap is stored under PrefixCampaignBits.
	Frozen bool
	// Kind is the audience kind (AudienceUsers or AudienceChannels).
	Kind AudienceKind
	// Cursor is the last audience ordinal processed; the next chunk starts after it.
	Cursor uint32
	// Total is the audience size; Done how many of it were processed (sent or skipped).
	Total uint64
	Done  uint64
	// MessagesSent, ChannelsCreated, UsersSent and Skipped are the stats counters.
	MessagesSent    uint64
	ChannelsCreated uint64
	UsersSent       uint64
	Skipped         uint64
	StartedAt       int64
	CompletedAt     int64
}

// Marshal appends the encoded run to dst.
func (r *CampaignRun) Marshal(dst []byte) []byte {
	dst = append(dst, campaignRunVersion)
	dst = AppendBool(dst, r.Frozen)
	dst = append(dst, byte(r.Kind))
	dst = AppendUvarint(dst, uint64(r.Cursor))
	dst = AppendUvarint(dst, r.Total)
	dst = AppendUvarint(dst, r.Done)
	dst = AppendUvarint(dst, r.MessagesSent)
	dst = AppendUvarint(dst, r.ChannelsCreated)
	dst = AppendUvarint(dst, r.UsersSent)
	dst = AppendUvarint(dst, r.Skipped)
	dst = AppendVarint(dst, r.StartedAt)
	return AppendVarint(dst, r.CompletedAt)
}

// Unmarshal decodes src into r.
func (r *CampaignRun) Unmarshal(src []byte) error {
	d := Decoder{B: src}
	if err := d.Version(campaignRunVersion, "campaign run"); err != nil {
		return err
	}
	r.Frozen = d.Bool()
	r.Kind = AudienceKind(d.Byte())
	cursor := d.Uvarint()
	if cursor > 1<<32-1 {
		d.fail()
	}
	r.Cursor = uint32(cursor)
	r.Total = d.Uvarint()
	r.Done = d.Uvarint()
	r.MessagesSent = d.Uvarint()
	r.ChannelsCreated = d.Uvarint()
	r.UsersSent = d.Uvarint()
	r.Skipped = d.Uvarint()
	r.StartedAt = d.Varint()
	r.CompletedAt = d.Varint()
	if d.Err != nil {
		return fmt.Errorf("cannot decode campaign run: %w", d.Err)
	}
	if len(d.B) != 0 {
		return fmt.Errorf("cannot decode campaign run: %d trailing bytes: %w", len(d.B), ErrCorrupt)
	}
	return nil
}

func campaignKey(dst []byte, id string) []byte { return NewKey(dst, PrefixCampaign).Str(id) }

// CampaignRunKey appends the PrefixCampaignRun key of id to dst.
func CampaignRunKey(dst []byte, id string) []byte {
	return NewKey(dst, PrefixCampaignRun).Str(id)
}

// ReadCampaign reads the definition of campaign id through r into c (nothing aliases r); found
// is false when there is none.
func ReadCampaign(r Reader, id string, c *Campaign) (found bool, err error) {
	var kb [64]byte
	if found, err = GetRecord(r, campaignKey(kb[:0], id), c); err != nil {
		return false, fmt.Errorf("cannot read campaign %q: %w", id, err)
	}
	return found, nil
}

// ReadCampaignRun reads the progress of campaign id through r into run; found is false when the
// campaign never started.
func ReadCampaignRun(r Reader, id string, run *CampaignRun) (found bool, err error) {
	var kb [64]byte
	if found, err = GetRecord(r, CampaignRunKey(kb[:0], id), run); err != nil {
		return false, fmt.Errorf("cannot read the progress of campaign %q: %w", id, err)
	}
	return found, nil
}

// PutCampaign stores c as the definition of campaign c.ID in b.
func (b *Batch) PutCampaign(c *Campaign) {
	var kb [64]byte
	b.putRecord(campaignKey(kb[:0], c.ID), c)
}

// PutCampaignRun stores run as the progress of campaign id in b.
func (b *Batch) PutCampaignRun(id string, run *CampaignRun) {
	var kb [64]byte
	b.putRecord(CampaignRunKey(kb[:0], id), run)
}

// DeleteCampaign removes campaign id in b: its definition, its progress, its frozen audience and
// its read markers.
func (b *Batch) DeleteCampaign(id string) {
	var kb [64]byte
	b.Delete(campaignKey(kb[:0], id))
	b.Delete(CampaignRunKey(kb[:0], id))
	b.DeleteBits(CampaignBits(id))
	b.DeleteCampaignReads(id)
}

// ScanCampaigns calls fn with every campaign definition in id order, until fn returns an error,
// which ScanCampaigns returns. Each c is new: fn may keep it.
func ScanCampaigns(r Reader, fn func(c *Campaign) error) error {
	it := r.NewIter([]byte{PrefixCampaign}, []byte{PrefixCampaign + 1})
	var err error
	for ok := it.First(); ok; ok = it.Next() {
		c := new(Campaign)
		if err = c.Unmarshal(it.Value()); err != nil {
			err = fmt.Errorf("cannot read campaign %q: %w", it.Key()[1:], err)
			break
		}
		if err = fn(c); err != nil {
			break
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}
