package wire

import (
	"encoding/json"
	"strconv"

	"github.com/campaignd/campaignd/engine"
)

// Segments and their targets: SegmentResponse, SegmentTargetResponse, the replies and request
// bodies of the segment endpoints, and the query body they share with campaigns.

// AppendSegment appends s as a SegmentResponse.
func (Legacy) AppendSegment(dst []byte, s *engine.Segment) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, s.ID)
	dst = append(dst, `,"type":`...)
	dst = AppendString(dst, s.Type)
	dst = append(dst, `,"name":`...)
	dst = AppendString(dst, s.Name)
	dst = append(dst, `,"description":`...)
	dst = AppendString(dst, s.Description)
	dst = append(dst, `,"filter":`...)
	dst = appendRawOr(dst, s.Filter, "{}")
	dst = append(dst, `,"all_users":`...)
	dst = appendBool(dst, s.AllUsers)
	dst = append(dst, `,"all_sender_channels":`...)
	dst = appendBool(dst, s.AllSenderChannels)
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendUint(dst, s.Size, 10)
	dst = append(dst, `,"locked":`...)
	dst = appendBool(dst, s.Locked)
	if s.TaskID != "" {
		dst = append(dst, `,"task_id":`...)
		dst = AppendString(dst, s.TaskID)
	}
	dst = append(dst, `,"created_at":`...)
	dst = appendNanos(dst, s.CreatedAt)
	dst = append(dst, `,"updated_at":`...)
	dst = appendNanos(dst, s.UpdatedAt)
	if s.DeletedAt != 0 {
		dst = append(dst, `,"deleted_at":`...)
		dst = appendNanos(dst, s.DeletedAt)
	}
	return append(dst, '}')
}

// AppendSegmentReply appends the reply of create, get and update segment: {"segment": ...}.
func (l Legacy) AppendSegmentReply(dst []byte, s *engine.Segment) []byte {
	dst = append(dst, `{"segment":`...)
	dst = l.AppendSegment(dst, s)
	return append(dst, '}')
}

// AppendSegmentsPage appends the reply of POST /segments/query: {"segments": [...], "next"?,
// "prev"?}.
func (l Legacy) AppendSegmentsPage(dst []byte, page *engine.SegmentsPage) []byte {
	dst = append(dst, `{"segments":[`...)
	for i, s := range page.Segments {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = l.AppendSegment(dst, s)
	}
	dst = append(dst, ']')
	dst = appendCursors(dst, page.Next, page.Prev)
	return append(dst, '}')
}

// AppendTarget appends t, a target of segment segmentID, as a SegmentTargetResponse.
func (Legacy) AppendTarget(dst []byte, segmentID string, t *engine.SegmentTarget) []byte {
	dst = append(dst, `{"segment_id":`...)
	dst = AppendString(dst, segmentID)
	dst = append(dst, `,"target_id":`...)
	dst = AppendString(dst, t.TargetID)
	dst = append(dst, `,"created_at":`...)
	dst = appendNanos(dst, t.CreatedAt)
	return append(dst, '}')
}

// AppendTargetsPage appends the reply of POST /segments/{id}/targets/query: {"targets": [...],
// "next"?, "prev"?}.
func (l Legacy) AppendTargetsPage(dst []byte, segmentID string, page *engine.TargetsPage) []byte {
	dst = append(dst, `{"targets":[`...)
	for i := range page.Targets {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = l.AppendTarget(dst, segmentID, &page.Targets[i])
	}
	dst = append(dst, ']')
	dst = appendCursors(dst, page.Next, page.Prev)
	return append(dst, '}')
}

// segmentBody is the JSON of a segment request.
type segmentBody struct {
	ID                *string         `json:"id"`
	Type              *string         `json:"type"`
	Name              *string         `json:"name"`
	Description       *string         `json:"description"`
	Filter            json.RawMessage `json:"filter"`
	AllUsers          *bool           `json:"all_users"`
	AllSenderChannels *bool           `json:"all_sender_channels"`
}

// DecodeSegment decodes the body of POST /segments and PUT /segments/{id}. The filter comes out
// compact ("null" when null, nil when absent).
func (Legacy) DecodeSegment(body []byte) (*engine.SegmentParams, error) {
	var b segmentBody
	if err := decodeBody(body, &b); err != nil {
		return nil, err
	}
	filter, err := compactRaw("filter", b.Filter)
	if err != nil {
		return nil, err
	}
	return &engine.SegmentParams{
		ID: b.ID, Type: b.Type, Name: b.Name, Description: b.Description, Filter: filter,
		AllUsers: b.AllUsers, AllSenderChannels: b.AllSenderChannels,
	}, nil
}

// DecodeTargetIDs decodes the body of addtargets and deletetargets: {"target_ids": [...]}.
func (Legacy) DecodeTargetIDs(body []byte) ([]string, error) {
	var b struct {
		TargetIDs []string `json:"target_ids"`
	}
	if err := decodeBody(body, &b); err != nil {
		return nil, err
	}
	return b.TargetIDs, nil
}

// queryBody is the JSON of a query (segments, targets, campaigns). The OpenAPI spells Filter and
// Sort with capitals; encoding/json matches keys case-insensitively, so both spellings decode.
type queryBody struct {
	Filter json.RawMessage `json:"filter"`
	Sort   json.RawMessage `json:"sort"`
	Limit  *int            `json:"limit"`
	Next   string          `json:"next"`
	Prev   string          `json:"prev"`
}

func (b *queryBody) params() *engine.QueryParams {
	return &engine.QueryParams{Filter: b.Filter, Sort: b.Sort, Limit: b.Limit, Next: b.Next, Prev: b.Prev}
}

// DecodeQuery decodes the body of POST /segments/query and POST /segments/{id}/targets/query:
// {"filter", "sort", "limit", "next", "prev"}, every key optional; an empty body is the default
// query.
func (Legacy) DecodeQuery(body []byte) (*engine.QueryParams, error) {
	var b queryBody
	if len(body) > 0 {
		if err := decodeBody(body, &b); err != nil {
			return nil, err
		}
	}
	return b.params(), nil
}

// compactRaw returns raw compacted; nil stays nil (absent) and null stays "null".
func compactRaw(field string, raw json.RawMessage) (json.RawMessage, error) {
	if raw == nil {
		return nil, nil
	}
	b, err := AppendCompact(nil, raw)
	if err != nil {
		return nil, engine.InputError(field, "%s is not valid JSON: %s", field, err)
	}
	return b, nil
}
