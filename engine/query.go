package engine

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/campaignd/campaignd/engine/filter"
)

// Queries over records few enough (thousands) to be matched and sorted in memory: segments and
// campaigns. A query reads every candidate, keeps the matching ones, sorts them and cuts one page
// by offset; the page's neighbours are opaque cursors (base64url of "o<offset>").

// QueryParams is a query of POST /segments/query, POST /segments/{id}/targets/query and POST
// /campaigns/query (decoded by wire): a filter and a sort (raw JSON, may be empty), a page size
// (nil or 0: the default) and the cursor of a neighbour page.
type QueryParams struct {
	Filter json.RawMessage
	Sort   json.RawMessage
	Limit  *int
	Next   string
	Prev   string
}

// limit returns q's limit: def when absent or 0, an error naming limit outside 1..max.
func (q *QueryParams) limit(def, max int) (int, error) {
	if q.Limit == nil || *q.Limit == 0 {
		return def, nil
	}
	if *q.Limit < 0 || *q.Limit > max {
		return 0, InputError("limit", "limit must be between 1 and %d, not %d", max, *q.Limit)
	}
	return *q.Limit, nil
}

// checkPageCursors refuses a query that gives both next and prev.
func (q *QueryParams) checkPageCursors() error {
	if q.Next != "" && q.Prev != "" {
		return InputError("next", "pass either next or prev, not both")
	}
	return nil
}

// FilterInputError turns a filter or sort mistake (from filter.Compile or filter.ParseSort of
// request field param) into a code-4 error naming the field it is about (param when the mistake
// is about the whole filter or sort).
func FilterInputError(param string, err error) error {
	var fe *filter.Error
	if errors.As(err, &fe) {
		field := fe.Field
		if field == "" {
			field = param
		}
		return InputError(field, "invalid %s: %s", param, strings.TrimPrefix(fe.Error(), "filter: "))
	}
	return InputError(param, "invalid %s: %s", param, err)
}

// queryDoc is a record an in-memory query matches and sorts: a filter.Doc whose id breaks ties.
type queryDoc interface {
	filter.Doc
	queryID() string
}

// recordQuery is a parsed QueryParams: what to keep, in which order, and which page.
type recordQuery struct {
	filter *filter.Filter
	sort   []filter.SortField // never empty: created_at descending by default
	limit  int
	offset int // of the page's first record
}

// byCreatedDesc is the order of a query without a sort.
var byCreatedDesc = []filter.SortField{{Field: "created_at", Source: "created_at", Kind: filter.KindTime, Direction: -1}}

// parseRecordQuery compiles q against schema; the page size is def when absent, at most max.
func parseRecordQuery(q *QueryParams, schema *filter.Schema, def, max int) (*recordQuery, error) {
	f, err := filter.Compile(q.Filter, schema)
	if err != nil {
		return nil, FilterInputError("filter", err)
	}
	sorts, err := filter.ParseSort(q.Sort, schema)
	if err != nil {
		return nil, FilterInputError("sort", err)
	}
	if len(sorts) == 0 {
		sorts = byCreatedDesc
	}
	limit, err := q.limit(def, max)
	if err != nil {
		return nil, err
	}
	off, err := parseOffset(q.Next, q.Prev)
	if err != nil {
		return nil, err
	}
	return &recordQuery{filter: f, sort: sorts, limit: limit, offset: off}, nil
}

// pageOf sorts docs (ties by id) and returns rq's page of them with the neighbour cursors ("" when
// there is no such page). The page aliases docs.
func pageOf[T queryDoc](rq *recordQuery, docs []T) (page []T, next, prev string) {
	slices.SortFunc(docs, func(a, b T) int {
		if c := filter.Compare(a, b, rq.sort); c != 0 {
			return c
		}
		return strings.Compare(a.queryID(), b.queryID())
	})
	start, end, next, prev := pageBounds(len(docs), rq.offset, rq.limit)
	return docs[start:end], next, prev
}

// parseOffset returns the offset that the next or prev cursor of an earlier page names (0 for
// neither); giving both, or a cursor this server did not return, is a code-4 error.
func parseOffset(next, prev string) (int, error) {
	field, cur := "next", next
	switch {
	case next != "" && prev != "":
		return 0, InputError("next", "pass either next or prev, not both")
	case next == "" && prev == "":
		return 0, nil
	case prev != "":
		field, cur = "prev", prev
	}
	b, err := base64.RawURLEncoding.DecodeString(cur)
	if err == nil && len(b) > 1 && b[0] == 'o' {
		if off, err := strconv.Atoi(string(b[1:])); err == nil && off >= 0 {
			return off, nil
		}
	}
	return 0, InputError(field, "%s is not a cursor returned by this query; pass the %s value of the previous reply unchanged", field, field)
}

// pageBounds returns the page [start, end) of n items that starts at offset off and holds at most
// limit, with the cursors of the pages after and before it ("" when there is none).
func pageBounds(n, off, limit int) (start, end int, next, prev string) {
	start = min(off, n)
	end = min(start+limit, n)
	if end < n {
		next = offsetCursor(end)
	}
	if start > 0 {
		prev = offsetCursor(max(0, start-limit))
	}
	return start, end, next, prev
}

func offsetCursor(off int) string {
	return base64.RawURLEncoding.EncodeToString(strconv.AppendInt([]byte{'o'}, int64(off), 10))
}
