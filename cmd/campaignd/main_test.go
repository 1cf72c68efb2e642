package main

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds campaignd into dir and returns its path.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "campaignd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("cannot build campaignd: %s\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot listen: %s", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func waitHealthy(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("campaignd at %s did not become healthy", addr)
}

// TestGracefulStopAndDevCredentials runs the real binary: with -dev and no credentials it prints and keeps
// development credentials, answers /healthz, and on SIGTERM stops cleanly (exit 0, storage closed);
// a restart on the same data directory reuses the same credentials.
func TestGracefulStopAndDevCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	data := filepath.Join(dir, "data")
	run := func() (stderr string, creds string) {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "-dev", "-httpListenAddr="+addr, "-storageDataPath="+data)
		cmd.Env = append(os.Environ(), "CAMPAIGND_API_KEY=", "CAMPAIGND_API_SECRET=")
		pipe, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("cannot start campaignd: %s", err)
		}
		lines := make(chan string, 1000)
		go func() {
			sc := bufio.NewScanner(pipe)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		waitHealthy(t, addr)
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		var all []string
		for l := range lines {
			all = append(all, l)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("campaignd did not exit cleanly on SIGTERM: %s\n%s", err, strings.Join(all, "\n"))
		}
		b, err := os.ReadFile(filepath.Join(data, "dev-credentials.json"))
		if err != nil {
			t.Fatalf("no development credentials kept: %s", err)
		}
		return strings.Join(all, "\n"), string(b)
	}
	out1, creds1 := run()
	var c struct {
		APIKey    string `json:"api_key"`
		APISecret string `json:"api_secret"`
	}
	if err := json.Unmarshal([]byte(creds1), &c); err != nil || c.APIKey == "" || c.APISecret == "" {
		t.Fatalf("bad credentials file %q: %v", creds1, err)
	}
	for _, want := range []string{c.APIKey, c.APISecret, `"msg":"closed storage"`, `"msg":"stopped http server"`} {
		if !strings.Contains(out1, want) {
			t.Fatalf("stderr lacks %q:\n%s", want, out1)
		}
	}
	_, creds2 := run()
	if creds1 != creds2 {
		t.Fatalf("credentials changed across restarts; got %s; want %s", creds2, creds1)
	}
}

// TestMissingHalfOfCredentials: a key without a secret is refused with a message saying what to do.
func TestMissingHalfOfCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	cmd := exec.Command(bin, "-httpListenAddr="+freeAddr(t), "-storageDataPath="+filepath.Join(dir, "d"), "-apiKey=k")
	cmd.Env = append(os.Environ(), "CAMPAIGND_API_SECRET=")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("campaignd started with a key and no secret:\n%s", out)
	}
	if !strings.Contains(string(out), "give both -apiKey and -apiSecret") {
		t.Fatalf("unexpected error output:\n%s", out)
	}
}
