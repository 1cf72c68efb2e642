package httpd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
)

// dialRaw opens a TCP connection to ts.
func (ts *testServer) dialRaw() net.Conn {
	ts.t.Helper()
	c, err := net.Dial("tcp", ts.srv.Addr())
	if err != nil {
		ts.t.Fatalf("cannot dial: %s", err)
	}
	ts.t.Cleanup(func() { c.Close() })
	return c
}

// readReply reads one HTTP response from c (within timeout) and decodes its JSON body.
func readReply(t *testing.T, c net.Conn, timeout time.Duration) (*http.Response, map[string]any) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("cannot read a response: %s", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp, m
}

// wantClosed checks that the server closes c within timeout (after any reply bytes).
func wantClosed(t *testing.T, c net.Conn, timeout time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server did not close the connection within %s", timeout)
	}
}

// TestQueryUsersWith100IDsInTheURL: the SDK sends queryUsers' filter in the URL; a full page of
// 100 UUIDs (about 5 KB, 431 above ~79 ids before) is answered, and a request line past
// MaxRequestHeaderSize gets a Stream-shaped 431 naming the limit.
func TestQueryUsersWith100IDsInTheURL(t *testing.T) {
	ts := mustStartTestServer(t)
	ids := make([]string, 100)
	users := make([]storage.User, 100)
	for i := range ids {
		ids[i] = uuid.NewString()
		users[i] = storage.User{ID: ids[i]}
	}
	if err := ts.E.UpsertUsers(users); err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"filter_conditions": map[string]any{"id": map[string]any{"$in": ids}}, "limit": 100})
	path := "/users?payload=" + url.QueryEscape(string(payload))
	status, m := ts.do("GET", path, nil)
	if status != 200 || len(m["users"].([]any)) != 100 {
		t.Fatalf("queryUsers with 100 ids in the URL (%d bytes): status %d, %d users", len(path), status, len(m["users"].([]any)))
	}

	status, m = ts.do("GET", "/users?payload="+strings.Repeat("x", 40<<10), nil)
	wantErrorMsg(t, status, m, 431, 24, "exceed 32768 bytes (-http.maxRequestHeaderSize)")
}

// TestHeaderReadTimeout: a slowloris client (headers a byte at a time) and a silent one are cut
// at HeaderReadTimeout with a Stream-shaped 408; a keep-alive connection is closed after
// IdleTimeout; a body may take longer than the header timeout.
func TestHeaderReadTimeout(t *testing.T) {
	ts := mustStartTestServerWith(t, t.TempDir(), engine.Options{}, Options{HeaderReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})

	slow := ts.dialRaw()
	start := time.Now()
	if _, err := io.WriteString(slow, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one header byte every 50 ms, forever
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := slow.Write([]byte("X")); err != nil {
				return
			}
		}
	}()
	resp, m := readReply(t, slow, 5*time.Second)
	if resp.StatusCode != 408 || m["code"] != 23.0 || !strings.Contains(m["message"].(string), "-http.headerReadTimeout") {
		t.Fatalf("unexpected reply to a slowloris client: %d %v", resp.StatusCode, m)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("the slowloris client was held %s", took)
	}
	wantClosed(t, slow, 2*time.Second)

	// A client that never sends a byte is closed (without a reply) at the header timeout.
	silent := ts.dialRaw()
	wantClosed(t, silent, 3*time.Second)

	// Keep-alive: a served connection is closed once idle for IdleTimeout.
	ka := ts.dialRaw()
	fmt.Fprintf(ka, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := readReply(t, ka, 5*time.Second); resp.StatusCode != 200 {
		t.Fatalf("unexpected healthz status %d", resp.StatusCode)
	}
	wantClosed(t, ka, 3*time.Second)

	// A body sent in pieces over longer than the header timeout is read (BodyReadTimeout).
	ts.mustUsers("admin")
	body := `{"users":{"b":{"id":"b","name":"slow body"}}}`
	c := ts.dialRaw()
	fmt.Fprintf(c, "POST /users?api_key=%s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", testKey, ts.token, len(body))
	for i := 0; i < len(body); i += 10 {
		time.Sleep(60 * time.Millisecond)
		if _, err := io.WriteString(c, body[i:min(i+10, len(body))]); err != nil {
			t.Fatalf("the server closed a connection sending its body: %s", err)
		}
	}
	if resp, m := readReply(t, c, 5*time.Second); resp.StatusCode != 201 {
		t.Fatalf("a slowly sent body was refused: %d %v", resp.StatusCode, m)
	}
}

