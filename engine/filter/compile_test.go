package filter

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	f := func(filter string, s *Schema, want string) {
		t.Helper()
		_, err := Compile([]byte(filter), s)
		if len(filter) > 200 {
			filter = filter[:200] + "..."
		}
		if err == nil {
			t.Fatalf("expected an error compiling %s", filter)
		}
		var fe *Error
		if !errors.As(err, &fe) {
			t.Fatalf("unexpected error type %T: %s", err, err)
		}
		if got := err.Error(); got != want {
			t.Fatalf("unexpected error for %s\ngot  %s\nwant %s", filter, got, want)
		}
	}
	f(`{`, UserSchema, `filter: filter is not valid JSON`)
	f(`[1]`, UserSchema, `filter: filter must be a JSON object, not array [1]`)
	f(`"x"`, UserSchema, `filter: filter must be a JSON object, not string "x"`)
	f(`{"colour":{"$foo":1}}`, UserSchema,
		`filter: field "colour": unknown operator "$foo"; use one of $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists, $contains, $autocomplete`)
	f(`{"colour":"red"}`, SegmentSchema,
		`filter: field "colour": unknown field; segments can be filtered by all_users, created_at, id, name, type, updated_at`)
	f(`{"created_at":{"$gt":"yesterday"}}`, UserSchema,
		`filter: field "created_at": "yesterday" is not an RFC 3339 time; use e.g. "2024-01-02T15:04:05Z" or "2024-01-02T15:04:05.123456Z"`)
	f(`{"created_at":{"$gt":"3000-01-01T00:00:00Z"}}`, UserSchema,
		`filter: field "created_at": "3000-01-01T00:00:00Z" is outside the supported range: times must be between 1970-01-01T00:00:00Z and 2262-04-11T23:47:16Z`)
	f(`{"updated_at":{"$in":["2020-01-01T00:00:00Z","1600-01-01T00:00:00Z"]}}`, CampaignSchema,
		`filter: field "updated_at": "1600-01-01T00:00:00Z" is outside the supported range: times must be between 1970-01-01T00:00:00Z and 2262-04-11T23:47:16Z`)
	f(`{"created_at":{"$gt":5}}`, UserSchema,
		`filter: field "created_at": $gt needs an RFC 3339 time string value, not number 5`)
	f(`{"id":{"$in":"x"}}`, UserSchema,
		`filter: field "id": $in needs an array of string values, not string "x"`)
	f(`{"id":{"$in":["a",1]}}`, UserSchema,
		`filter: field "id": $in needs a string value, not number 1`)
	f(`{"id":{"$exists":"yes"}}`, UserSchema,
		`filter: field "id": $exists needs true or false, not string "yes"`)
	f(`{"id":5}`, UserSchema,
		`filter: field "id": $eq needs a string value, not number 5`)
	f(`{"banned":"no"}`, UserSchema,
		`filter: field "banned": $eq needs a bool value, not string "no"`)
	f(`{"banned":{"$gt":false}}`, UserSchema,
		`filter: field "banned": operator $gt is not supported on this field; use one of $eq, $ne, $in, $nin, $exists`)
	f(`{"type":{"$gt":"a"}}`, SegmentSchema,
		`filter: field "type": operator $gt is not supported on this field; use one of $eq, $ne, $in, $nin, $exists`)
	f(`{"segments":{"$gt":"a"}}`, CampaignSchema,
		`filter: field "segments": operator $gt is not supported on this field; use one of $eq, $in, $nin, $exists, $contains`)
	f(`{"teams":{"$in":[1]}}`, UserSchema,
		`filter: field "teams": $in needs a string value, not number 1`)
	f(`{"name":{"$autocomplete":"  "}}`, UserSchema,
		`filter: field "name": $autocomplete needs a non-empty string`)
	f(`{"name":{"$autocomplete":1}}`, UserSchema,
		`filter: field "name": $autocomplete needs a string, not number 1`)
	f(`{"name":{"$contains":1}}`, UserSchema,
		`filter: field "name": $contains needs a string value, not number 1`)
	f(`{"$foo":[]}`, UserSchema,
		`filter: unknown operator "$foo"; at the top of a filter use $and, $or, $nor or a field name`)
	f(`{"$eq":"x"}`, UserSchema,
		`filter: operator $eq must be applied to a field: {"field": {"$eq": value}}`)
	f(`{"$or":[]}`, UserSchema,
		`filter: $or needs a non-empty array of filters, not array []`)
	f(`{"$or":{"id":"x"}}`, UserSchema,
		`filter: $or needs a non-empty array of filters, not object {"id":"x"}`)
	f(`{"$and":[1]}`, UserSchema,
		`filter: $and needs an array of filter objects; got number 1`)
	f(`{"id":{"$or":[]}}`, UserSchema,
		`filter: field "id": $or cannot be used inside a field; write {"$or": [{"id": ...}, ...]}`)
	f(`{"id":{}}`, UserSchema,
		`filter: field "id": empty object; use a value or an operator such as {"$eq": value}`)
	f(`{"address":{"city":"x"}}`, UserSchema,
		`filter: field "address": objects cannot be compared; match a nested key with a dotted path such as "address.city"`)
	f(`{"address":{"$eq":"x","city":"y"}}`, UserSchema,
		`filter: field "address": mixes operators and plain keys; use either {"$op": value, ...} or a dotted path`)
	f(`{"age":{"$gt":[1]}}`, UserSchema,
		`filter: field "age": $gt needs a string, number or bool value, not array [1]`)
	f(`{"age":{"$eq":{"$gt":1}}}`, UserSchema,
		`filter: field "age": $eq needs a string, number or bool value, not object {"$gt":1}`)
	f(`{"age":{"$eq":[1,[2]]}}`, UserSchema,
		`filter: field "age": $eq needs a string, number or bool value, not array [2]`)
	f(`{"age":1e999}`, UserSchema,
		`filter: field "age": $eq needs a string, number or bool value, not number 1e999`)
	f(`{"members":{"$in":"x"}}`, ChannelSchema,
		`filter: field "members": $in needs an array of string values, not string "x"`)
	f(`{"target_id":{"$autocomplete":"x"}}`, SegmentTargetSchema,
		`filter: field "target_id": operator $autocomplete is not supported on this field; use one of $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists`)

	// depth
	deep := strings.Repeat(`{"$and":[`, MaxDepth) + `{"id":"x"}` + strings.Repeat(`]}`, MaxDepth)
	f(deep, UserSchema, `filter: filter nests deeper than 16 levels; flatten $and/$or/$nor`)
	// size
	big := `{"id":{"$in":[` + strings.Repeat(`"aaaaaaaaaaaaaaaaaaaa",`, MaxSize/22) + `"a"]}}`
	f(big, UserSchema, fmt.Sprintf(`filter: filter is %d bytes long; the limit is 262144`, len(big)))
	// conditions
	var sb strings.Builder
	sb.WriteString(`{"$or":[`)
	for i := 0; i <= MaxConditions; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"id":"x"}`)
	}
	sb.WriteString(`]}`)
	f(sb.String(), UserSchema, `filter: field "id": filter has more than 1000 conditions`)
	// $in length
	in := `{"id":{"$in":[` + strings.Repeat(`"a",`, MaxInValues) + `"a"]}}`
	f(in, UserSchema, `filter: field "id": $in has 10001 values; the limit is 10000`)

	// One level less than the limit compiles.
	ok := strings.Repeat(`{"$or":[`, MaxDepth-1) + `{"id":"x"}` + strings.Repeat(`]}`, MaxDepth-1)
	if _, err := Compile([]byte(ok), UserSchema); err != nil {
		t.Fatalf("unexpected error at depth %d: %s", MaxDepth-1, err)
	}
}

func TestErrorFields(t *testing.T) {
	_, err := Compile([]byte(`{"colour":{"$foo":1}}`), UserSchema)
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("unexpected error %v", err)
	}
	if fe.Field != "colour" || fe.Op != "$foo" {
		t.Fatalf("unexpected Error fields; got %+v", *fe)
	}
}

func TestIDs(t *testing.T) {
	f := func(filter, field string, want []string, wantOK bool) {
		t.Helper()
		got, ok := mustCompile(t, filter, UserSchema).IDs(field)
		if ok != wantOK || !slices.Equal(got, want) {
			t.Fatalf("unexpected IDs(%q) of %s; got %q, %v; want %q, %v", field, filter, got, ok, want, wantOK)
		}
	}
	f(`{}`, "id", nil, false)
	f(`{"id":"a"}`, "id", []string{"a"}, true)
	f(`{"id":{"$eq":"a"}}`, "id", []string{"a"}, true)
	f(`{"id":{"$in":["b","a","b"]}}`, "id", []string{"b", "a"}, true)
	f(`{"id":{"$in":[]}}`, "id", []string{}, true)
	f(`{"id":{"$in":["a","b","c"]},"role":"admin"}`, "id", []string{"a", "b", "c"}, true)
	f(`{"id":{"$in":["a","b","c"]},"$and":[{"id":{"$in":["c","a","z"]}}]}`, "id", []string{"a", "c"}, true)
	f(`{"id":{"$in":["a","b"],"$ne":"a"}}`, "id", []string{"a", "b"}, true)
	f(`{"id":"a","$or":[{"role":"x"},{"role":"y"}]}`, "id", []string{"a"}, true)
	f(`{"id":"a"}`, "name", nil, false)
	f(`{"$or":[{"id":"a"},{"id":"b"}]}`, "id", nil, false)
	f(`{"$nor":[{"id":"a"}]}`, "id", nil, false)
	f(`{"id":{"$ne":"a"}}`, "id", nil, false)
	f(`{"id":{"$gt":"a"}}`, "id", nil, false)
	f(`{"id":{"$nin":["a"]}}`, "id", nil, false)
	f(`{"id":null}`, "id", nil, false)
	f(`{"teams":"red"}`, "teams", nil, false) // list fields hold more than the value
	f(`{"custom":"x"}`, "custom", nil, false)

	// Returned slices are the caller's.
	fl := mustCompile(t, `{"id":{"$in":["a","b"]}}`, UserSchema)
	ids, _ := fl.IDs("id")
	ids[0] = "zzz"
	if again, _ := fl.IDs("id"); again[0] != "a" {
		t.Fatalf("IDs result aliases the filter")
	}
}

func TestCampaignAndSegmentSchemas(t *testing.T) {
	camp := mapDoc{
		"id":         StringValue("c1"),
		"status":     StringValue("running"),
		"segments":   ListValue([]string{"s1", "s2"}),
		"created_at": TimeValue(mustTime(t, "2024-01-01T00:00:00Z")),
	}
	f := func(filter string, s *Schema, d Doc, want bool) {
		t.Helper()
		if got := mustCompile(t, filter, s).Match(d); got != want {
			t.Fatalf("unexpected match of %s; got %v; want %v", filter, got, want)
		}
	}
	f(`{"id":{"$in":["c1"]}}`, CampaignSchema, camp, true)
	f(`{"segments":{"$contains":"s2"}}`, CampaignSchema, camp, true)
	f(`{"segments":"s3"}`, CampaignSchema, camp, false)
	f(`{"segments":{"$in":["s3","s1"]}}`, CampaignSchema, camp, true)
	f(`{"status":{"$in":["draft","running"]},"created_at":{"$lt":"2024-01-02T00:00:00Z"}}`, CampaignSchema, camp, true)
	f(`{"sender_id":{"$exists":false}}`, CampaignSchema, camp, true)

	seg := mapDoc{"id": StringValue("s1"), "type": StringValue("user"), "all_users": BoolValue(true), "name": StringValue("VIP users")}
	f(`{"type":"user","all_users":true}`, SegmentSchema, seg, true)
	f(`{"name":{"$autocomplete":"us"}}`, SegmentSchema, seg, true)
	f(`{"type":{"$in":["channel"]}}`, SegmentSchema, seg, false)

	tgt := mapDoc{"target_id": StringValue("m")}
	f(`{"target_id":{"$gte":"a","$lte":"n"}}`, SegmentTargetSchema, tgt, true)
	f(`{"target_id":{"$gte":"n"}}`, SegmentTargetSchema, tgt, false)
}

func TestNewSchemaPanics(t *testing.T) {
	f := func(fields ...Field) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Fatalf("expected a panic for %+v", fields)
			}
		}()
		NewSchema("x", false, fields...)
	}
	f(Field{Name: "a", Kind: KindString}, Field{Name: "a", Kind: KindNumber})
	f(Field{Name: "", Kind: KindString})
	f(Field{Name: "$a", Kind: KindString})
	f(Field{Name: "a"})
}

func TestOpString(t *testing.T) {
	f := func(o Op, want string) {
		t.Helper()
		if got := o.String(); got != want {
			t.Fatalf("unexpected Op.String(); got %q; want %q", got, want)
		}
	}
	f(OpEq, "$eq")
	f(OpAutocomplete, "$autocomplete")
	f(OpEq|OpIn, "$eq, $in")
	f(0, "(none)")
}
