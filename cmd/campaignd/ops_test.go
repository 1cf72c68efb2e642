package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// startBinary runs bin with args and waits for /healthz; the process is killed on cleanup.
func startBinary(t *testing.T, bin, addr string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-httpListenAddr=" + addr, "-loglevel=WARN"}, args...)...)
	cmd.Env = append(os.Environ(), "CAMPAIGND_API_KEY=", "CAMPAIGND_API_SECRET=")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start campaignd: %s", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	waitHealthy(t, addr)
	return cmd
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %s", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestCredentialsRequiredUnlessDev: with no key and secret and no -dev, campaignd refuses to start,
// says what to do, and writes no credentials.
func TestCredentialsRequiredUnlessDev(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	data := filepath.Join(dir, "data")
	cmd := exec.Command(bin, "-httpListenAddr="+freeAddr(t), "-storageDataPath="+data)
	cmd.Env = append(os.Environ(), "CAMPAIGND_API_KEY=", "CAMPAIGND_API_SECRET=")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("campaignd started without credentials:\n%s", out)
	}
	if !strings.Contains(string(out), "give -apiKey and -apiSecret") || !strings.Contains(string(out), "-dev") {
		t.Fatalf("unexpected error output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(data, devCredsFileName)); !os.IsNotExist(err) {
		t.Fatalf("credentials were written without -dev: %v", err)
	}
}

// TestDataDirInUse: a second campaignd on a data directory in use fails at once, naming the first
// one's pid, before writing anything (no development credentials, no broker data).
func TestDataDirInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	data := filepath.Join(dir, "data")
	first := startBinary(t, bin, freeAddr(t), "-storageDataPath="+data, "-apiKey=k", "-apiSecret=s")
	before := listDir(t, data)

	cmd := exec.Command(bin, "-dev", "-kafka.embedded", "-kafka.embeddedAddr="+freeAddr(t), "-httpListenAddr="+freeAddr(t), "-storageDataPath="+data)
	cmd.Env = append(os.Environ(), "CAMPAIGND_API_KEY=", "CAMPAIGND_API_SECRET=")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a second campaignd started on a data directory in use:\n%s", out)
	}
	want := regexp.MustCompile(`is in use by another campaignd \(pid ` + strconv.Itoa(first.Process.Pid) + `\)`)
	if !want.Match(out) {
		t.Fatalf("the error does not name the other campaignd (pid %d):\n%s", first.Process.Pid, out)
	}
	if after := listDir(t, data); after != before {
		t.Fatalf("the refused campaignd wrote into the data directory; before:\n%s\nafter:\n%s", before, after)
	}
}

// listDir lists the top of dir (names, kinds): what a refused start must leave as it was.
func listDir(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ents {
		b.WriteString(e.Name())
		if e.IsDir() {
			b.WriteString("/")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestVersionFlagsAndMetricsAuth: -version prints the version; /flags lists every flag with secrets
// hidden; -metricsAuthKey and -flagsAuthKey guard /metrics and /flags.
func TestVersionFlagsAndMetricsAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	out, err := exec.Command(bin, "-version").CombinedOutput()
	if err != nil || !regexp.MustCompile(`^campaignd \S+ \(.*go1\.[0-9]+.*\)\n$`).Match(out) {
		t.Fatalf("-version: %v; output %q", err, out)
	}

	addr := freeAddr(t)
	startBinary(t, bin, addr, "-storageDataPath="+filepath.Join(dir, "data"), "-apiKey=the-key", "-apiSecret=s3cr3t-value",
		"-metricsAuthKey=m-key", "-flagsAuthKey=f-key", "-pprofAuthKey=p-key", "-webhook.url=http://user:hunter2@127.0.0.1:1/hook")
	base := "http://" + addr
	if st, _ := httpGet(t, base+"/metrics"); st != 401 {
		t.Fatalf("/metrics without authKey: got %d; want 401", st)
	}
	if st, body := httpGet(t, base+"/metrics?authKey=m-key"); st != 200 || !strings.Contains(body, "campaignd_http_requests_total") {
		t.Fatalf("/metrics with authKey: got %d %q", st, body)
	}
	if st, _ := httpGet(t, base+"/flags?authKey=m-key"); st != 401 {
		t.Fatalf("/flags with the metrics key: got %d; want 401", st)
	}
	st, flags := httpGet(t, base+"/flags?authKey=f-key")
	if st != 200 {
		t.Fatalf("/flags: got %d %q", st, flags)
	}
	for _, want := range []string{`-apiKey="the-key"`, `-apiSecret="secret"`, `-metricsAuthKey="secret"`, `-flagsAuthKey="secret"`,
		`-pprofAuthKey="secret"`, `-webhook.url="http://user:secret@127.0.0.1:1/hook"`, `-http.idleTimeout="2m0s"`, `-dev="false"`} {
		if !strings.Contains(flags, want+"\n") {
			t.Fatalf("/flags lacks %s:\n%s", want, flags)
		}
	}
	for _, secret := range []string{"s3cr3t-value", "m-key", "f-key", "p-key", "hunter2"} {
		if strings.Contains(flags, secret) {
			t.Fatalf("/flags shows the secret %q:\n%s", secret, flags)
		}
	}
}
