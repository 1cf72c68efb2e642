package bench

import (
	"testing"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/httpd"
	"github.com/campaignd/campaignd/storage"
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
	e, err = engine.Open(db, engine.Options{APIKey: benchKey, APISecret: benchSecret})
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

// BenchmarkImportUsers imports 1,000,000 users (issue #2 item 6: goal ≤ 10 s) over loopback into
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
