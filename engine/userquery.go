package engine

import (
	"bytes"
	"container/heap"
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

// UserQuery is a GET /users query (wire.Legacy.DecodeUserQuery decodes its payload).
type UserQuery struct {
	Filter *filter.Filter
	// Sort is the requested order; empty means created_at ascending. Ties break by id ascending.
	Sort               []filter.SortField
	Limit, Offset      int
	IncludeDeactivated bool
}

// defaultUserSort is the order of a query without a sort.
var defaultUserSort = []filter.SortField{{Field: "created_at", Source: "created_at", Kind: filter.KindTime, Direction: 1}}

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
