package engine

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/campaignd/campaignd/bitmap"
	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

// Segment limits, Stream's.
const (
	MaxSegmentNameLength        = 128 // characters
	MaxSegmentDescriptionLength = 256 // characters
	MaxTargetsPerCall           = 10000
	MaxTargetsQueryLimit        = 10000
	DefaultTargetsQueryLimit    = 100
	MaxSegmentsQueryLimit       = 100
	DefaultSegmentsQueryLimit   = 100
)

// segmentsState is the engine's state for segments and audience resolution.
type segmentsState struct {
	// locks serialise the writers of one segment (by id): its record (read-modify-write), its
	// target bitmap and index. A stripe is held across the commit.
	locks recordLocks

	// pending holds the ids of segments whose size must be computed; wake nudges the sizer.
	pendMu  sync.Mutex
	pending map[string]struct{}
	wake    chan struct{}

	// refreshEvery overrides DefaultSegmentRefresh when set before Start (tests); < 0 disables.
	refreshEvery time.Duration
}

func (s *segmentsState) wakeCh() chan struct{} {
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
	}
	return s.wake
}

// enqueue asks the sizer to compute segment id's size.
func (s *segmentsState) enqueue(id string) {
	wake := s.wakeCh()
	s.pendMu.Lock()
	if s.pending == nil {
		s.pending = make(map[string]struct{})
	}
	s.pending[id] = struct{}{}
	s.pendMu.Unlock()
	select {
	case wake <- struct{}{}:
	default:
	}
}

func (s *segmentsState) pop() (string, bool) {
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	for id := range s.pending {
		delete(s.pending, id)
		return id, true
	}
	return "", false
}

// Segment is a segment as the API shows it: the stored record plus whether a running campaign
// uses it.
type Segment struct {
	storage.Segment
	Locked bool
}

// isStatic reports whether targets are added by id.
func isStatic(s *storage.Segment) bool {
	return len(s.Filter) == 0 && !s.AllUsers && !s.AllSenderChannels
}

// needsSizing reports whether the segment's size is computed asynchronously.
func needsSizing(s *storage.Segment) bool {
	return len(s.Filter) > 0 || s.AllUsers
}

// SegmentParams is a segment as POST /segments and PUT /segments/{id} give it (decoded by wire).
// A nil field was absent (or JSON null); Filter, raw JSON that wire compacts, is nil when absent
// and "null" when null.
type SegmentParams struct {
	ID                *string
	Type              *string
	Name              *string
	Description       *string
	Filter            json.RawMessage
	AllUsers          *bool
	AllSenderChannels *bool
}

func segmentNotFound(id string) error {
	return NotFoundError("Can't find segment with id %q", id)
}

// readSegment reads segment id through r (the DB or a batch). found is false when it does not
// exist; deleted segments are returned with DeletedAt set.
func readSegment(r storage.Reader, id string) (*storage.Segment, bool, error) {
	s := new(storage.Segment)
	found, err := storage.ReadSegment(r, id, s)
	if err != nil || !found {
		return nil, false, err
	}
	return s, true, nil
}

// liveSegment reads segment id and returns a 404 error when it is missing or deleted.
func (e *Engine) liveSegment(id string) (*storage.Segment, error) {
	s, found, err := readSegment(e.db, id)
	if err != nil {
		return nil, err
	}
	if !found || s.DeletedAt != 0 {
		return nil, segmentNotFound(id)
	}
	return s, nil
}

func lockedError(id string) error {
	return InputError("", "segment %q is used by a running campaign and cannot be changed until the campaign finishes", id)
}

// checkSegmentText validates name and description.
func checkSegmentText(p *SegmentParams) error {
	if p.Name != nil {
		if n := utf8.RuneCountInString(*p.Name); n > MaxSegmentNameLength {
			return InputError("name", "name is %d characters long; the maximum is %d", n, MaxSegmentNameLength)
		}
	}
	if p.Description != nil {
		if n := utf8.RuneCountInString(*p.Description); n > MaxSegmentDescriptionLength {
			return InputError("description", "description is %d characters long; the maximum is %d", n, MaxSegmentDescriptionLength)
		}
	}
	return nil
}

