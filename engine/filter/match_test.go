package filter

import (
	"testing"
)

func TestMatchUser(t *testing.T) {
	u := sampleUser(t)
	f := func(filter string, want bool) {
		t.Helper()
		fl := mustCompile(t, filter, UserSchema)
		if got := fl.Match(u); got != want {
			t.Fatalf("unexpected match of %s; got %v; want %v", filter, got, want)
		}
	}
	// empty
	f(``, true)
	f(`null`, true)
	f(`{}`, true)
	f(`{"$and":[{}]}`, true)

	// string: implicit $eq, $eq, $ne
	f(`{"id":"u-42"}`, true)
	f(`{"id":"u-43"}`, false)
	f(`{"id":{"$eq":"u-42"}}`, true)
	f(`{"id":{"$ne":"u-42"}}`, false)
	f(`{"id":{"$ne":"x"}}`, true)
	// string ordering
	f(`{"id":{"$gt":"u-41"}}`, true)
	f(`{"id":{"$gt":"u-42"}}`, false)
	f(`{"id":{"$gte":"u-42"}}`, true)
	f(`{"id":{"$lt":"u-42"}}`, false)
	f(`{"id":{"$lte":"u-42"}}`, true)
	f(`{"id":{"$gt":"u-40","$lt":"u-5"}}`, true)
	f(`{"id":{"$gt":"u-40","$lt":"u-41"}}`, false)
	// $in / $nin, small and large (map) sets
	f(`{"id":{"$in":["a","u-42"]}}`, true)
	f(`{"id":{"$in":["a","b"]}}`, false)
	f(`{"id":{"$in":[]}}`, false)
	f(`{"id":{"$in":["1","2","3","4","5","6","7","8","9","u-42"]}}`, true)
	f(`{"id":{"$in":["1","2","3","4","5","6","7","8","9","10"]}}`, false)
	f(`{"id":{"$nin":["a","u-42"]}}`, false)
	f(`{"id":{"$nin":["a","b"]}}`, true)
	f(`{"id":{"$nin":[]}}`, true)
	f(`{"id":{"$nin":["1","2","3","4","5","6","7","8","9","u-42"]}}`, false)
	// $exists
	f(`{"id":{"$exists":true}}`, true)
	f(`{"id":{"$exists":false}}`, false)
	// $contains on a string: substring, case-sensitive
	f(`{"name":{"$contains":"Love"}}`, true)
	f(`{"name":{"$contains":"love"}}`, false)
	// $autocomplete: case-insensitive word prefix
	f(`{"name":{"$autocomplete":"ada"}}`, true)
	f(`{"name":{"$autocomplete":"LOVE"}}`, true)
	f(`{"name":{"$autocomplete":"byr"}}`, true) // after '-'
	f(`{"name":{"$autocomplete":"ove"}}`, false)
	f(`{"name":{"$autocomplete":"ada lov"}}`, true)
	f(`{"name":{"$autocomplete":"lovelace-b"}}`, true)
	f(`{"name":{"$autocomplete":"x"}}`, false)
	f(`{"name":{"$autocomplete":"Ada Lovelace-Byron!"}}`, false)

	// bool
	f(`{"banned":false}`, true)
	f(`{"banned":true}`, false)
	f(`{"banned":{"$ne":true}}`, true)
	f(`{"banned":{"$in":[true]}}`, false)
	f(`{"banned":{"$nin":[true]}}`, true)

	// list field and its alias
	f(`{"teams":"red"}`, true)
	f(`{"teams":"green"}`, false)
	f(`{"teams":{"$contains":"blue"}}`, true)
	f(`{"teams":{"$in":["green","blue"]}}`, true)
	f(`{"teams":{"$in":["green","pink"]}}`, false)
	f(`{"teams":{"$nin":["green","blue"]}}`, false)
	f(`{"teams":{"$nin":["green"]}}`, true)
	f(`{"teams":{"$eq":["blue","red"]}}`, true)
	f(`{"teams":{"$eq":["blue"]}}`, false)
	f(`{"teams":{"$eq":["blue","red","green"]}}`, false)
	f(`{"teams":{"$ne":"red"}}`, false)
	f(`{"team":"red"}`, true)
	f(`{"team":{"$in":["x","blue"]}}`, true)
	f(`{"team":"green"}`, false)

	// time
	f(`{"created_at":"2024-03-01T10:00:00Z"}`, true)
	f(`{"created_at":"2024-03-01T11:00:00+01:00"}`, true) // same instant
	f(`{"created_at":{"$gt":"2024-02-29T23:59:59.999999999Z"}}`, true)
	f(`{"created_at":{"$gt":"2024-03-01T10:00:00Z"}}`, false)
	f(`{"created_at":{"$gte":"2024-03-01T10:00:00.000Z"}}`, true)
	f(`{"created_at":{"$lt":"2024-03-01T10:00:00.000001Z"}}`, true)
	f(`{"created_at":{"$lte":"2024-01-01T00:00:00Z"}}`, false)
	f(`{"created_at":{"$in":["2020-01-01T00:00:00Z","2024-03-01T10:00:00Z"]}}`, true)
	f(`{"last_active":{"$gt":"2024-05-01T10:00:00.4Z","$lt":"2024-05-01T10:00:00.6Z"}}`, true)
	f(`{"last_active":{"$exists":true}}`, true)
	f(`{"updated_at":{"$ne":"2024-03-01T10:00:00Z"}}`, false)

	// logical
	f(`{"$and":[{"id":"u-42"},{"role":"admin"}]}`, true)
	f(`{"$and":[{"id":"u-42"},{"role":"user"}]}`, false)
	f(`{"$or":[{"id":"x"},{"role":"admin"}]}`, true)
	f(`{"$or":[{"id":"x"},{"role":"user"}]}`, false)
	f(`{"$nor":[{"id":"x"},{"role":"user"}]}`, true)
	f(`{"$nor":[{"id":"x"},{"role":"admin"}]}`, false)
	f(`{"id":"u-42","role":"user"}`, false)
	f(`{"id":"u-42","role":"admin"}`, true)
	f(`{"$or":[{"$and":[{"id":"u-42"},{"$nor":[{"banned":true}]}]},{"id":"zzz"}]}`, true)
	f(`{"role":"admin","$or":[{"team":"green"},{"age":{"$gt":40}}]}`, false)
	f(`{"role":"admin","$or":[{"team":"green"},{"age":{"$gt":30}}]}`, true)
}