// TestMaxConcurrentConns: past MaxConcurrentConns a connection gets a Stream-shaped 503 and is
// closed; once a connection closes, new ones are served again.
func TestMaxConcurrentConns(t *testing.T) {
	ts := mustStartTestServerWith(t, t.TempDir(), engine.Options{}, Options{MaxConcurrentConns: 5})
	var held []net.Conn
	for range 5 {
		c := ts.dialRaw()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") // served, then idle
		if resp, _ := readReply(t, c, 5*time.Second); resp.StatusCode != 200 {
			t.Fatalf("unexpected status %d", resp.StatusCode)
		}
		held = append(held, c)
	}
	extra := ts.dialRaw()
	resp, m := readReply(t, extra, 5*time.Second)
	if resp.StatusCode != 503 || m["code"] != -1.0 || m["StatusCode"] != 503.0 || !strings.Contains(m["message"].(string), "at most 5 connections") {
		t.Fatalf("unexpected reply past the connection limit: %d %v", resp.StatusCode, m)
	}
	wantClosed(t, extra, 2*time.Second)

	held[0].Close()
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		c, err := net.Dial("tcp", ts.srv.Addr())
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestDeclaredOversizeBody: a body declared over MaxBodySize gets its 413 before any of it is
// read (it was drained, up to 256 MiB, before), the client reads that reply, and the connection
// closes; with Expect: 100-continue there is no 100 Continue but the 413.
func TestDeclaredOversizeBody(t *testing.T) {
	ts := mustStartTestServer(t) // MaxBodySize 1 MiB

	// Headers and one byte: the 413 comes without more of the body.
	c := ts.dialRaw()
	fmt.Fprintf(c, "POST /users?api_key=%s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", testKey, ts.token, 100<<20)
	resp, m := readReply(t, c, 5*time.Second)
	if resp.StatusCode != 413 || m["code"] != 22.0 || !strings.Contains(m["message"].(string), "the limit is 1048576 bytes") {
		t.Fatalf("unexpected reply to a declared oversize body: %d %v", resp.StatusCode, m)
	}
	wantClosed(t, c, 3*time.Second)

	// A real client sending 100 MB gets the 413 while sending. The server drains at most
	// lingerMaxBytes after its reply (so that the client is still reading when the connection
	// closes): Go's client does not stop sending on an early reply, and a client that has not
	// read the reply when the drain ends sees a reset instead; either way the server read no
	// more than that.
	body := &countingReader{r: io.LimitReader(zeros{}, 100<<20)}
	req, _ := http.NewRequest("POST", ts.URL+"/users?api_key="+testKey, body)
	req.ContentLength = 100 << 20
	req.Header.Set("Authorization", ts.token)
	hresp, err := http.DefaultClient.Do(req)
	sent := body.n.Load()
	if sent > lingerMaxBytes+16<<20 {
		t.Fatalf("the client sent %d bytes of a refused body", sent)
	}
	if err != nil {
		if sent < lingerMaxBytes {
			t.Fatalf("the client did not get the 413: %s (sent %d bytes)", err, sent)
		}
		t.Logf("the client sent %d bytes and did not read the 413 (%s)", sent, err)
	} else {
		hresp.Body.Close()
		if hresp.StatusCode != 413 {
			t.Fatalf("unexpected status %d", hresp.StatusCode)
		}
	}

	// Expect: 100-continue with an oversize body: the 413 instead of 100 Continue.
	c = ts.dialRaw()
	fmt.Fprintf(c, "POST /users?api_key=%s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", testKey, ts.token, 100<<20)
	resp, m = readReply(t, c, 5*time.Second)
	if resp.StatusCode != 413 || m["code"] != 22.0 || !strings.Contains(m["message"].(string), "-http.maxBodySize") {
		t.Fatalf("unexpected reply to Expect: 100-continue with an oversize body: %d %v", resp.StatusCode, m)
	}
	wantClosed(t, c, 3*time.Second)

	// Expect: 100-continue within the limit: 100 Continue, then the request is served.
	ok := `{"users":{"e":{"id":"e"}}}`
	c = ts.dialRaw()
	fmt.Fprintf(c, "POST /users?api_key=%s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", testKey, ts.token, len(ok))
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 Continue") {
		t.Fatalf("unexpected interim response %q (%v)", line, err)
	}
	_, _ = br.ReadString('\n')
	io.WriteString(c, ok)
	hr, err := http.ReadResponse(br, nil)
	if err != nil || hr.StatusCode != 201 {
		t.Fatalf("unexpected response after 100 Continue: %v %v", hr, err)
	}
	hr.Body.Close()
}

// TestShutdownTimeout: Shutdown returns within ShutdownTimeout however clients behave: one holds
// a half-sent body, one sends headers a byte at a time, one keeps an idle connection.
func TestShutdownTimeout(t *testing.T) {
	ts := mustStartTestServerWith(t, t.TempDir(), engine.Options{}, Options{ShutdownTimeout: time.Second, HeaderReadTimeout: time.Minute, BodyReadTimeout: time.Minute})
	half := ts.dialRaw()
	fmt.Fprintf(half, "POST /users?api_key=%s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", testKey, ts.token)
	slow := ts.dialRaw()
	io.WriteString(slow, "GET /healthz HTTP/1.1\r\nHo")
	idle := ts.dialRaw()
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	readReply(t, idle, 5*time.Second)
	time.Sleep(100 * time.Millisecond) // the half-sent request reaches its handler

	start := time.Now()
	err := ts.srv.Shutdown()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("shutdown failed: %s", err)
	}
	if took > 2*time.Second {
		t.Fatalf("shutdown took %s with a 1 s timeout", took)
	}
	for _, c := range []net.Conn{half, slow, idle} {
		wantClosed(t, c, 2*time.Second)
	}
	ts.E.Stop()
	_ = ts.DB.Close()
	ts.srv = nil
}
