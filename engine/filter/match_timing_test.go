package filter

import (
	"fmt"
	"testing"
)

func benchUsers(b *testing.B, n int) []testUser {
	base := mustTime(b, "2024-01-01T00:00:00Z")
	countries := []string{"UK", "FR", "DE", "NO", "US"}
	teams := [][]string{{"red"}, {"blue"}, {"red", "blue"}, nil}
	us := make([]testUser, n)
	for i := range us {
		us[i] = testUser{
			ID:         fmt.Sprintf("user-%06d", i),
			Name:       fmt.Sprintf("User Number %d", i),
			Role:       []string{"user", "admin"}[i%2],
			Teams:      teams[i%len(teams)],
			Banned:     i%17 == 0,
			CreatedAt:  base + int64(i)*1e9,
			LastActive: base + int64(i)*2e9,
			Custom: []byte(fmt.Sprintf(`{"plan":"pro","age":%d,"country":%q,"vip":%v,"tags":["a","b%d"],"address":{"city":"C%d","zip":"Z"}}`,
				18+i%60, countries[i%len(countries)], i%3 == 0, i%10, i%100)),
		}
	}
	return us
}

func BenchmarkMatch(b *testing.B) {
	users := benchUsers(b, 4096)
	for _, bc := range []struct{ name, filter string }{
		{"empty", `{}`},
		{"typed/eq", `{"role":"admin"}`},
		{"typed/in-map", `{"id":{"$in":["user-000001","user-000002","user-000003","user-000004","user-000005","user-000006","user-000007","user-000008","user-000009","user-000010"]}}`},
		{"typed/time-range", `{"created_at":{"$gte":"2024-01-01T00:10:00Z","$lt":"2024-01-01T00:50:00Z"}}`},
		{"typed/list", `{"teams":{"$in":["red","green"]}}`},
		{"typed/autocomplete", `{"name":{"$autocomplete":"numb"}}`},
		{"custom/eq", `{"country":"NO"}`},
		{"custom/num-range", `{"age":{"$gte":30,"$lt":40}}`},
		{"custom/dotted", `{"address.city":"C42"}`},
		{"custom/array-contains", `{"tags":{"$contains":"b3"}}`},
		{"segment/mixed", `{"role":"user","banned":false,"$or":[{"vip":true},{"age":{"$gt":60}}],"country":{"$in":["UK","FR"]}}`},
	} {
		fl := mustCompile(b, bc.filter, UserSchema)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			matched := 0
			for i := 0; b.Loop(); i++ {
				if fl.Match(&users[i&(len(users)-1)]) {
					matched++
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "matches/s")
			_ = matched
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	raw := []byte(`{"role":"user","banned":false,"$or":[{"vip":true},{"age":{"$gt":60}}],"country":{"$in":["UK","FR"]}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Compile(raw, UserSchema); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookupJSON(b *testing.B) {
	obj := []byte(`{"plan":"pro","age":33,"country":"UK","vip":true,"tags":["a","b3"],"address":{"city":"C42","zip":"Z"},"last":1}`)
	for _, path := range []string{"plan", "last", "address.zip", "missing"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(obj)))
			for b.Loop() {
				LookupJSON(obj, path)
			}
		})
	}
}