// segmentFilter validates a filter for a segment of type typ and returns it as stored; nil for an
// absent, null or empty filter.
func segmentFilter(raw json.RawMessage, typ string) ([]byte, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	if t[0] != '{' {
		return nil, InputError("filter", "filter must be a JSON object like {\"team\":\"red\"}")
	}
	schema := filter.UserSchema
	if typ == storage.SegmentTypeChannel {
		schema = filter.ChannelSchema
	}
	f, err := filter.Compile(t, schema)
	if err != nil {
		return nil, FilterInputError("filter", err)
	}
	if f.IsEmpty() {
		return nil, nil
	}
	return bytes.Clone(t), nil
}

// checkSegmentKinds validates that at most one of filter, all_users and all_sender_channels is
// set and that each fits the segment type.
func checkSegmentKinds(s *storage.Segment) error {
	if s.AllUsers && s.Type != storage.SegmentTypeUser {
		return InputError("all_users", "all_users applies to user segments only; this segment's type is %q", s.Type)
	}
	if s.AllSenderChannels && s.Type != storage.SegmentTypeChannel {
		return InputError("all_sender_channels", "all_sender_channels applies to channel segments only; this segment's type is %q", s.Type)
	}
	var set []string
	if len(s.Filter) > 0 {
		set = append(set, "filter")
	}
	if s.AllUsers {
		set = append(set, "all_users")
	}
	if s.AllSenderChannels {
		set = append(set, "all_sender_channels")
	}
	if len(set) > 1 {
		return InputError(set[1], "%s are mutually exclusive; set only one of them", strings.Join(set, " and "))
	}
	return nil
}

// apply sets on s the fields p carries (absent ones keep s's values; a null or empty filter
// removes it) and checks the result's kind.
func (p *SegmentParams) apply(s *storage.Segment) error {
	setIfPresent(&s.Name, p.Name)
	setIfPresent(&s.Description, p.Description)
	if p.Filter != nil {
		f, err := segmentFilter(p.Filter, s.Type)
		if err != nil {
			return err
		}
		s.Filter = f
	}
	setIfPresent(&s.AllUsers, p.AllUsers)
	setIfPresent(&s.AllSenderChannels, p.AllSenderChannels)
	return checkSegmentKinds(s)
}

// CreateSegment creates a segment (POST /segments). A nil or empty ID gets a generated UUID.
// Filter and all_users segments are sized asynchronously.
func (e *Engine) CreateSegment(p *SegmentParams) (*Segment, error) {
	if p.Type == nil || *p.Type == "" {
		return nil, InputError("type", `type is required: "user" or "channel"`)
	}
	typ := *p.Type
	if typ != storage.SegmentTypeUser && typ != storage.SegmentTypeChannel {
		return nil, InputError("type", `type must be "user" or "channel", not %q`, typ)
	}
	id := ""
	if p.ID != nil {
		id = *p.ID
	}
	if id == "" {
		id = uuid.NewString()
	}
	if err := CheckID("id", id); err != nil {
		return nil, err
	}
	if err := checkSegmentText(p); err != nil {
		return nil, err
	}
	now := e.nowMicros()
	s := &storage.Segment{ID: id, Type: typ, CreatedAt: now, UpdatedAt: now, Generation: 1}
	if err := p.apply(s); err != nil {
		return nil, err
	}
	s.Computing = needsSizing(s)

	unlock := e.segments.locks.lockID(id)
	defer unlock()
	if _, exists, err := readSegment(e.db, id); err != nil {
		return nil, err
	} else if exists {
		return nil, InputError("id", "segment %q already exists; choose another id or omit it", id)
	}
	tx := e.NewTx()
	tx.B.PutSegment(s)
	if err := e.Commit(tx); err != nil {
		return nil, fmt.Errorf("cannot create segment %q: %w", id, err)
	}
	if s.Computing {
		e.segments.enqueue(id)
	}
	return &Segment{Segment: *s}, nil
}

// GetSegment returns segment id, or a 404 error when it does not exist or was deleted.
func (e *Engine) GetSegment(id string) (*Segment, error) {
	s, err := e.liveSegment(id)
	if err != nil {
		return nil, err
	}
	locked, err := storage.SegmentLocked(e.db, id)
	if err != nil {
		return nil, err
	}
	return &Segment{Segment: *s, Locked: locked}, nil
}

