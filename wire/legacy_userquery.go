package wire

import (
	"bytes"
	"encoding/json"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/engine/filter"
)

// DecodeUserQuery decodes the JSON payload of GET /users: filter_conditions (compiled against
// filter.UserSchema), sort, limit (default engine.DefaultUsersLimit, at most
// engine.MaxUsersLimit), offset (at most engine.MaxUsersOffset), include_deactivated_users.
// presence is accepted and ignored. Mistakes are code-4 errors naming the field.
func (Legacy) DecodeUserQuery(payload []byte) (*engine.UserQuery, error) {
	if len(bytes.TrimSpace(payload)) == 0 {
		return nil, engine.InputError("payload", "the \"payload\" query parameter is missing; send the query as URL-encoded JSON")
	}
	var p struct {
		FilterConditions        json.RawMessage `json:"filter_conditions"`
		Sort                    json.RawMessage `json:"sort"`
		Limit                   *int            `json:"limit"`
		Offset                  *int            `json:"offset"`
		IncludeDeactivatedUsers *bool           `json:"include_deactivated_users"`
		Presence                *bool           `json:"presence"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, jsonInputError("payload", "the payload", err)
	}
	q := &engine.UserQuery{Limit: engine.DefaultUsersLimit}
	f, err := filter.Compile(p.FilterConditions, filter.UserSchema)
	if err != nil {
		return nil, engine.FilterInputError("filter_conditions", err)
	}
	q.Filter = f
	if q.Sort, err = filter.ParseSort(p.Sort, filter.UserSchema); err != nil {
		return nil, engine.FilterInputError("sort", err)
	}
	if p.Limit != nil {
		switch l := *p.Limit; {
		case l < 0:
			return nil, engine.InputError("limit", "limit must not be negative")
		case l > engine.MaxUsersLimit:
			return nil, engine.InputError("limit", "limit is %d; the maximum is %d", l, engine.MaxUsersLimit)
		case l > 0:
			q.Limit = l
		}
	}
	if p.Offset != nil {
		switch o := *p.Offset; {
		case o < 0:
			return nil, engine.InputError("offset", "offset must not be negative")
		case o > engine.MaxUsersOffset:
			return nil, engine.InputError("offset", "offset is %d; the maximum is %d", o, engine.MaxUsersOffset)
		default:
			q.Offset = o
		}
	}
	if p.IncludeDeactivatedUsers != nil {
		q.IncludeDeactivated = *p.IncludeDeactivatedUsers
	}
	return q, nil
}
