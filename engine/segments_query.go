package engine

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

// SegmentTarget is one target of a static segment.
type SegmentTarget struct {
	TargetID  string
	CreatedAt int64 // unix nanos
}

// Field implements filter.Doc for SegmentTargetSchema.
func (t *SegmentTarget) Field(name string) (filter.Value, bool) {
	switch name {
	case "target_id":
		return filter.StringValue(t.TargetID), true
	case "created_at":
		return filter.TimeValue(t.CreatedAt), true
	}
	return filter.Value{}, false
}

// TargetsPage is one page of QuerySegmentTargets. Next and Prev are empty when there is no such
// page.
type TargetsPage struct {
	Targets []SegmentTarget
	Next    string
	Prev    string
}

// Target cursors: base64url of <kind 'n'|'p'><sort direction '+'|'-'><boundary target id>.
// A next cursor continues after its boundary in sort order, a prev cursor returns the page that
// ends just before it.

func encodeTargetCursor(kind byte, asc bool, boundary string) string {
	b := make([]byte, 0, 2+len(boundary))
	dir := byte('-')
	if asc {
		dir = '+'
	}
	b = append(append(b, kind, dir), boundary...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeTargetCursor decodes a target cursor of the given kind ('n' or 'p') made for sort
// direction asc and returns its boundary target id.
func DecodeTargetCursor(field, c string, kind byte, asc bool) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != kind || (b[1] != '+' && b[1] != '-') {
		return "", InputError(field, "%s is not a cursor returned by this query; pass the %s value of the previous reply unchanged", field, field)
	}
	if (b[1] == '+') != asc {
		return "", InputError(field, "%s was returned for the other sort direction; query with the same sort", field)
	}
	return string(b[2:]), nil
}

// targetBounds is a key range of a segment's target index, as target ids.
type targetBounds struct {
	lo, hi       string
	hasLo, hasHi bool
	loExcl       bool // lo itself excluded
	hiIncl       bool // hi itself included
}

func (tb *targetBounds) lower(v string, excl bool) {
	if !tb.hasLo || v > tb.lo || v == tb.lo && excl {
		tb.lo, tb.hasLo, tb.loExcl = v, true, excl
	}
}

func (tb *targetBounds) upper(v string, incl bool) {
	if !tb.hasHi || v < tb.hi || v == tb.hi && !incl {
		tb.hi, tb.hasHi, tb.hiIncl = v, true, incl
	}
}

// pushTargetBounds narrows tb by the top-level target_id range operators of the filter raw, so
// that the scan reads only the keys that can match; the compiled filter still decides.
func pushTargetBounds(raw []byte, tb *targetBounds) {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return
	}
	var ops map[string]json.RawMessage
	if json.Unmarshal(top["target_id"], &ops) != nil {
		return
	}
	for op, v := range ops {
		var s string
		if json.Unmarshal(v, &s) != nil {
			continue
		}
		switch op {
		case "$gt":
			tb.lower(s, true)
		case "$gte":
			tb.lower(s, false)
		case "$lt":
			tb.upper(s, false)
		case "$lte":
			tb.upper(s, true)
		}
	}
}

// QuerySegmentTargets returns one page of the targets of static segment id whose target_id and
// created_at match q.Filter, sorted by target_id (ascending unless q.Sort says -1).
func (e *Engine) QuerySegmentTargets(id string, q *QueryParams) (*TargetsPage, error) {
	s, err := e.liveSegment(id)
	if err != nil {
		return nil, err
	}
	if !isStatic(s) {
		return nil, InputError("", "segment %q is dynamic (%s); only the targets of static segments can be queried", id, segmentKind(s))
	}
	f, err := filter.Compile(q.Filter, filter.SegmentTargetSchema)
	if err != nil {
		return nil, FilterInputError("filter", err)
	}
	sorts, err := filter.ParseSort(q.Sort, filter.SegmentTargetSchema)
	if err != nil {
		return nil, FilterInputError("sort", err)
	}
	asc := true
	for i, sf := range sorts {
		if sf.Field != "target_id" || i > 0 {
			return nil, InputError("sort", "targets can be sorted by target_id only")
		}
		asc = sf.Direction == 1
	}
	limit, err := q.limit(DefaultTargetsQueryLimit, MaxTargetsQueryLimit)
	if err != nil {
		return nil, err
	}
	if err := q.checkPageCursors(); err != nil {
		return nil, err
	}
	var tb targetBounds
	pushTargetBounds(q.Filter, &tb)
	pinned, isPinned := f.IDs("target_id")
	ts := targetScan{e: e, id: id, f: f, tb: tb, pinned: pinned, isPinned: isPinned}

	page := &TargetsPage{}
	switch {
	case q.Prev != "":
		boundary, err := DecodeTargetCursor("prev", q.Prev, 'p', asc)
		if err != nil {
			return nil, err
		}
		// The page before the boundary: scan against the sort order, then flip.
		items, err := ts.scan(!asc, boundary, true, limit+1)
		if err != nil {
			return nil, err
		}
		more := len(items) > limit
		if more {
			items = items[:limit]
		}
		slices.Reverse(items)
		page.Targets = items
		if len(items) > 0 {
			if more {
				page.Prev = encodeTargetCursor('p', asc, items[0].TargetID)
			}
			if after, err := ts.scan(asc, items[len(items)-1].TargetID, true, 1); err != nil {
				return nil, err
			} else if len(after) > 0 {
				page.Next = encodeTargetCursor('n', asc, items[len(items)-1].TargetID)
			}
		}
	default:
		boundary, hasBoundary := "", false
		if q.Next != "" {
			if boundary, err = DecodeTargetCursor("next", q.Next, 'n', asc); err != nil {
				return nil, err
			}
			hasBoundary = true
		}
		items, err := ts.scan(asc, boundary, hasBoundary, limit+1)
		if err != nil {
			return nil, err
		}
		if len(items) > limit {
			items = items[:limit]
			page.Next = encodeTargetCursor('n', asc, items[len(items)-1].TargetID)
		}
		page.Targets = items
		if hasBoundary && len(items) > 0 {
			if before, err := ts.scan(!asc, items[0].TargetID, true, 1); err != nil {
				return nil, err
			} else if len(before) > 0 {
				page.Prev = encodeTargetCursor('p', asc, items[0].TargetID)
			}
		}
	}
	return page, nil
}

