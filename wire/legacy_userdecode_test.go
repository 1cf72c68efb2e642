package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

func TestDecodeUserLine(t *testing.T) {
	f := func(line string, want storage.User) {
		t.Helper()
		var d UserDecoder
		var u storage.User
		if err := d.DecodeUserLine([]byte(line), &u); err != nil {
			t.Fatalf("cannot decode %s: %s", line, err)
		}
		if string(u.Custom) != string(want.Custom) {
			t.Fatalf("unexpected Custom; got %s; want %s", u.Custom, want.Custom)
		}
		u.Custom, want.Custom = nil, nil
		if !reflect.DeepEqual(u, want) {
			t.Fatalf("unexpected user;\ngot  %+v\nwant %+v", u, want)
		}
	}
	f(`{"id":"a"}`, storage.User{ID: "a"})
	f(`{"id":"a","name":null,"teams":null,"role":"admin"}`, storage.User{ID: "a", Role: "admin"})
	f(` {"id":"a","name":"N","image":"i","language":"nl","teams":["x","y"],"banned":true,"shadow_banned":true,"invisible":false} `,
		storage.User{ID: "a", Name: "N", Image: "i", Language: "nl", Teams: []string{"x", "y"}, Banned: true, ShadowBanned: true})
	f(`{"id":"a","created_at":"2020-01-02T03:04:05.1234567Z","last_active":"2021-01-01T00:00:00+01:00"}`,
		storage.User{ID: "a", CreatedAt: 1577934245123456000, LastActive: 1609455600000000000})
	// Custom: compact, strings re-escaped, nested kept, read-only keys dropped, "custom" unpacked.
	f(`{"id":"a", "x" : [1, {"y" : "\u0007\"" }], "online":true, "devices":[], "custom":{"k":false}, "n":-1.5e3}`,
		storage.User{ID: "a", Custom: []byte(`{"x":[1,{"y":"\u0007\""}],"k":false,"n":-1.5e3}`)})
	f(`{"id":"a","e\u00e9":"\ud83d\ude00"}`, storage.User{ID: "a", Custom: []byte(`{"eé":"😀"}`)})
}

func TestDecodeUserLineErrors(t *testing.T) {
	f := func(line, wantField, wantText string) {
		t.Helper()
		var d UserDecoder
		var u storage.User
		err := d.DecodeUserLine([]byte(line), &u)
		e, ok := engine.AsError(err)
		if !ok || e.Code != engine.CodeInput {
			t.Fatalf("unexpected error for %s; got %v; want an input error", line, err)
		}
		if wantField != "" {
			if _, ok := e.Fields[wantField]; !ok {
				t.Fatalf("error for %s does not name %q: %v", line, wantField, e.Fields)
			}
		}
		if !strings.Contains(e.Msg, wantText) {
			t.Fatalf("unexpected message for %s; got %q; want it to contain %q", line, e.Msg, wantText)
		}
	}
	f(``, "", "not valid JSON")
	f(`{"id":"a"`, "", "not valid JSON")
	f(`[1]`, "", "must be a JSON object")
	f(`{}`, "id", `no "id"`)
	f(`{"id":""}`, "id", "must not be empty")
	f(`{"id":7}`, "id", "must be a string")
	f(`{"id":"`+strings.Repeat("x", 256)+`"}`, "id", "maximum is 255")
	f(`{"id":"a","banned":"yes"}`, "banned", `"banned" must be a boolean`)
	f(`{"id":"a","banned":1}`, "banned", "a number (1)")
	f(`{"id":"a","name":{}}`, "name", "must be a string, not an object")
	f(`{"id":"a","teams":"red"}`, "teams", "array of strings")
	f(`{"id":"a","teams":["red",1]}`, "teams", "array of strings")
	f(`{"id":"a","teams":[""]}`, "teams", "empty team")
	f(`{"id":"a","created_at":"x"}`, "created_at", "RFC 3339")
	f(`{"id":"a","name":"`+strings.Repeat("n", engine.MaxUserTextSize+1)+`"}`, "name", "the maximum is 2048")
	f(`{"id":"a","language":"`+strings.Repeat("l", 256)+`"}`, "language", "the maximum is 255")
	f(`{"id":"a","teams":["`+strings.Repeat("t", 256)+`"]}`, "teams", "the maximum is 255")
	f(`{"id":"a","created_at":"3000-01-01T00:00:00Z"}`, "created_at", "between 1970-01-01T00:00:00Z and 2262-04-11T23:47:16Z")
	f(`{"id":"a","last_active":"1600-01-01T00:00:00Z"}`, "last_active", "outside the supported range")
	f(`{"id":"a","last_active":5}`, "last_active", "timestamp")
	f(`{"id":"a","k":NaN}`, "k", "not a JSON number")
	f(`{"id":"a","k":[01]}`, "k", "not a JSON number")
	f(`{"id":"a","k":1,"k":2}`, "k", "twice")
	f(`{"id":"a","":1}`, "", "empty key")
	f(`{"id":"a","custom":{"name":"x"}}`, "name", "known user field")
	f(`{"id":"a","big":"`+strings.Repeat("x", engine.MaxUserCustomSize)+`"}`, "big", "custom data")
}

