package filter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"id":"x"}`, `{"id":{"$in":["a","b"]}}`, `{"$or":[{"name":{"$autocomplete":"ad"}},{"age":{"$gt":3}}]}`,
		`{"teams":{"$eq":["red","blue"]}}`, `{"created_at":{"$gte":"2024-01-01T00:00:00.5Z"}}`,
		`{"tags":{"$eq":["math","poetry",3]}}`, `{"address.city":{"$nin":["x"]},"nick":null}`,
		`{"$nor":[{"banned":true}],"esc\"key":{"$contains":"é"}}`, `{"age":{"$exists":false}}`,
		`{"created_at":{"$lt":"2262-04-11T23:47:16Z"}}`, `{"created_at":{"$gt":"3000-01-01T00:00:00Z"}}`,
	} {
		f.Add([]byte(s))
	}
	u := sampleUser(f)
	c := &testChannel{Type: "messaging", ID: "x", Members: []string{"a"}, Custom: []byte(`{"k":[1,"2",{"a":null}]}`)}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, s := range []*Schema{UserSchema, ChannelSchema, CampaignSchema} {
			fl, err := Compile(raw, s)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("unexpected error type %T: %s", err, err)
				}
				if !strings.HasPrefix(err.Error(), "filter: ") {
					t.Fatalf("unexpected error text %q", err)
				}
				continue
			}
			fl.Match(u)
			fl.Match(c)
			fl.Match(mapDoc{})
			fl.IDs("id")
			fl.IsEmpty()
		}
		if sf, err := ParseSort(raw, UserSchema); err == nil {
			Compare(u, u, sf)
		}
	})
}

// FuzzLookupJSON checks LookupJSON against fastjson on valid objects and that
// it never panics on anything.
func FuzzLookupJSON(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"c":[1,2,"x"]},"d\u00e9":"\"q\""}`), "b.c")
	f.Add([]byte(`{"a.b":1,"a":{"b":2}}`), "a.b")
	f.Add([]byte(`{"x":{"y":{"z":null}}}`), "x.y.z")
	f.Add([]byte(`{"k\"ey":true}`), `k"ey`)
	f.Add([]byte(`[{"a":1}]`), "a")
	f.Fuzz(func(t *testing.T, obj []byte, path string) {
		raw, ok := LookupJSON(obj, path)
		if ok {
			if len(raw) == 0 {
				t.Fatalf("empty value found for %q", path)
			}
			if !containsSlice(obj, raw) {
				t.Fatalf("result does not alias obj")
			}
		}
		if !jsonValidObject(obj) {
			return
		}
		var p fastjson.Parser
		v, err := p.ParseBytes(obj)
		if err != nil {
			return
		}
		// Oracle: for a path without dots, the first key equal to it.
		if strings.Contains(path, ".") {
			return
		}
		o, _ := v.Object()
		var want *fastjson.Value
		o.Visit(func(k []byte, vv *fastjson.Value) {
			if want == nil && string(k) == path {
				want = vv
			}
		})
		if (want != nil) != ok {
			t.Fatalf("unexpected found=%v for %q in %q; fastjson found=%v", ok, path, obj, want != nil)
		}
		if want == nil {
			return
		}
		var p2 fastjson.Parser
		got, err := p2.ParseBytes(raw)
		if err != nil {
			t.Fatalf("LookupJSON returned invalid JSON %q for %q: %s", raw, path, err)
		}
		if got.String() != want.String() {
			t.Fatalf("unexpected value for %q; got %s; want %s", path, got, want)
		}
	})
}

func containsSlice(obj, raw []byte) bool {
	for i := 0; i+len(raw) <= len(obj); i++ {
		if &obj[i] == &raw[0] {
			return true
		}
	}
	return false
}

func jsonValidObject(b []byte) bool {
	return jsonValid(b) && len(b) > 0 && b[skipWS(b, 0)] == '{'
}

var jsonValid = json.Valid
