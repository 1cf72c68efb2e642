package engine

import (
	"fmt"

	"github.com/campaignd/campaignd/bitmap"
	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

// ResolveAudience computes a campaign's audience now: the union of the segments segmentIDs
// (static targets; filter segments evaluated against the users or channels as they are now;
// all_users = every live user; all_sender_channels = the channels senderID is a member of) and
// of the users userIDs, without duplicates. For user audiences the sender is removed; user ids
// that were never seen are skipped (static segment targets that are not users yet are kept: the
// fan-out skips ordinals without a live user). Iterate the result with ForEachChunk, ascending.
//
// Errors (400 code 4, field segment_ids): a segment that does not exist or was deleted, segments
// mixing user and channel types, user_ids given with channel segments, nothing to resolve.
// ResolveAudience only reads; callers store the result with bitmap.Store to freeze it.
func (e *Engine) ResolveAudience(segmentIDs, userIDs []string, senderID string) (*bitmap.Bitmap, storage.AudienceKind, error) {
	if len(segmentIDs) == 0 && len(userIDs) == 0 {
		return nil, 0, InputError("segment_ids", "an audience needs segment_ids or user_ids")
	}
	segs, kind, err := e.campaignSegments(segmentIDs, len(userIDs) > 0)
	if err != nil {
		return nil, 0, err
	}
	aud, err := e.resolveAudience(segs, kind, userIDs, senderID)
	return aud, kind, err
}

// resolveAudience is ResolveAudience of segment records segs (none deleted, all of kind).
func (e *Engine) resolveAudience(segs []*storage.Segment, kind storage.AudienceKind, userIDs []string, senderID string) (*bitmap.Bitmap, error) {
	var (
		parts    []*bitmap.Bitmap
		filters  []*filter.Filter
		allUsers bool
		senders  bool
		chanRaws [][]byte
		static   []storage.Bits // static segments' targets
	)
	for _, s := range segs {
		switch {
		case s.AllUsers:
			allUsers = true
		case s.AllSenderChannels:
			senders = true
		case len(s.Filter) > 0 && kind == storage.AudienceUsers:
			f, err := filter.Compile(s.Filter, filter.UserSchema)
			if err != nil {
				return nil, fmt.Errorf("cannot compile the stored filter of segment %q: %w", s.ID, err)
			}
			filters = append(filters, f)
		case len(s.Filter) > 0:
			chanRaws = append(chanRaws, s.Filter)
		default:
			static = append(static, storage.SegmentBits(s.ID))
		}
	}
	if len(static) > 0 {
		// One pass over every static segment's containers, whatever their overlap.
		bm, err := bitmap.LoadUnion(e.db, static)
		if err != nil {
			return nil, fmt.Errorf("cannot load segment targets: %w", err)
		}
		parts = append(parts, bm)
	}

	if allUsers || len(filters) > 0 {
		bm, err := e.matchUsers(filters, allUsers, nil)
		if err != nil {
			return nil, fmt.Errorf("cannot evaluate user segments: %w", err)
		}
		parts = append(parts, bm)
	}
	for _, raw := range chanRaws {
		bm, err := e.matchChannels(raw, nil)
		if err != nil {
			return nil, fmt.Errorf("cannot evaluate channel segments: %w", err)
		}
		parts = append(parts, bm)
	}
	if senders {
		bm, err := e.senderChannels(senderID)
		if err != nil {
			return nil, err
		}
		parts = append(parts, bm)
	}
	if len(userIDs) > 0 {
		bm := bitmap.New()
		for _, id := range userIDs {
			if ord, ok := e.db.Users.Lookup(id); ok {
				bm.Add(ord)
			}
		}
		parts = append(parts, bm)
	}
	aud := bitmap.Union(parts...)
	aud.Remove(0)
	if kind == storage.AudienceUsers {
		if ord, ok := e.db.Users.Lookup(senderID); ok {
			aud.Remove(ord)
		}
	}
	return aud, nil
}

// senderChannels returns the channels user senderID is a member of.
func (e *Engine) senderChannels(senderID string) (*bitmap.Bitmap, error) {
	bm := bitmap.New()
	ord, ok := e.db.Users.Lookup(senderID)
	if !ok {
		return bm, nil
	}
	err := storage.ScanUserChannels(e.db, ord, func(ch uint32) bool {
		bm.Add(ch)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read the channels of %q: %w", senderID, err)
	}
	return bm, nil
}
