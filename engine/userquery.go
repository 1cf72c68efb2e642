package engine

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

// Query users limits (GET /users), Stream's.
const (
	DefaultUsersLimit = 30
	MaxUsersLimit     = 100
	MaxUsersOffset    = 1000
)

// UserQuery is a parsed GET /users payload.
type UserQuery struct {
	Filter *filter.Filter
	// Sort is the requested order; empty means created_at ascending. Ties break by id ascending.
	Sort               []filter.SortField
	Limit, Offset      int
	IncludeDeactivated bool
}

// defaultUserSort is the order of a query without a sort.
var defaultUserSort = []filter.SortField{{Field: "created_at", Source: "created_at", Kind: filter.KindTime, Direction: 1}}

// ParseUserQuery parses the JSON payload of GET /users: filter_conditions (compiled against
// filter.UserSchema), sort, limit (default DefaultUsersLimit, at most MaxUsersLimit), offset (at
// most MaxUsersOffset), include_deactivated_users. presence is accepted and ignored. Mistakes are
// code-4 errors naming the field.
func ParseUserQuery(payload []byte) (*UserQuery, error) {
	if len(bytes.TrimSpace(payload)) == 0 {
		return nil, InputError("payload", "the \"payload\" query parameter is missing; send the query as URL-encoded JSON")
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
		return nil, JSONInputError("payload", "the payload", err)
	}
	q := &UserQuery{Limit: DefaultUsersLimit}
	f, err := filter.Compile(p.FilterConditions, filter.UserSchema)
	if err != nil {
		return nil, filterInputError("filter_conditions", err)
	}
	q.Filter = f
	if q.Sort, err = filter.ParseSort(p.Sort, filter.UserSchema); err != nil {
		return nil, filterInputError("sort", err)
	}
	if p.Limit != nil {
		switch l := *p.Limit; {
		case l < 0:
			return nil, InputError("limit", "limit must not be negative")
		case l > MaxUsersLimit:
			return nil, InputError("limit", "limit is %d; the maximum is %d", l, MaxUsersLimit)
		case l > 0:
			q.Limit = l
		}
	}
	if p.Offset != nil {
		switch o := *p.Offset; {
		case o < 0:
			return nil, InputError("offset", "offset must not be negative")
		case o > MaxUsersOffset:
			return nil, InputError("offset", "offset is %d; the maximum is %d", o, MaxUsersOffset)
		default:
			q.Offset = o
		}
	}
	if p.IncludeDeactivatedUsers != nil {
		q.IncludeDeactivated = *p.IncludeDeactivatedUsers
	}
	return q, nil
}

// QueryUsers returns the live users matching q, in q's order, after skipping q.Offset, at most
// q.Limit. A filter pinning "id" ($eq/$in) reads just those users; anything else scans every
// user once, keeping only the best Offset+Limit in memory. The returned users are owned by the
// caller.
func (e *Engine) QueryUsers(q *UserQuery) ([]storage.User, error) {
	order := q.Sort
	if len(order) == 0 {
		order = defaultUserSort
	}
	h := &userHeap{order: order, k: q.Offset + q.Limit}
	if h.k == 0 {
		return nil, nil
	}
	visit := func(ord uint32, u *storage.User) bool {
		if u.DeactivatedAt != 0 && !q.IncludeDeactivated {
			return true
		}
		if !q.Filter.IsEmpty() && !q.Filter.Match((*UserDoc)(u)) {
			return true
		}
		h.offer(u)
		return true
	}
	if ids, ok := q.Filter.IDs("id"); ok {
		ords := make([]uint32, 0, len(ids))
		for _, id := range ids {
			if ord, ok := e.db.Users.Lookup(id); ok {
				ords = append(ords, ord)
			}
		}
		slices.Sort(ords)
		ords = slices.Compact(ords)
		if err := e.UsersByOrdinals(ords, func(ord uint32, u *storage.User) { visit(ord, u) }); err != nil {
			return nil, err
		}
	} else if err := e.ScanUsers(visit); err != nil {
		return nil, err
	}
	// Pop worst-first into the tail of the result.
	n := h.Len()
	out := make([]storage.User, n)
	for i := n - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(storage.User)
	}
	if q.Offset >= len(out) {
		return nil, nil
	}
	return out[q.Offset:], nil
}

// userHeap keeps the k best users by order; the root is the worst kept.
type userHeap struct {
	order []filter.SortField
	k     int
	us    []storage.User
	buf   []byte
}

// less reports whether a sorts before b.
func (h *userHeap) less(a, b *storage.User) bool {
	if c := filter.Compare((*UserDoc)(a), (*UserDoc)(b), h.order); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

func (h *userHeap) Len() int           { return len(h.us) }
func (h *userHeap) Less(i, j int) bool { return h.less(&h.us[j], &h.us[i]) } // max-heap: worst on top
func (h *userHeap) Swap(i, j int)      { h.us[i], h.us[j] = h.us[j], h.us[i] }
func (h *userHeap) Push(x any)         { h.us = append(h.us, x.(storage.User)) }
func (h *userHeap) Pop() any {
	u := h.us[len(h.us)-1]
	h.us = h.us[:len(h.us)-1]
	return u
}

// offer keeps a copy of u when it is among the k best so far. u may alias iterator memory.
func (h *userHeap) offer(u *storage.User) {
	if len(h.us) < h.k {
		heap.Push(h, cloneUser(u, &h.buf))
		return
	}
	if !h.less(u, &h.us[0]) {
		return
	}
	h.us[0] = cloneUser(u, &h.buf)
	heap.Fix(h, 0)
}

// cloneUser returns a deep copy of u that owns its memory.
func cloneUser(u *storage.User, buf *[]byte) storage.User {
	*buf = u.Marshal((*buf)[:0])
	var c storage.User
	if err := c.Unmarshal(*buf); err != nil {
		panic(fmt.Sprintf("BUG: cannot decode a user just encoded: %s", err))
	}
	c.Custom = bytes.Clone(c.Custom)
	return c
}
