package filter

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestParseSort(t *testing.T) {
	f := func(raw string, s *Schema, want string) {
		t.Helper()
		sf, err := ParseSort([]byte(raw), s)
		if err != nil {
			t.Fatalf("cannot parse sort %s: %s", raw, err)
		}
		if got := fmt.Sprint(sf); got != want {
			t.Fatalf("unexpected sort of %s; got %s; want %s", raw, got, want)
		}
	}
	f(``, UserSchema, `[]`)
	f(`null`, UserSchema, `[]`)
	f(`[]`, UserSchema, `[]`)
	f(`{}`, UserSchema, `[]`)
	f(`[{"field":"created_at","direction":-1}]`, UserSchema, `[{created_at created_at time -1}]`)
	f(`[{"field":"name","direction":1,"type":"string"},{"field":"age"}]`, UserSchema, `[{name name string 1} {age age any 1}]`)
	f(`{"last_message_at":-1,"created_at":1}`, ChannelSchema, `[{last_message_at last_message_at time -1} {created_at created_at time 1}]`)
	f(`[{"created_at":-1}]`, CampaignSchema, `[{created_at created_at time -1}]`)
	f(`[{"field":"target_id","direction":1}]`, SegmentTargetSchema, `[{target_id target_id string 1}]`)

	fe := func(raw string, s *Schema, want string) {
		t.Helper()
		_, err := ParseSort([]byte(raw), s)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("expected *Error for %s; got %v", raw, err)
		}
		if err.Error() != want {
			t.Fatalf("unexpected error for %s\ngot  %s\nwant %s", raw, err, want)
		}
	}
	fe(`[{"field":"colour","direction":1}]`, SegmentSchema,
		`filter: field "colour": cannot sort by unknown field; segments can be sorted by id, name, type, all_users, created_at, updated_at`)
	fe(`{"teams":1}`, UserSchema, `filter: field "teams": cannot sort by a list field`)
	fe(`{"name":2}`, UserSchema, `filter: field "name": sort direction must be 1 or -1, not number 2`)
	fe(`{"name":"asc"}`, UserSchema, `filter: field "name": sort direction must be 1 or -1, not string "asc"`)
	fe(`{"name":1,"name":-1}`, UserSchema, `filter: field "name": sort names the field twice`)
	fe(`{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1}`, UserSchema, `filter: sort has more than 5 fields`)
	fe(`[{"field":1}]`, UserSchema, `filter: sort "field" must be a non-empty string, not number 1`)
	fe(`[1]`, UserSchema, `filter: sort entries must be objects like {"field":"created_at","direction":-1}, not number 1`)
	fe(`"name"`, UserSchema, `filter: sort must be an array like [{"field":"created_at","direction":-1}] or an object like {"created_at":-1}, not string "name"`)
	fe(`[`, UserSchema, `filter: sort is not valid JSON`)
}

func TestCompare(t *testing.T) {
	docs := []mapDoc{
		{"id": StringValue("a"), "n": NumberValue(2), "c": RawValue([]byte(`"x"`)), "t": TimeValue(3)},
		{"id": StringValue("b"), "n": NumberValue(1), "c": RawValue([]byte(`10`)), "t": TimeValue(1)},
		{"id": StringValue("c"), "c": RawValue([]byte(`9`)), "t": TimeValue(2)},
		{"id": StringValue("d"), "n": NumberValue(1), "c": RawValue([]byte(`null`)), "t": TimeValue(2)},
		{"id": StringValue("e"), "n": NumberValue(2), "c": RawValue([]byte(`true`))},
	}
	s := NewSchema("things", true,
		Field{Name: "id", Kind: KindString},
		Field{Name: "n", Kind: KindNumber},
		Field{Name: "t", Kind: KindTime},
	)
	f := func(sortRaw, want string) {
		t.Helper()
		sf, err := ParseSort([]byte(sortRaw), s)
		if err != nil {
			t.Fatalf("cannot parse sort: %s", err)
		}
		ds := slices.Clone(docs)
		slices.SortStableFunc(ds, func(a, b mapDoc) int { return Compare(a, b, sf) })
		got := ""
		for _, d := range ds {
			got += d["id"].Str
		}
		if got != want {
			t.Fatalf("unexpected order for %s; got %s; want %s", sortRaw, got, want)
		}
	}
	f(`{"id":-1}`, "edcba")
	f(`{"n":1}`, "cbdae") // missing first
	f(`{"n":-1,"id":1}`, "aebdc")
	f(`{"t":1}`, "ebcda") // missing first, then 1,2,2,3 (stable)
	f(`{"c":1}`, "dcbae") // null < 9 < 10 < "x" < true
	f(`{"c":-1}`, "eabcd")
	f(`[]`, "abcde")
}