type targetScan struct {
	e        *Engine
	id       string // the segment
	f        *filter.Filter
	tb       targetBounds
	pinned   []string
	isPinned bool
}

// scan returns up to n matching targets in ascending (asc) or descending target id order,
// strictly after boundary in that order when hasBoundary.
func (ts *targetScan) scan(asc bool, boundary string, hasBoundary bool, n int) ([]SegmentTarget, error) {
	tb := ts.tb
	if hasBoundary {
		if asc {
			tb.lower(boundary, true)
		} else {
			tb.upper(boundary, false)
		}
	}
	var out []SegmentTarget
	if ts.isPinned {
		ids := slices.Clone(ts.pinned)
		slices.Sort(ids)
		if !asc {
			slices.Reverse(ids)
		}
		for _, id := range ids {
			if len(out) == n {
				break
			}
			if tb.hasLo && (id < tb.lo || id == tb.lo && tb.loExcl) || tb.hasHi && (id > tb.hi || id == tb.hi && !tb.hiIncl) {
				continue
			}
			addedAt, found, err := storage.SegmentTargetAddedAt(ts.e.db, ts.id, id)
			if err != nil {
				return nil, err
			}
			if t := (SegmentTarget{TargetID: id, CreatedAt: addedAt}); found && ts.f.Match(&t) {
				out = append(out, t)
			}
		}
		return out, nil
	}

	// The range [from, to) of target ids; "\x00" after an id is the next string.
	from, to := "", ""
	if tb.hasLo {
		from = tb.lo
		if tb.loExcl {
			from += "\x00"
		}
	}
	if tb.hasHi {
		to = tb.hi
		if tb.hiIncl {
			to += "\x00"
		}
		if to == "" {
			return nil, nil // below every target id
		}
	}
	err := storage.ScanSegmentTargets(ts.e.db, ts.id, from, to, !asc, func(target string, addedAt int64) bool {
		if t := (SegmentTarget{TargetID: target, CreatedAt: addedAt}); ts.f.Match(&t) {
			out = append(out, t)
		}
		return len(out) < n
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Field implements filter.Doc over filter.SegmentSchema.
func (s *Segment) Field(name string) (filter.Value, bool) {
	switch name {
	case "id":
		return filter.StringValue(s.ID), true
	case "name":
		return filter.StringValue(s.Name), true
	case "type":
		return filter.StringValue(s.Type), true
	case "all_users":
		return filter.BoolValue(s.AllUsers), true
	case "created_at":
		return filter.TimeValue(s.CreatedAt), true
	case "updated_at":
		return filter.TimeValue(s.UpdatedAt), true
	}
	return filter.Value{}, false
}

func (s *Segment) queryID() string { return s.ID }

// SegmentsPage is one page of QuerySegments.
type SegmentsPage struct {
	Segments []*Segment
	Next     string
	Prev     string
}

// QuerySegments returns one page of the live (not deleted) segments matching q.Filter (fields id,
// name, type, all_users, created_at, updated_at), sorted by q.Sort (default: created_at
// descending), ties broken by id.
func (e *Engine) QuerySegments(q *QueryParams) (*SegmentsPage, error) {
	rq, err := parseRecordQuery(q, filter.SegmentSchema, DefaultSegmentsQueryLimit, MaxSegmentsQueryLimit)
	if err != nil {
		return nil, err
	}
	var all []*Segment
	consider := func(s *storage.Segment) {
		if s.DeletedAt != 0 {
			return
		}
		seg := &Segment{Segment: *s}
		if rq.filter.Match(seg) {
			all = append(all, seg)
		}
	}
	if ids, ok := rq.filter.IDs("id"); ok {
		for _, id := range ids {
			s, found, err := readSegment(e.db, id)
			if err != nil {
				return nil, err
			}
			if found {
				consider(s)
			}
		}
	} else if err := storage.ScanSegments(e.db, func(s *storage.Segment) error { consider(s); return nil }); err != nil {
		return nil, fmt.Errorf("cannot query segments: %w", err)
	}
	page := &SegmentsPage{}
	page.Segments, page.Next, page.Prev = pageOf(rq, all)
	for _, s := range page.Segments {
		if s.Locked, err = storage.SegmentLocked(e.db, s.ID); err != nil {
			return nil, err
		}
	}
	return page, nil
}
