package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

// FuzzTargetsQuery decodes arbitrary request bodies as POST /segments/{id}/targets/query does and
// runs the query: it must never panic, must fail only with a client error, and must return at
// most limit targets, in target_id order, each matching what the filter asks for by construction.
func FuzzTargetsQuery(f *testing.F) {
	e, _ := newTestEngine(f)
	mustCreateSegmentF(f, e, "s")
	var ids []string
	for i := 0; i < 40; i++ {
		ids = append(ids, fmt.Sprintf("t%02d", i))
	}
	if err := e.AddSegmentTargets("s", ids); err != nil {
		f.Fatalf("cannot add targets: %s", err)
	}
	for _, seed := range []string{
		`{"filter":{},"sort":[]}`,
		`{"filter":{"target_id":{"$gte":"t10"}},"sort":[{"field":"target_id","direction":-1}],"limit":3}`,
		`{"filter":{"target_id":{"$in":["t01","t05"]}},"limit":1,"next":"bisrdDAx"}`,
		`{"filter":{"target_id":{"$gt":"t1","$lt":"t3"}},"prev":"cC10MjA"}`,
		`{"filter":{"$or":[{"target_id":"t01"},{"target_id":{"$lte":"t00"}}]}}`,
		`{"Filter":{"created_at":{"$gt":"2020-01-01T00:00:00Z"}},"Sort":{"target_id":1}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var q QueryParams
		if json.Unmarshal(body, &q) != nil {
			return
		}
		page, err := e.QuerySegmentTargets("s", &q)
		if err != nil {
			if ee, ok := AsError(err); !ok || ee.Code != CodeInput {
				t.Fatalf("unexpected error for %s: %v", body, err)
			}
			return
		}
		limit, _ := q.limit(DefaultTargetsQueryLimit, MaxTargetsQueryLimit)
		if len(page.Targets) > limit {
			t.Fatalf("%d targets for limit %d", len(page.Targets), limit)
		}
		got := make([]string, len(page.Targets))
		for i := range page.Targets {
			got[i] = page.Targets[i].TargetID
			if !slices.Contains(ids, got[i]) {
				t.Fatalf("unknown target %q", got[i])
			}
		}
		if !slices.IsSorted(got) {
			desc := slices.Clone(got)
			slices.Reverse(desc)
			if !slices.IsSorted(desc) {
				t.Fatalf("targets out of order: %v", got)
			}
		}
		if len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("duplicate targets: %v", got)
		}
	})
}

func mustCreateSegmentF(f *testing.F, e *Engine, id string) {
	f.Helper()
	typ := "user"
	if _, err := e.CreateSegment(&SegmentParams{ID: &id, Type: &typ}); err != nil {
		f.Fatalf("cannot create segment: %s", err)
	}
}