// UpdateSegment changes name, description and the definition (filter, all_users,
// all_sender_channels) of segment id (PUT /segments/{id}); absent fields keep their value, a null
// or empty filter removes the filter. A changed definition is sized again asynchronously.
func (e *Engine) UpdateSegment(id string, p *SegmentParams) (*Segment, error) {
	if err := checkSegmentText(p); err != nil {
		return nil, err
	}
	unlock := e.segments.locks.lockID(id)
	defer unlock()
	s, err := e.liveSegment(id)
	if err != nil {
		return nil, err
	}
	if p.Type != nil && *p.Type != "" && *p.Type != s.Type {
		return nil, InputError("type", "the type of a segment cannot be changed (it is %q)", s.Type)
	}
	if p.ID != nil && *p.ID != "" && *p.ID != id {
		return nil, InputError("id", "the id of a segment cannot be changed")
	}
	if locked, err := storage.SegmentLocked(e.db, id); err != nil {
		return nil, err
	} else if locked {
		return nil, lockedError(id)
	}
	wasStatic := isStatic(s)
	old := *s
	if err := p.apply(s); err != nil {
		return nil, err
	}
	defChanged := !bytes.Equal(old.Filter, s.Filter) || old.AllUsers != s.AllUsers || old.AllSenderChannels != s.AllSenderChannels
	tx := e.NewTx()
	if defChanged {
		if wasStatic && old.Size > 0 {
			tx.Discard()
			return nil, InputError("filter", "segment %q has %d targets; a segment with targets cannot become dynamic: delete its targets first", id, old.Size)
		}
		// Whatever was stored for the old definition no longer applies.
		bitmap.Delete(tx.B, storage.SegmentBits(id))
		s.Generation++
		s.Size = 0
		s.Computing = needsSizing(s)
	}
	s.UpdatedAt = e.nowMicros()
	tx.B.PutSegment(s)
	if err := e.Commit(tx); err != nil {
		return nil, fmt.Errorf("cannot update segment %q: %w", id, err)
	}
	if s.Computing {
		e.segments.enqueue(id)
	}
	return &Segment{Segment: *s}, nil
}

// DeleteSegment soft-deletes segment id: it leaves querySegments results and cannot be used by
// new campaigns; its targets are kept.
func (e *Engine) DeleteSegment(id string) error {
	unlock := e.segments.locks.lockID(id)
	defer unlock()
	s, err := e.liveSegment(id)
	if err != nil {
		return err
	}
	if locked, err := storage.SegmentLocked(e.db, id); err != nil {
		return err
	} else if locked {
		return lockedError(id)
	}
	now := e.nowMicros()
	s.DeletedAt = now
	s.UpdatedAt = now
	s.Computing = false
	tx := e.NewTx()
	tx.B.PutSegment(s)
	if err := e.Commit(tx); err != nil {
		return fmt.Errorf("cannot delete segment %q: %w", id, err)
	}
	return nil
}

// checkTargets validates the target ids of an addtargets/deletetargets call.
func checkTargets(typ string, ids []string) error {
	if len(ids) == 0 {
		return InputError("target_ids", "target_ids must hold between 1 and %d ids", MaxTargetsPerCall)
	}
	if len(ids) > MaxTargetsPerCall {
		return InputError("target_ids", "target_ids holds %d ids; the maximum per call is %d", len(ids), MaxTargetsPerCall)
	}
	for _, id := range ids {
		if err := CheckID("target_ids", id); err != nil {
			return err
		}
		if typ == storage.SegmentTypeChannel {
			i := strings.IndexByte(id, ':')
			if i <= 0 || i == len(id)-1 {
				return InputError("target_ids", "channel segment targets are cids like \"messaging:general\", not %q", id)
			}
		}
	}
	return nil
}

func (e *Engine) interner(typ string) *storage.Interner {
	if typ == storage.SegmentTypeChannel {
		return e.db.Channels
	}
	return e.db.Users
}

// targetPair is one target of a request: its ordinal and id.
type targetPair struct {
	ord uint32
	id  string
}

// pairTargets sorts (ord, id) pairs by ordinal, dropping duplicates and ordinal 0 (unknown).
func pairTargets(ords []uint32, ids []string) []targetPair {
	ps := make([]targetPair, 0, len(ids))
	for i, id := range ids {
		if ords[i] != 0 {
			ps = append(ps, targetPair{ord: ords[i], id: id})
		}
	}
	slices.SortFunc(ps, func(a, b targetPair) int { return cmp.Compare(a.ord, b.ord) })
	return slices.CompactFunc(ps, func(a, b targetPair) bool { return a.ord == b.ord })
}