func TestMatchCustom(t *testing.T) {
	u := sampleUser(t)
	f := func(filter string, want bool) {
		t.Helper()
		fl := mustCompile(t, filter, UserSchema)
		if got := fl.Match(u); got != want {
			t.Fatalf("unexpected match of %s; got %v; want %v", filter, got, want)
		}
	}
	// numbers compare as numbers
	f(`{"age":36}`, true)
	f(`{"age":36.0}`, true)
	f(`{"age":3.6e1}`, true)
	f(`{"age":"36"}`, false)     // a string is not a number
	f(`{"age":{"$gt":9}}`, true) // 36 > 9 numerically
	f(`{"age":{"$gt":100}}`, false)
	f(`{"age":{"$gte":36,"$lte":36}}`, true)
	f(`{"age":{"$lt":"9"}}`, false) // no cross-type ordering
	f(`{"age":{"$ne":"36"}}`, true)
	f(`{"age":{"$in":[1,36]}}`, true)
	f(`{"age":{"$in":["36"]}}`, false)
	f(`{"age":{"$nin":[1,2]}}`, true)
	f(`{"score":{"$lt":7.51}}`, true)
	// strings compare as strings
	f(`{"price":"12"}`, true)
	f(`{"price":12}`, false)
	f(`{"price":{"$gt":"100"}}`, true) // "12" > "100" as strings
	f(`{"country":"UK"}`, true)
	f(`{"country":{"$in":["FR","UK"]}}`, true)
	f(`{"country":{"$in":["a","b","c","d","e","f","g","h","i","UK"]}}`, true)
	f(`{"country":{"$contains":"K"}}`, true)
	f(`{"country":{"$autocomplete":"u"}}`, true)
	// bools
	f(`{"vip":true}`, true)
	f(`{"vip":false}`, false)
	f(`{"vip":"true"}`, false)
	f(`{"vip":{"$ne":false}}`, true)
	// null and missing
	f(`{"nick":null}`, true)
	f(`{"nick":{"$exists":true}}`, true)
	f(`{"nick":{"$ne":null}}`, false)
	f(`{"missing":null}`, true)
	f(`{"missing":{"$ne":null}}`, false)
	f(`{"missing":{"$ne":1}}`, true)
	f(`{"missing":{"$nin":[1]}}`, true)
	f(`{"missing":{"$exists":false}}`, true)
	f(`{"missing":{"$exists":true}}`, false)
	f(`{"missing":1}`, false)
	f(`{"missing":{"$gt":1}}`, false)
	f(`{"age":null}`, false)
	// arrays
	f(`{"tags":"math"}`, true)
	f(`{"tags":3}`, true)
	f(`{"tags":"3"}`, false)
	f(`{"tags":{"$contains":"poetry"}}`, true)
	f(`{"tags":{"$contains":"art"}}`, false)
	f(`{"tags":{"$in":["art","math"]}}`, true)
	f(`{"tags":{"$nin":["art","math"]}}`, false)
	f(`{"tags":{"$eq":["math","poetry",3]}}`, true)
	f(`{"tags":{"$eq":["poetry","math",3]}}`, false) // custom arrays compare in order
	f(`{"tags":{"$eq":["math","poetry"]}}`, false)
	f(`{"tags":{"$gt":2}}`, true)
	// nested values by dotted path; keys holding dots; escaped keys and values
	f(`{"address.city":"London"}`, true)
	f(`{"address.city":{"$autocomplete":"lon"}}`, true)
	f(`{"address.zip":{"$in":["N1","N2"]}}`, true)
	f(`{"address.nowhere":{"$exists":false}}`, true)
	f(`{"a.b":1}`, true)
	f(`{"esc\"key":"q\"uote été"}`, true)
	f(`{"esc\"key":{"$contains":"été"}}`, true)
	f(`{"esc\"key":{"$autocomplete":"ÉT"}}`, true)
	f(`{"esc\"key":{"$in":["a","b","c","d","e","f","g","h","i","q\"uote été"]}}`, true)
}

