package wire

import (
	"encoding/json"
	"testing"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
)

func TestAppendSegments(t *testing.T) {
	s := &engine.Segment{Segment: storage.Segment{ID: "s\"1", Type: storage.SegmentTypeUser, Name: "n", Filter: []byte(`{"team":"red"}`),
		Size: 3, CreatedAt: 1000, UpdatedAt: 2000}, Locked: true}
	b := Legacy{}.AppendSegmentsPage(nil, &engine.SegmentsPage{Segments: []*engine.Segment{s, {Segment: storage.Segment{ID: "t"}}}, Next: "nx"})
	var page struct {
		Segments []map[string]any `json:"segments"`
		Next     string           `json:"next"`
		Prev     *string          `json:"prev"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatalf("invalid JSON %s: %s", b, err)
	}
	got := page.Segments[0]
	if len(page.Segments) != 2 || page.Next != "nx" || page.Prev != nil || got["id"] != `s"1` || got["locked"] != true || got["size"] != 3.0 ||
		got["filter"].(map[string]any)["team"] != "red" || got["created_at"] != "1970-01-01T00:00:00.000001Z" || got["deleted_at"] != nil {
		t.Fatalf("unexpected page %s", b)
	}
	if f, ok := page.Segments[1]["filter"].(map[string]any); !ok || len(f) != 0 {
		t.Fatalf("a segment without a filter does not show {}: %s", b)
	}
	b = Legacy{}.AppendTargetsPage(nil, "s", &engine.TargetsPage{Targets: []engine.SegmentTarget{{TargetID: "u1", CreatedAt: 1000}}, Prev: "p"})
	if want := `{"targets":[{"segment_id":"s","target_id":"u1","created_at":"1970-01-01T00:00:00.000001Z"}],"prev":"p"}`; string(b) != want {
		t.Fatalf("unexpected targets page;\ngot  %s\nwant %s", b, want)
	}
}

func TestDecodeSegment(t *testing.T) {
	p, err := Legacy{}.DecodeSegment([]byte(`{"id":null,"type":"user","filter":{ "team" : "red" },"all_users":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != nil || *p.Type != "user" || string(p.Filter) != `{"team":"red"}` || *p.AllUsers || p.Name != nil {
		t.Fatalf("unexpected params %+v", p)
	}
	if p, err = (Legacy{}).DecodeSegment([]byte(`{"filter":null}`)); err != nil || string(p.Filter) != "null" {
		t.Fatalf("a null filter does not stay null: %+v %v", p, err)
	}
	if p, err = (Legacy{}).DecodeSegment([]byte(`{"name":"x"}`)); err != nil || p.Filter != nil {
		t.Fatalf("an absent filter is not nil: %+v %v", p, err)
	}
	_, err = Legacy{}.DecodeSegment([]byte(`{"all_users":"yes"}`))
	wantInputError(t, err, "all_users")
	ids, err := Legacy{}.DecodeTargetIDs([]byte(`{"target_ids":["a","b"]}`))
	if err != nil || len(ids) != 2 {
		t.Fatalf("unexpected target ids %v %v", ids, err)
	}
	_, err = Legacy{}.DecodeTargetIDs([]byte(`{"target_ids":"a"}`))
	wantInputError(t, err, "target_ids")
	q, err := Legacy{}.DecodeQuery(nil)
	if err != nil || q.Filter != nil || q.Limit != nil {
		t.Fatalf("an empty query body is not the default query: %+v %v", q, err)
	}
}

func FuzzDecodeSegment(f *testing.F) {
	for _, s := range []string{`{"id":"s","type":"user","name":"n","filter":{"team":{"$in":["a"]}}}`, `{"filter":null,"all_sender_channels":true}`, `{"filter":[1]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := Legacy{}.DecodeSegment(body)
		checkDecodeError(t, body, err)
		if err == nil {
			checkCompact(t, "filter", p.Filter)
		}
	})
}

func FuzzDecodeQuery(f *testing.F) {
	for _, s := range []string{`{"filter":{"name":"x"},"sort":[{"field":"created_at","direction":-1}],"limit":10,"next":"bzEw"}`, `{"Filter":{},"Sort":[]}`, `{"limit":"x"}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := Legacy{}.DecodeQuery(body)
		checkDecodeError(t, body, err)
	})
}

func FuzzDecodeTargetIDs(f *testing.F) {
	for _, s := range []string{`{"target_ids":["a","b"]}`, `{"target_ids":"a"}`, `[1,2`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := Legacy{}.DecodeTargetIDs(body)
		checkDecodeError(t, body, err)
	})
}

func FuzzDecodeReplay(f *testing.F) {
	for _, s := range []string{`{"sink":"webhook","ids":["e1"]}`, `{}`, ``, `{"ids":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _, err := DecodeReplay(body)
		checkDecodeError(t, body, err)
	})
}