func TestDecodeUpsertUsersReuse(t *testing.T) {
	// Users decoded from one body stay intact while the decoder's arena grows.
	var d UserDecoder
	var sb strings.Builder
	sb.WriteString(`{"users":{`)
	for i := 0; i < 100; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"u%d":{"id":"u%d","name":"name %d","teams":["t%d"],"c":%d}`, i, i, i, i, i)
	}
	sb.WriteString(`}}`)
	users, err := d.DecodeUpsertUsers([]byte(sb.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 100 {
		t.Fatalf("unexpected count %d", len(users))
	}
	for i := range users {
		u := &users[i]
		if u.ID != fmt.Sprintf("u%d", i) || u.Name != fmt.Sprintf("name %d", i) || u.Teams[0] != fmt.Sprintf("t%d", i) || string(u.Custom) != fmt.Sprintf(`{"c":%d}`, i) {
			t.Fatalf("user %d corrupted: %+v", i, u)
		}
	}
}

func TestDecodeUserQuery(t *testing.T) {
	q, err := Legacy{}.DecodeUserQuery([]byte(`{"filter_conditions":{"id":{"$in":["a","b"]}},"sort":[],"presence":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if q.Limit != engine.DefaultUsersLimit || q.Offset != 0 || len(q.Sort) != 0 {
		t.Fatalf("unexpected query %+v", q)
	}
	if ids, ok := q.Filter.IDs("id"); !ok || !reflect.DeepEqual(ids, []string{"a", "b"}) {
		t.Fatalf("unexpected ids %v %v", ids, ok)
	}
	bad := func(payload, field string) {
		t.Helper()
		_, err := Legacy{}.DecodeUserQuery([]byte(payload))
		e, ok := engine.AsError(err)
		if !ok || e.Code != engine.CodeInput {
			t.Fatalf("unexpected error for %s: %v", payload, err)
		}
		if _, ok := e.Fields[field]; !ok {
			t.Fatalf("error for %s does not name %q: %v (%s)", payload, field, e.Fields, e.Msg)
		}
	}
	bad(``, "payload")
	bad(`{`, "payload")
	bad(`[]`, "payload")
	bad(`{"limit":101}`, "limit")
	bad(`{"limit":"5"}`, "limit")
	bad(`{"offset":1001}`, "offset")
	bad(`{"offset":-1}`, "offset")
	bad(`{"filter_conditions":{"banned":{"$gt":true}}}`, "banned")
	bad(`{"filter_conditions":{"x":{"$regex":"a"}}}`, "x")
	bad(`{"filter_conditions":[1]}`, "filter_conditions")
	bad(`{"sort":[{"field":"name","direction":2}]}`, "name")
}