func TestMatchChannel(t *testing.T) {
	c := &testChannel{Type: "messaging", ID: "general", CreatedBy: "ada", Members: []string{"ada", "bob"}, Custom: []byte(`{"color":"red","level":3}`)}
	f := func(filter string, want bool) {
		t.Helper()
		fl := mustCompile(t, filter, ChannelSchema)
		if got := fl.Match(c); got != want {
			t.Fatalf("unexpected match of %s; got %v; want %v", filter, got, want)
		}
	}
	f(`{"cid":"messaging:general"}`, true)
	f(`{"type":"messaging","id":{"$in":["general"]}}`, true)
	f(`{"members":{"$in":["bob","carl"]}}`, true)
	f(`{"members":{"$in":["carl"]}}`, false)
	f(`{"members":{"$eq":["bob","ada"]}}`, true)
	f(`{"members":{"$eq":["ada"]}}`, false)
	f(`{"members":"ada"}`, true)
	f(`{"members":{"$contains":"bob"}}`, true)
	f(`{"created_by_id":"ada"}`, true)
	f(`{"last_message_at":{"$exists":false}}`, true)
	f(`{"last_message_at":{"$gt":"2020-01-01T00:00:00Z"}}`, false)
	f(`{"color":"red","level":{"$gte":3}}`, true)
	f(`{"team":{"$ne":"x"}}`, true)
}

func TestMatchTypedCustom(t *testing.T) {
	// A Doc may answer custom fields with typed values too.
	d := mapDoc{"x": NumberValue(5), "s": StringValue("hello world"), "b": BoolValue(true), "k": {Kind: KindInvalid}}
	f := func(filter string, want bool) {
		t.Helper()
		fl := mustCompile(t, filter, UserSchema)
		if got := fl.Match(d); got != want {
			t.Fatalf("unexpected match of %s; got %v; want %v", filter, got, want)
		}
	}
	f(`{"x":5}`, true)
	f(`{"x":{"$gt":4,"$lt":6}}`, true)
	f(`{"x":{"$in":[1,5]}}`, true)
	f(`{"x":"5"}`, false)
	f(`{"s":{"$autocomplete":"wor"}}`, true)
	f(`{"s":{"$contains":"lo w"}}`, true)
	f(`{"b":true}`, true)
	f(`{"k":{"$exists":false}}`, true) // KindInvalid counts as missing
	f(`{"name":{"$exists":false}}`, true)
}

func TestNilFilter(t *testing.T) {
	var fl *Filter
	if !fl.Match(mapDoc{}) || !fl.IsEmpty() {
		t.Fatalf("nil filter must match everything")
	}
	if _, ok := fl.IDs("id"); ok {
		t.Fatalf("nil filter must not pin ids")
	}
}

func TestIsEmpty(t *testing.T) {
	f := func(filter string, want bool) {
		t.Helper()
		if got := mustCompile(t, filter, UserSchema).IsEmpty(); got != want {
			t.Fatalf("unexpected IsEmpty of %s; got %v; want %v", filter, got, want)
		}
	}
	f(``, true)
	f(` null `, true)
	f(`{}`, true)
	f(`{"$and":[{},{"$and":[{}]}]}`, true)
	f(`{"id":"x"}`, false)
	f(`{"$or":[{}]}`, false)
}

func TestWordPrefix(t *testing.T) {
	f := func(s, q string, want bool) {
		t.Helper()
		if got := wordPrefix(s, q); got != want {
			t.Fatalf("unexpected wordPrefix(%q, %q); got %v; want %v", s, q, got, want)
		}
	}
	f("Hello World", "wor", true)
	f("Hello World", "orl", false)
	f("hello_world", "wor", true) // '_' separates words
	f("Émile Zola", "émi", true)
	f("Zoë Saldaña", "sald", true)
	f("über", "Ü", false) // q must be lowercase (Compile lowercases it)
	f("x\xffabc", "abc", true)
	f("", "a", false)
	f("abc", "", true)
}
