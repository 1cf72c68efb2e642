//go:build !race

package filter

import "testing"

func TestMatchAllocs(t *testing.T) {
	u := sampleUser(t)
	f := func(filter string) {
		t.Helper()
		fl := mustCompile(t, filter, UserSchema)
		if n := testing.AllocsPerRun(100, func() { fl.Match(u) }); n != 0 {
			t.Fatalf("unexpected allocations matching %s; got %v; want 0", filter, n)
		}
	}
	f(`{"id":{"$in":["a","b","u-42"]}}`)
	f(`{"id":{"$in":["1","2","3","4","5","6","7","8","9","u-42"]}}`)
	f(`{"role":"admin","banned":false,"teams":{"$in":["red"]}}`)
	f(`{"created_at":{"$gte":"2024-01-01T00:00:00Z"},"last_active":{"$lt":"2025-01-01T00:00:00Z"}}`)
	f(`{"name":{"$autocomplete":"lov"}}`)
	f(`{"name":{"$contains":"Love"}}`)
	f(`{"age":{"$gte":18},"country":{"$in":["UK","FR"]},"vip":true}`)
	f(`{"country":{"$in":["a","b","c","d","e","f","g","h","i","UK"]}}`)
	f(`{"tags":{"$contains":"poetry"},"address.city":"London","nick":null}`)
	f(`{"$or":[{"missing":{"$exists":true}},{"$nor":[{"score":{"$lt":1}}]}]}`)
	f(`{"team":"red","price":{"$gt":"1"}}`)
}