// checkDecodedUser asserts the invariants every decoded user keeps: a valid id, custom data that
// is a JSON object without known keys, and wire JSON that parses.
func checkDecodedUser(t *testing.T, u *storage.User) {
	t.Helper()
	if engine.CheckID("id", u.ID) != nil {
		t.Fatalf("decoded an invalid id %q", u.ID)
	}
	if err := engine.ValidateUser(u); err != nil {
		t.Fatalf("decoded a user the engine refuses: %s", err)
	}
	for _, n := range []int64{u.CreatedAt, u.LastActive} {
		if n < 0 || n > filter.MaxTime.UnixNano() {
			t.Fatalf("decoded a time outside the supported range: %d", n)
		}
	}
	if len(u.Custom) > 0 {
		if !json.Valid(u.Custom) || u.Custom[0] != '{' {
			t.Fatalf("invalid custom JSON %q", u.Custom)
		}
		var p fastjson.Parser
		v, err := p.ParseBytes(u.Custom)
		if err != nil {
			t.Fatalf("fastjson rejects custom %q: %s", u.Custom, err)
		}
		v.GetObject().Visit(func(k []byte, _ *fastjson.Value) {
			if _, known := userFieldBit(string(k)); known || userReadOnly(string(k)) {
				t.Fatalf("custom holds known key %q", k)
			}
		})
	}
	out := Legacy{}.AppendFullUser(nil, u)
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("invalid user JSON %q: %s", out, err)
	}
	if m["id"] != strings.ToValidUTF8(u.ID, "\ufffd") {
		t.Fatalf("id lost in JSON: %q", out)
	}
	// The record round-trips through the codec.
	var v storage.User
	if err := v.Unmarshal(u.Marshal(nil)); err != nil || !bytes.Equal(v.Custom, u.Custom) {
		t.Fatalf("record does not round-trip: %v", err)
	}
}