// targetsSegment locks segment id's stripe and returns the segment when its targets may change:
// it exists, is static and is not locked by a running campaign. On success the caller must call
// the returned unlock; on error nothing is held.
func (e *Engine) targetsSegment(id string) (*storage.Segment, func(), error) {
	unlock := e.segments.locks.lockID(id)
	s, err := e.liveSegment(id)
	if err == nil && !isStatic(s) {
		err = InputError("target_ids", "segment %q is dynamic (%s); only static segments have targets", id, segmentKind(s))
	}
	if err == nil {
		var locked bool
		if locked, err = storage.SegmentLocked(e.db, id); err == nil && locked {
			err = lockedError(id)
		}
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return s, unlock, nil
}

func segmentKind(s *storage.Segment) string {
	switch {
	case len(s.Filter) > 0:
		return "filter"
	case s.AllUsers:
		return "all_users"
	case s.AllSenderChannels:
		return "all_sender_channels"
	}
	return "static"
}

// AddSegmentTargets adds 1..MaxTargetsPerCall targets to static segment id: user ids for user
// segments, cids for channel segments. Ids that name no known user or channel yet are accepted as
// pending targets: kept by id only, not interned (so ids that never become users cost no memory),
// looked up when a campaign's audience is frozen. Targets already present keep their created_at.
// The size is updated in place.
func (e *Engine) AddSegmentTargets(id string, targetIDs []string) error {
	return e.changeTargets(id, targetIDs, true)
}

// DeleteSegmentTargets removes targets from static segment id; absent ones are ignored.
func (e *Engine) DeleteSegmentTargets(id string, targetIDs []string) error {
	return e.changeTargets(id, targetIDs, false)
}

// changeTargets adds (add) or removes targetIDs of static segment id: the bitmap containers they
// touch (targets interned already), the pending targets (the others), their index entries and the
// size change in one Tx, under the segment's stripe.
func (e *Engine) changeTargets(id string, targetIDs []string, add bool) error {
	verb := "delete targets of"
	if add {
		verb = "add targets to"
	}
	s0, err := e.liveSegment(id)
	if err != nil {
		return err
	}
	if err := checkTargets(s0.Type, targetIDs); err != nil {
		return err
	}
	ords, err := e.interner(s0.Type).LookupMany(make([]uint32, 0, len(targetIDs)), targetIDs)
	if err != nil {
		return fmt.Errorf("cannot %s segment %q: %w", verb, id, err)
	}
	pairs := pairTargets(ords, targetIDs)
	var pending []string // targets not interned
	for i, t := range targetIDs {
		if ords[i] == 0 {
			pending = append(pending, t)
		}
	}
	slices.Sort(pending)
	pending = slices.Compact(pending)

	s, unlock, err := e.targetsSegment(id)
	if err != nil {
		return err
	}
	defer unlock()
	if len(pairs) == 0 && len(pending) == 0 {
		return nil
	}
	sorted := make([]uint32, len(pairs))
	for i := range pairs {
		sorted[i] = pairs[i].ord
	}
	tx := e.NewTx()
	change := bitmap.RemoveTx
	if add {
		change = bitmap.AddTx
	}
	changed, err := change(tx.B, storage.SegmentBits(id), sorted, nil)
	if err != nil {
		tx.Discard()
		return fmt.Errorf("cannot %s segment %q: %w", verb, id, err)
	}
	// Interned targets that the bitmap did not have (add) or had not (delete) may be pending ones
	// added before they became users or channels.
	var others []string
	j := 0
	for i := range pairs {
		if j < len(changed) && changed[j] == pairs[i].ord {
			j++
		} else {
			others = append(others, pairs[i].id)
		}
	}
	slices.Sort(others)
	othersPending, err := storage.PendingAmong(tx.B, id, others)
	if err != nil {
		tx.Discard()
		return err
	}
	now := e.nowMicros()
	var delta int64
	if add {
		// NB: a newly interned target that was pending keeps its entry and created_at: it only
		// moves from the pending keys to the bitmap.
		changedIDs := make([]string, 0, len(changed))
		j = 0
		for _, ord := range changed {
			for pairs[j].ord != ord {
				j++
			}
			changedIDs = append(changedIDs, pairs[j].id)
		}
		slices.Sort(changedIDs)
		wasPending, err := storage.PendingAmong(tx.B, id, changedIDs)
		if err != nil {
			tx.Discard()
			return err
		}
		for i, t := range changedIDs {
			if wasPending[i] {
				tx.B.DeleteSegmentPending(id, t)
				continue
			}
			tx.B.PutSegmentTarget(id, t, now)
			delta++
		}
		for _, t := range pending {
			if _, found, err := storage.SegmentTargetAddedAt(tx.B, id, t); err != nil {
				tx.Discard()
				return err
			} else if !found {
				tx.B.PutSegmentTarget(id, t, now)
				tx.B.PutSegmentPending(id, t)
				delta++
			}
		}
	} else {
		j = 0
		for _, ord := range changed {
			for pairs[j].ord != ord {
				j++
			}
			tx.B.DeleteSegmentTarget(id, pairs[j].id)
			delta--
		}
		for i, t := range others {
			if othersPending[i] {
				tx.B.DeleteSegmentTarget(id, t)
				tx.B.DeleteSegmentPending(id, t)
				delta--
			}
		}
		for _, t := range pending {
			if _, found, err := storage.SegmentTargetAddedAt(tx.B, id, t); err != nil {
				tx.Discard()
				return err
			} else if found {
				tx.B.DeleteSegmentTarget(id, t)
				tx.B.DeleteSegmentPending(id, t)
				delta--
			}
		}
	}
	if delta == 0 && len(changed) == 0 {
		tx.Discard()
		return nil
	}
	if delta < 0 && uint64(-delta) > s.Size {
		panic(fmt.Sprintf("BUG: segment %q: removing %d targets from %d", id, -delta, s.Size))
	}
	s.Size = uint64(int64(s.Size) + delta)
	s.UpdatedAt = now
	tx.B.PutSegment(s)
	if err := e.Commit(tx); err != nil {
		return fmt.Errorf("cannot %s segment %q: %w", verb, id, err)
	}
	return nil
}

// SegmentTargetExists reports, as an error, whether targetID is in segment id: nil when it is,
// a 404 error when it is not or when the segment does not exist. Static segments answer from
// their targets, filter segments from their last computed targets, all_users segments from the
// users; all_sender_channels segments have no targets without a sender.
func (e *Engine) SegmentTargetExists(id, targetID string) error {
	s, err := e.liveSegment(id)
	if err != nil {
		return err
	}
	notIn := NotFoundError("Can't find target %q in segment %q", targetID, id)
	switch {
	case isStatic(s):
		_, ok, err := storage.SegmentTargetAddedAt(e.db, id, targetID)
		if err != nil {
			return err
		}
		if !ok {
			return notIn
		}
		return nil
	case len(s.Filter) > 0:
		ord, ok := e.interner(s.Type).Lookup(targetID)
		if !ok {
			return notIn
		}
		in, err := bitmap.Contains(e.db, storage.SegmentBits(id), ord)
		if err != nil {
			return fmt.Errorf("cannot read targets of segment %q: %w", id, err)
		}
		if !in {
			return notIn
		}
		return nil
	case s.AllUsers:
		if _, found, err := e.GetUser(targetID); err != nil {
			return err
		} else if !found {
			return notIn
		}
		return nil
	}
	return notIn
}

// LockSegments records in tx that campaign campaignID uses the segments ids (they become locked:
// true and cannot be changed or deleted) and checks, through tx, that each exists and is not
// deleted (400 code 4 naming the first that is not). The lock takes effect when tx commits.
//
// NB: locks are separate keys, not part of the segment record, so that a campaign's batch never
// overwrites a segment change committed meanwhile. A segment change racing with the commit of a
// lock may still land; the audience is frozen by ResolveAudience anyway.
func (e *Engine) LockSegments(tx *Tx, ids []string, campaignID string) error {
	for _, id := range ids {
		s, found, err := readSegment(tx.B, id)
		if err != nil {
			return err
		}
		if !found || s.DeletedAt != 0 {
			return InputError("segment_ids", "segment %q does not exist", id)
		}
		tx.B.LockSegment(id, campaignID)
	}
	return nil
}

// UnlockSegments records in tx that campaign campaignID no longer uses the segments ids.
// Segments that are missing or not locked by the campaign are ignored.
func (e *Engine) UnlockSegments(tx *Tx, ids []string, campaignID string) {
	for _, id := range ids {
		tx.B.UnlockSegment(id, campaignID)
	}
}
