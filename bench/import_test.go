package bench

import (
	"bytes"
	"io"
	"net/http"
	neturl "net/url"
	"testing"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/httpd"
	"github.com/campaignd/campaignd/storage"
	"github.com/campaignd/campaignd/wire"
)

const (
	benchKey    = "bench-key"
	benchSecret = "bench-secret"
)

// startServer runs a real campaignd (Pebble in dir, engine, HTTP on loopback) until cleanup.
func startServer(tb testing.TB, dir string) (url string, e *engine.Engine) {
	tb.Helper()
	db, err := storage.Open(storage.Options{Path: dir})
	if err != nil {
		tb.Fatalf("cannot open storage: %s", err)
	}
	e, err = engine.Open(db, engine.Options{Encoder: wire.Legacy{}, APIKey: benchKey, APISecret: benchSecret})
	if err != nil {
		tb.Fatalf("cannot open engine: %s", err)
	}
	if err := e.Start(); err != nil {
		tb.Fatalf("cannot start engine: %s", err)
	}
	srv, err := httpd.New(e, httpd.Options{ListenAddr: "127.0.0.1:0", APIKey: benchKey, APISecret: benchSecret})
	if err != nil {
		tb.Fatalf("cannot create server: %s", err)
	}
	if err := srv.Listen(); err != nil {
		tb.Fatalf("cannot listen: %s", err)
	}
	go func() { _ = srv.Serve() }()
	tb.Cleanup(func() {
		_ = srv.Shutdown()
		e.Stop()
		_ = db.Close()
	})
	return "http://" + srv.Addr(), e
}

func TestImportUsersWorkload(t *testing.T) {
	url, e := startServer(t, t.TempDir())
	body := UsersNDJSON(25000, 0)
	res, err := ImportUsers(ImportUsersConfig{URL: url, APIKey: benchKey, APISecret: benchSecret}, body)
	if err != nil {
		t.Fatal(err)
	}
	if res.Users != 25000 || res.Bytes != len(body) {
		t.Fatalf("unexpected result %+v", res)
	}
	u, ok, err := e.GetUser("user-24999")
	if err != nil || !ok || u.Name != "User Number 24999" || len(u.Teams) != 1 {
		t.Fatalf("unexpected stored user %+v %v %v", u, ok, err)
	}
}

// BenchmarkImportUsers imports 1,000,000 users (goal ≤ 10 s) over loopback into
// a fresh Pebble store per iteration: go test ./bench -run '^$' -bench ImportUsers -benchtime 1x
func BenchmarkImportUsers(b *testing.B) {
	const n = 1_000_000
	body := UsersNDJSON(n, 0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var total ImportUsersResult
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		url, _ := startServer(b, b.TempDir())
		b.StartTimer()
		res, err := ImportUsers(ImportUsersConfig{URL: url, APIKey: benchKey, APISecret: benchSecret}, body)
		if err != nil {
			b.Fatal(err)
		}
		if res.Users != n {
			b.Fatalf("imported %d users; want %d", res.Users, n)
		}
		total.Users += res.Users
		total.Duration += res.Duration
	}
	b.ReportMetric(total.UsersPerSec(), "users/s")
}

// importedEngine returns an engine over a fresh store holding n generated users (imported through
// the engine, without HTTP).
func importedEngine(b *testing.B, n int) (string, *engine.Engine) {
	b.Helper()
	url, e := startServer(b, b.TempDir())
	res, err := e.ImportUsers(bytes.NewReader(UsersNDJSON(n, 0)), engine.ImportOptions{NewDecoder: wire.NewUserDecoder})
	if err != nil || res.Imported != n {
		b.Fatalf("cannot import: %+v %v", res, err)
	}
	if err := e.DB().Flush(); err != nil {
		b.Fatal(err)
	}
	return url, e
}

// BenchmarkScanUsers scans 1,000,000 users matching a filter on each (what sizing a filter segment
// does): go test ./bench -run '^$' -bench ScanUsers -benchtime 3x
func BenchmarkScanUsers(b *testing.B) {
	const n = 1_000_000
	_, e := importedEngine(b, n)
	f, err := filter.Compile([]byte(`{"country":"NL","age":{"$gte":30},"team":{"$in":["team-1","team-2","team-3"]}}`), filter.UserSchema)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	matched := 0
	for i := 0; i < b.N; i++ {
		matched = 0
		err := e.ScanUsers(func(_ uint32, u *storage.User) bool {
			if f.Match((*engine.UserDoc)(u)) {
				matched++
			}
			return true
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
	if matched == 0 {
		b.Fatalf("the filter matched nobody")
	}
}

// BenchmarkQueryUsers measures GET /users over loopback against 1,000,000 users.
func BenchmarkQueryUsers(b *testing.B) {
	const n = 1_000_000
	url, _ := importedEngine(b, n)
	client := &http.Client{}
	token := ServerToken(benchSecret)
	for _, bc := range []struct{ name, payload string }{
		{"by=id", `{"filter_conditions":{"id":{"$in":["user-5","user-500000","user-999999"]}},"sort":[],"presence":false}`},
		{"by=custom/scan", `{"filter_conditions":{"country":"JP","age":{"$gt":70}},"sort":[{"field":"created_at","direction":-1}],"presence":false,"limit":100}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			u := url + "/users?api_key=" + benchKey + "&payload=" + neturl.QueryEscape(bc.payload)
			for i := 0; i < b.N; i++ {
				req, _ := http.NewRequest("GET", u, nil)
				req.Header.Set("Authorization", token)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"users":[{`)) {
					b.Fatalf("unexpected reply %d %.300s", resp.StatusCode, body)
				}
			}
		})
	}
}