func FuzzDecodeUserLine(f *testing.F) {
	for _, s := range []string{
		`{"id":"a"}`, `{"id":"a","name":"n","teams":["x"],"banned":true,"created_at":"2020-01-01T00:00:00Z"}`,
		`{"id":"a","x":[1,{"y":"\u0007"}],"custom":{"k":null}}`, `{"id":"a","k":NaN}`, `{"id":"é\ud800"}`,
		`{"id":"a","created_at":"3000-01-01T00:00:00Z"}`, `{"id":"a","last_active":"2262-04-11T23:47:16.5Z"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var d UserDecoder
		var u storage.User
		err := d.DecodeUserLine(line, &u)
		if err != nil {
			if _, ok := engine.AsError(err); !ok {
				t.Fatalf("unexpected error type %T: %s", err, err)
			}
			return
		}
		checkDecodedUser(t, &u)
	})
}

func FuzzDecodeUpsertUsers(f *testing.F) {
	for _, s := range []string{
		`{"users":{"a":{"id":"a"}}}`, `{"users":{"a":{"name":"x","c":{"d":[true]}},"b":{"id":"b","teams":[]}}}`,
		`{"users":{"a":{"id":"b"}}}`, `{"users":[]}`, `{"users":{"a":{"id":"a"},"a":{"id":"a"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var d UserDecoder
		users, err := d.DecodeUpsertUsers(body, nil)
		if err != nil {
			if _, ok := engine.AsError(err); !ok {
				t.Fatalf("unexpected error type %T: %s", err, err)
			}
			return
		}
		if len(users) == 0 || len(users) > engine.MaxUsersPerUpsert {
			t.Fatalf("unexpected user count %d", len(users))
		}
		for i := range users {
			checkDecodedUser(t, &users[i])
		}
	})
}

func FuzzDecodePartialUpdate(f *testing.F) {
	for _, s := range []string{
		`{"users":[{"id":"a","set":{"name":"n","x":1},"unset":["y","teams"]}]}`,
		`{"users":[{"id":"a","set":{"id":"b"}}]}`, `{"users":[{"id":"a","unset":["c"]},{"id":"b"}]}`,
		`{"users":[{"id":"a","set":{"k":[1e5,"\u0000"]}}]}`,
	} {
		f.Add([]byte(s))
	}
	base := storage.User{ID: "a", Role: "user", Name: "x", Teams: []string{"t"}, CreatedAt: 1000, UpdatedAt: 2000, Custom: []byte(`{"y":1,"c":"\u0007","z":[{}]}`)}
	f.Fuzz(func(t *testing.T, body []byte) {
		var d UserDecoder
		patches, err := d.DecodePartialUpdate(body)
		if err != nil {
			if _, ok := engine.AsError(err); !ok {
				t.Fatalf("unexpected error type %T: %s", err, err)
			}
			return
		}
		for i := range patches {
			u := base
			u.ID = patches[i].ID
			if err := patches[i].Apply(&u); err != nil {
				if _, ok := engine.AsError(err); !ok {
					t.Fatalf("unexpected error type %T: %s", err, err)
				}
				continue
			}
			checkDecodedUser(t, &u)
		}
	})
}

func FuzzDecodeUserQuery(f *testing.F) {
	for _, s := range []string{
		`{"filter_conditions":{"id":"a"},"sort":[{"field":"created_at","direction":-1}],"presence":false,"limit":10,"offset":5}`,
		`{"filter_conditions":{"$or":[{"team":"x"},{"age":{"$gt":3}}]},"sort":[]}`, `{"limit":"x"}`, `null`,
	} {
		f.Add([]byte(s))
	}
	u := &storage.User{ID: "a", Teams: []string{"x"}, Custom: []byte(`{"age":4}`)}
	f.Fuzz(func(t *testing.T, payload []byte) {
		q, err := Legacy{}.DecodeUserQuery(payload)
		if err != nil {
			if e, ok := engine.AsError(err); !ok || e.Code != engine.CodeInput {
				t.Fatalf("unexpected error %T: %s", err, err)
			}
			return
		}
		if q.Limit < 1 || q.Limit > engine.MaxUsersLimit || q.Offset < 0 || q.Offset > engine.MaxUsersOffset {
			t.Fatalf("limits not enforced: %+v", q)
		}
		q.Filter.Match((*engine.UserDoc)(u))
	})
}

func FuzzImportUsers(f *testing.F) {
	for _, s := range []string{
		"{\"id\":\"a\"}\n\n{\"id\":\"b\",\"x\":1}\r\nbad\n{\"id\":\"c\"}",
		"{\"id\":\"" + strings.Repeat("l", 80) + "\"}\n{\"id\":\"d\"}\n",
		"\n\n\n", "{\"id\":\"a\"}{\"id\":\"b\"}\n",
	} {
		f.Add([]byte(s))
	}
	e := newTestEngine(f)
	opts := engine.ImportOptions{ChunkSize: 3, MaxLineSize: 64, MaxErrors: 4, NewDecoder: NewUserDecoder}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := e.ImportUsers(bytes.NewReader(body), opts)
		if err != nil {
			t.Fatalf("unexpected error: %s", err)
		}
		lines := bytes.Split(body, []byte("\n"))
		nonEmpty := 0
		for _, l := range lines {
			if len(bytes.TrimSpace(l)) > 0 || len(l) > opts.MaxLineSize {
				nonEmpty++
			}
		}
		if res.Imported+res.Failed != nonEmpty {
			t.Fatalf("imported %d + failed %d != %d non-empty lines", res.Imported, res.Failed, nonEmpty)
		}
		if len(res.Errors) > opts.MaxErrors || res.ErrorsTruncated != (res.Failed > opts.MaxErrors) {
			t.Fatalf("unexpected error list: %+v", res)
		}
		for _, le := range res.Errors {
			if le.Line < 1 || le.Line > len(lines) || le.Reason == "" {
				t.Fatalf("bad line error %+v of %d lines", le, len(lines))
			}
		}
	})
}
