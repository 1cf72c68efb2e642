package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
	"github.com/campaignd/campaignd/wire"
)

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory and returns it; the test is
// skipped, saying why, where mounting is not permitted.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot mount the small tmpfs this test fills")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs (%s: %s): this test needs a small filesystem to fill", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Logf("cannot unmount %s: %s %s", dir, err, out)
		}
	})
	return dir
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// fill grows (or shrinks) the filler file at path so that dir has about free bytes left.
func fill(t *testing.T, dir, path string, free int64) {
	t.Helper()
	var have int64
	if st, err := os.Stat(path); err == nil {
		have = st.Size()
	}
	size := max(0, have+freeBytes(t, dir)-free)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if size < have {
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		return
	}
	if size > have {
		if err := syscall.Fallocate(int(f.Fd()), 0, have, size-have); err != nil {
			t.Fatalf("cannot fill the tmpfs: %s", err)
		}
	}
}

// diskClient talks to a campaignd started by the disk test.
type diskClient struct {
	t     *testing.T
	p     *proc
	token string
}

func (c *diskClient) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, _ := http.NewRequest(method, "http://"+c.p.addr+path+sep+"api_key=k", r)
	req.Header.Set("Authorization", c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %s\n%s", method, path, err, c.p.log())
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

// metric returns the value of a metric line of /metrics (name with its labels, if any).
func (c *diskClient) metric(name string) float64 {
	c.t.Helper()
	resp, err := http.Get("http://" + c.p.addr + "/metrics")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(raw)
	if m == nil {
		c.t.Fatalf("no metric %s", name)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func (c *diskClient) waitFor(what string, timeout time.Duration, fn func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !fn() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s\n%s", what, c.p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *diskClient) sent(id string) int {
	c.t.Helper()
	status, m := c.do("GET", "/campaigns/"+id, nil)
	if status != 200 {
		c.t.Fatalf("cannot read campaign: %d %v", status, m)
	}
	return int(m["campaign"].(map[string]any)["stats"].(map[string]any)["stats_messages_sent"].(float64))
}

// TestDiskFull runs campaignd on a 64 MiB tmpfs with -storage.minFreeDiskSpaceBytes=24 MiB and
// an 8 MiB ballast, and fills it: campaignd's own writes reach the threshold (an import stops
// with 507), a campaign started with little room left pauses between chunks when its writes
// reach it, writes answer 507 while reads keep working and the webhook relay keeps delivering,
// the ballast is released when another writer takes the disk below half the threshold, and once
// space is freed everything resumes without a restart: the campaign completes, writes are
// accepted again, the ballast is back. Afterwards the store holds exactly one campaign message
// per receiver, and campaignd never crashed (a full disk made Pebble panic before).
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const (
		tmpfsSize = 64 << 20
		minFree   = 24 << 20
		ballast   = 8 << 20
	)
	root := mountTmpfs(t, tmpfsSize)
	filler := filepath.Join(root, "filler")
	data := filepath.Join(root, "data")

	var mu sync.Mutex
	delivered := map[string]int{} // message.new event id → deliveries
	var deliveries int
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Type string `json:"type"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &ev)
		mu.Lock()
		deliveries++
		if ev.Type == "message.new" {
			delivered[r.Header.Get("X-Webhook-Id")]++
		}
		mu.Unlock()
	}))
	defer hook.Close()
	webhookDeliveries := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return deliveries, len(delivered)
	}

	bin := buildBinary(t, t.TempDir())
	p := &proc{t: t, addr: freeAddr(t), done: make(chan struct{})}
	p.cmd = exec.Command(bin, "-httpListenAddr="+p.addr, "-storageDataPath="+data, "-apiKey=k", "-apiSecret=s",
		"-storage.minFreeDiskSpaceBytes="+strconv.Itoa(minFree), "-storage.ballastSize="+strconv.Itoa(ballast), "-webhook.url="+hook.URL)
	startCmd(t, p)
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"server": true}).SignedString([]byte("s"))
	c := &diskClient{t: t, p: p, token: tok}
	began := time.Now()
	logf := func(format string, args ...any) {
		t.Helper()
		t.Logf("[%5.1fs, free %4.1f MiB] %s", time.Since(began).Seconds(), float64(freeBytes(t, root))/(1<<20), fmt.Sprintf(format, args...))
	}
	if st, err := os.Stat(filepath.Join(data, pebbleDirName, storage.BallastFile)); err != nil || st.Size() != ballast {
		t.Fatalf("no %d-byte ballast at start: %v", ballast, err)
	}
	logf("campaignd started on a 64 MiB tmpfs, 8 MiB ballast in place")

	// 1. campaignd's own writes reach the threshold: users are imported until a 507.
	if st, m := c.do("POST", "/users", map[string]any{"users": map[string]any{"snd": map[string]any{"id": "snd", "name": "Sender"}}}); st != 201 {
		t.Fatalf("cannot create the sender: %d %v", st, m)
	}
	fill(t, root, filler, minFree+6<<20)
	logf("filled the tmpfs to 6 MiB above the threshold")
	users := 0
	for batch := 0; ; batch++ {
		var nd strings.Builder
		for i := range 2000 {
			fmt.Fprintf(&nd, `{"id":"r%06d","name":"Receiver %d","bio":"%s"}`+"\n", users+i, users+i, strings.Repeat("b", 200))
		}
		st, m := c.do("POST", "/users/import", nd.String())
		if st == 507 {
			if m["code"] != -1.0 || m["StatusCode"] != 507.0 || !strings.Contains(m["message"].(string), "low on disk space") {
				t.Fatalf("unexpected 507 body %v", m)
			}
			logf("import %d answered 507: %s", batch, m["message"])
			break
		}
		if st != 201 {
			t.Fatalf("import failed: %d %v\n%s", st, m, p.log())
		}
		users += int(m["imported"].(float64))
		if batch > 200 {
			t.Fatalf("the disk never reached the threshold after %d users", users)
		}
	}
	logf("%d receivers imported before the threshold", users)
	if users < 4000 {
		t.Fatalf("only %d users imported before the threshold", users)
	}

	// 2. Some room (1 MiB above the threshold): a campaign to every user starts, and its own
	// writes take the disk to the threshold: it pauses between chunks.
	fill(t, root, filler, minFree+1<<20)
	c.waitFor("writes to resume", 10*time.Second, func() bool { return c.metric("campaignd_disk_space_low") == 0 })
	if st, m := c.do("POST", "/segments", map[string]any{"id": "all", "type": "user", "all_users": true}); st != 201 {
		t.Fatalf("cannot create the segment: %d %v", st, m)
	}
	if st, m := c.do("POST", "/campaigns", map[string]any{"id": "camp", "sender_id": "snd", "segment_ids": []string{"all"}, "create_channels": true,
		"channel_template": map[string]any{"type": "messaging"}, "message_template": map[string]any{"text": "Hi {{ receiver.name }}"}}); st != 201 {
		t.Fatalf("cannot create the campaign: %d %v", st, m)
	}
	if st, m := c.do("POST", "/campaigns/camp/start", "{}"); st != 201 {
		t.Fatalf("cannot start the campaign: %d %v", st, m)
	}
	logf("campaign started to %d receivers with 1 MiB of room", users)
	c.waitFor("the campaign to pause on low disk space", 60*time.Second, func() bool { return c.metric("campaignd_disk_space_low") == 1 })
	// The chunk in flight when space ran low commits; then nothing moves.
	paused := c.sent("camp")
	for stable := 0; stable < 10; stable++ {
		time.Sleep(200 * time.Millisecond)
		if n := c.sent("camp"); n != paused {
			paused, stable = n, 0
		}
	}
	if paused >= users {
		t.Fatalf("the campaign did not pause: all %d sent", users)
	}
	logf("campaign paused at %d of %d messages", paused, users)

	// 3. While low: writes that add data are 507, reads, stops and deletes work, the relay delivers.
	for _, w := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/users", map[string]any{"users": map[string]any{"x": map[string]any{"id": "x"}}}},
		{"PATCH", "/users", map[string]any{"users": []any{map[string]any{"id": "snd", "set": map[string]any{"k": 1}}}}},
		{"POST", "/channels/messaging/new/query", map[string]any{"data": map[string]any{"created_by_id": "snd"}}},
		{"POST", "/segments", map[string]any{"type": "user", "all_users": true}},
		{"POST", "/campaigns", map[string]any{"sender_id": "snd", "user_ids": []string{"r000001"}, "message_template": map[string]any{"text": "x"}}},
	} {
		st, m := c.do(w.method, w.path, w.body)
		if st != 507 || m["code"] != -1.0 || !strings.Contains(m["message"].(string), "-storage.minFreeDiskSpaceBytes") {
			t.Fatalf("%s %s while the disk is low: %d %v", w.method, w.path, st, m)
		}
	}
	logf("writes answer 507 (upsert, partial update, channel create, segment create, campaign create)")
	payload := url.QueryEscape(`{"filter_conditions":{"id":{"$in":["r000001","r000002"]}}}`)
	type read struct {
		method, path string
		body         any
		want         int
	}
	reads := []read{
		{"GET", "/users?payload=" + payload, nil, 200},
		{"GET", "/campaigns/camp", nil, 200},
		{"POST", "/campaigns/query", map[string]any{"filter": map[string]any{}}, 201},
		{"POST", "/channels", map[string]any{"filter_conditions": map[string]any{"members": map[string]any{"$in": []string{"snd"}}}}, 201},
		{"GET", "/segments/all", nil, 200},
	}
	if paused > 0 {
		// NB: on a loaded machine the disk may run low before the first chunk commits; the first
		// receiver's channel exists only once one has.
		reads = append(reads, read{"POST", "/channels/messaging/" + url.PathEscape(engine.DistinctChannelID([]string{"snd", "r000000"})) + "/query", map[string]any{}, 201})
	}
	for _, r := range reads {
		if st, m := c.do(r.method, r.path, r.body); st != r.want {
			t.Fatalf("read %s %s while the disk is low: %d %v", r.method, r.path, st, m)
		}
	}
	logf("reads answer as usual (queryUsers, getCampaign, queryCampaigns, queryChannels, channel query, getSegment)")
	c.waitFor("the webhook relay to deliver what was committed", 60*time.Second, func() bool {
		_, n := webhookDeliveries()
		return n >= paused
	})
	all, msgs := webhookDeliveries()
	logf("the webhook relay delivered while the disk was low: %d deliveries, message.new for %d of %d sent messages", all, msgs, paused)

	// 4. Another writer takes the disk below half the threshold: the ballast is released.
	fill(t, root, filler, minFree/2-2<<20)
	c.waitFor("the ballast to be released", 10*time.Second, func() bool { return c.metric("campaignd_disk_ballast_released_total") == 1 })
	if _, err := os.Stat(filepath.Join(data, pebbleDirName, storage.BallastFile)); err == nil {
		t.Fatal("the ballast is still there")
	}
	c.waitFor("the ballast's space to be free", 5*time.Second, func() bool { return freeBytes(t, root) >= minFree/2-2<<20+ballast-1<<20 })
	time.Sleep(time.Second)
	if n := c.sent("camp"); n != paused || c.metric("campaignd_disk_space_low") != 1 {
		t.Fatalf("the released ballast was used: %d sent (paused at %d), low %v", n, paused, c.metric("campaignd_disk_space_low"))
	}
	logf("below half the threshold: the 8 MiB ballast was released; writes stay refused and the campaign paused until space is back")
	if err := p.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("campaignd died: %s\n%s", err, p.log())
	}

	// 5. Space is freed: the ballast comes back, writes resume, the campaign completes.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	logf("freed the filler")
	c.waitFor("writes to resume", 10*time.Second, func() bool { return c.metric("campaignd_disk_space_low") == 0 })
	if st, err := os.Stat(filepath.Join(data, pebbleDirName, storage.BallastFile)); err != nil || st.Size() != ballast {
		t.Fatalf("the ballast was not restored: %v", err)
	}
	c.waitFor("the campaign to complete", 120*time.Second, func() bool {
		_, m := c.do("GET", "/campaigns/camp", nil)
		return m["campaign"].(map[string]any)["status"] == "completed"
	})
	if n := c.sent("camp"); n != users {
		t.Fatalf("the campaign sent %d messages to %d receivers", n, users)
	}
	if st, m := c.do("POST", "/users", map[string]any{"users": map[string]any{"x": map[string]any{"id": "x"}}}); st != 201 {
		t.Fatalf("a write after space came back: %d %v", st, m)
	}
	logf("space back: ballast restored, writes accepted, the campaign completed (%d messages)", users)
	c.waitFor("every message.new delivered", 120*time.Second, func() bool {
		_, n := webhookDeliveries()
		return n >= users
	})
	all, msgs = webhookDeliveries()
	logf("webhook: %d deliveries, message.new for %d distinct messages", all, msgs)

	// 6. Stop; the store holds exactly one message per receiver; no panic ever.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("campaignd exited with %v:\n%s", err, p.log())
	}
	if strings.Contains(p.log(), "panic") || strings.Contains(p.log(), "fatal") {
		t.Fatalf("campaignd logged a panic:\n%s", p.log())
	}
	db, err := storage.Open(storage.Options{Path: filepath.Join(data, pebbleDirName)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := engine.Open(db, engine.Options{Encoder: wire.Legacy{}, APIKey: "k", APISecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range users {
		rcv := fmt.Sprintf("r%06d", i)
		ord, _, ok, err := e.ChannelByCID("messaging:" + engine.DistinctChannelID([]string{"snd", rcv}))
		if err != nil || !ok {
			t.Fatalf("no channel for %s: %v", rcv, err)
		}
		msgs, err := e.ChannelMessages(ord, &engine.MessagePage{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || msgs[0].Text != fmt.Sprintf("Hi Receiver %d", i) {
			t.Fatalf("receiver %s has %d messages: %+v", rcv, len(msgs), msgs)
		}
	}
	logf("the store holds exactly one message for each of the %d receivers; campaignd exited cleanly", users)
}

// startCmd starts p.cmd with its stderr collected and waits until it is healthy.
func startCmd(t *testing.T, p *proc) {
	t.Helper()
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("cannot start campaignd: %s", err)
	}
	go func() {
		defer close(p.done)
		b := make([]byte, 64<<10)
		var rest []byte
		for {
			n, err := pipe.Read(b)
			rest = append(rest, b[:n]...)
			for {
				i := bytes.IndexByte(rest, '\n')
				if i < 0 {
					break
				}
				p.mu.Lock()
				p.logs = append(p.logs, string(rest[:i]))
				p.mu.Unlock()
				rest = rest[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		_ = p.cmd.Wait()
	})
	waitHealthy(t, p.addr)
}
