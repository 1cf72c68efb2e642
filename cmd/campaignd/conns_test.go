package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a campaignd child process with its stderr collected.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	logs []string
	done chan struct{}
}

// startProc runs campaignd (argv[0] is bin, or a wrapper such as prlimit) with a fresh data
// directory and test credentials, and waits until it is healthy.
func startProc(t *testing.T, argv []string, extra ...string) *proc {
	t.Helper()
	p := &proc{t: t, addr: freeAddr(t), done: make(chan struct{})}
	args := append(argv[1:], "-httpListenAddr="+p.addr, "-storageDataPath="+filepath.Join(t.TempDir(), "data"), "-apiKey=k", "-apiSecret=s")
	p.cmd = exec.Command(argv[0], append(args, extra...)...)
	startCmd(t, p)
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.logs, "\n")
}

// healthy reports whether a new connection gets a 200 from /healthz within two seconds.
func (p *proc) healthy() error {
	c := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + p.addr + "/healthz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// TestSIGTERMWithStuckClients: SIGTERM stops campaignd within -http.shutdownTimeout (plus the
// engine's and storage's stop) however clients behave: one holds a half-sent request
// (Content-Length 100, one byte sent; it hung for the 5-minute read timeout before), one sends
// its headers a byte at a time, one keeps an idle keep-alive connection. The open file limit
// is logged at start.
func TestSIGTERMWithStuckClients(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t, t.TempDir())
	p := startProc(t, []string{bin}, "-http.shutdownTimeout=2s")
	if !strings.Contains(p.log(), `"msg":"open file limit"`) {
		t.Fatalf("the open file limit is not logged:\n%s", p.log())
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	half := dial()
	fmt.Fprintf(half, "POST /users?api_key=k HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	slow := dial()
	io.WriteString(slow, "GET /healthz HTTP/1.1\r\n")
	go func() {
		for range 200 {
			time.Sleep(50 * time.Millisecond)
			if _, err := slow.Write([]byte("X")); err != nil {
				return
			}
		}
	}()
	idle := dial()
	io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(idle), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("unexpected healthz reply: %v %v", resp, err)
	}
	time.Sleep(200 * time.Millisecond)

	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { <-p.done; exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		took := time.Since(start)
		if err != nil {
			t.Fatalf("campaignd exited with %v after SIGTERM:\n%s", err, p.log())
		}
		t.Logf("campaignd stopped %s after SIGTERM", took)
		if took > 6*time.Second {
			t.Fatalf("campaignd took %s to stop with -http.shutdownTimeout=2s", took)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("campaignd still running 20 s after SIGTERM:\n%s", p.log())
	}
	for _, want := range []string{"closed the connections still open at the shutdown timeout", `"msg":"closed storage"`} {
		if !strings.Contains(p.log(), want) {
			t.Fatalf("the log lacks %q:\n%s", want, p.log())
		}
	}
}

// TestRunningOutOfFileDescriptors: with the open file limit at 256 and more connections than
// that, accept fails with EMFILE; campaignd keeps running (it exited on "accept4: too many open
// files" before), retries with backoff, and serves new connections once clients let go.
func TestRunningOutOfFileDescriptors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed: cannot run campaignd with a low open file limit")
	}
	bin := buildBinary(t, t.TempDir())
	p := startProc(t, []string{prlimit, "--nofile=256:256", bin}, "-http.maxConcurrentConns=10000")
	var conns []net.Conn
	for range 400 {
		c, err := net.DialTimeout("tcp", p.addr, 2*time.Second)
		if err != nil {
			break // the backlog is full: the point is made
		}
		conns = append(conns, c)
	}
	checkFor := func(what string, fn func() error) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			err := fn()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s\n%s", what, err, p.log())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	checkFor("no accept error logged", func() error {
		if !strings.Contains(p.log(), "cannot accept connections; retrying") {
			return fmt.Errorf("%d connections open", len(conns))
		}
		return nil
	})
	time.Sleep(time.Second)
	if err := p.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("campaignd died out of file descriptors: %s\n%s", err, p.log())
	}
	for _, c := range conns {
		c.Close()
	}
	checkFor("campaignd does not serve again after the connections closed", p.healthy)
	if strings.Contains(p.log(), "http server failed") {
		t.Fatalf("the http server failed:\n%s", p.log())
	}
	_ = os.Stderr.Sync()
}
