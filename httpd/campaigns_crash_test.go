package httpd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
	"github.com/campaignd/campaignd/wire"
)

// crashProc is a campaignd child process.
type crashProc struct {
	t     *testing.T
	bin   string
	data  string
	addr  string
	token string
	// brokers, when set, turns on the Kafka sinks of every start (-kafka.brokers).
	brokers string
	// flags are added to every start.
	flags []string
	cmd   *exec.Cmd
	logs  *bytes.Buffer
}

func (p *crashProc) start() {
	p.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	ln.Close()
	p.logs = &bytes.Buffer{}
	args := []string{"-httpListenAddr=" + p.addr, "-storageDataPath=" + p.data,
		"-apiKey=" + testKey, "-apiSecret=" + testSecret, "-loglevel=WARN"}
	if p.brokers != "" {
		args = append(args, "-kafka.brokers="+p.brokers)
	}
	args = append(args, p.flags...)
	p.cmd = exec.Command(p.bin, args...)
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("cannot start campaignd: %s", err)
	}
	checkFor(p.t, 60*time.Second, 20*time.Millisecond, func() error {
		resp, err := http.Get("http://" + p.addr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("healthz answered %d", resp.StatusCode)
		}
		return nil
	})
}

// kill9 kills the process with SIGKILL and reaps it.
func (p *crashProc) kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatalf("cannot kill campaignd: %s", err)
	}
	_ = p.cmd.Wait()
}

func (p *crashProc) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(os.Interrupt)
	if err := p.cmd.Wait(); err != nil {
		p.t.Fatalf("campaignd did not stop cleanly: %s\n%s", err, p.logs)
	}
}

func (p *crashProc) do(method, path string, body io.Reader, contentType string) (int, map[string]any) {
	p.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequest(method, "http://"+p.addr+path+sep+"api_key="+testKey, body)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", p.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %s", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

func (p *crashProc) doJSON(method, path string, v any) (int, map[string]any) {
	p.t.Helper()
	b, _ := json.Marshal(v)
	return p.do(method, path, bytes.NewReader(b), "application/json")
}

// TestCampaignExactlyOnceAcrossKill9 is issue #4 item 8: campaignd runs as a child process, sends a
// campaign to 100,000 users, and is killed with SIGKILL several times while the campaign runs,
// restarting each time. At the end every recipient holds exactly one message and the stats match.
//
// CAMPAIGND_CRASH_RECIPIENTS sets the audience (default 100,000; the 1,000,000 run is part of the
// benchmark figures, not of make test), and the kills grow with it (4 at 100,000, 8 at 1,000,000).
// Every other kill lands right after a chunk's commit was seen, so while the next chunk commits
// (built while the one seen committed: the overlap).
func TestCampaignExactlyOnceAcrossKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds campaignd and sends 100,000 messages across kill -9 restarts")
	}
	users, kills := 100000, 4
	if v, err := strconv.Atoi(os.Getenv("CAMPAIGND_CRASH_RECIPIENTS")); err == nil && v > 0 {
		users = v
		kills = max(4, 4*v/500000)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "campaignd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/campaignd/campaignd/cmd/campaignd").CombinedOutput(); err != nil {
		t.Fatalf("cannot build campaignd: %s\n%s", err, out)
	}
	// A real Kafka-protocol broker over TCP: every kill -9 also interrupts the relays mid-delivery.
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	if err != nil {
		t.Fatalf("cannot start kfake: %s", err)
	}
	defer broker.Close()
	p := &crashProc{t: t, bin: bin, data: filepath.Join(dir, "data"), token: signToken(t, jwt.MapClaims{"server": true}),
		brokers: broker.ListenAddrs()[0]}
	p.start()
	defer func() {
		if p.cmd.ProcessState == nil {
			p.kill9()
		}
	}()

	// 100,000 users plus the sender, through the NDJSON import.
	var nd bytes.Buffer
	fmt.Fprintf(&nd, "{\"id\":\"sender\",\"name\":\"The Sender\"}\n")
	for i := 1; i <= users; i++ {
		fmt.Fprintf(&nd, "{\"id\":\"u%06d\",\"name\":\"User %d\"}\n", i, i)
	}
	status, m := p.do("POST", "/users/import", &nd, "application/x-ndjson")
	if status != 201 || m["imported"] != float64(users+1) {
		t.Fatalf("cannot import users: %d %v", status, m)
	}
	if status, m := p.doJSON("POST", "/segments", map[string]any{"id": "everyone", "type": "user", "all_users": true}); status != 201 {
		t.Fatalf("cannot create segment: %d %v", status, m)
	}
	if status, m := p.doJSON("POST", "/campaigns", map[string]any{
		"id": "crash", "sender_id": "sender", "segment_ids": []string{"everyone"},
		"message_template": map[string]any{"text": "Hi {{ receiver.name }}"},
		"create_channels":  true, "channel_template": map[string]any{"type": "messaging"},
	}); status != 201 {
		t.Fatalf("cannot create campaign: %d %v", status, m)
	}
	t0 := time.Now()
	status, m = p.doJSON("POST", "/campaigns/crash/start", map[string]any{})
	if status != 201 {
		t.Fatalf("cannot start campaign: %d %v", status, m)
	}
	t.Logf("start answered in %s", time.Since(t0))

	campaign := func() map[string]any {
		t.Helper()
		status, m := p.do("GET", "/campaigns/crash?limit=0", nil, "")
		if status != 200 {
			t.Fatalf("cannot get campaign: %d %v", status, m)
		}
		return m["campaign"].(map[string]any)
	}
	sentOf := func(c map[string]any) float64 { return c["stats"].(map[string]any)["stats_messages_sent"].(float64) }

	// The first kill lands right after start answered: while the audience is frozen or the first
	// chunk is built. The others land at spread offsets after progress was seen.
	p.kill9()
	killed := 1
	t.Logf("kill -9 #1 right after start")
	p.start()
	last := 0.0
	for killed < kills {
		// Kill once the campaign made progress since the previous restart and passed the next
		// share of the audience (the kills spread over the run), mid-chunk as often as not.
		var c map[string]any
		mark := float64(users * (killed - 1) / kills)
		checkFor(t, 120*time.Second, 5*time.Millisecond, func() error {
			c = campaign()
			if c["status"] == "completed" || sentOf(c) > last && sentOf(c) >= mark {
				return nil
			}
			return fmt.Errorf("no progress past %v messages (waiting for %v)", last, mark)
		})
		if c["status"] == "completed" {
			break
		}
		if killed%2 == 0 {
			time.Sleep(time.Duration(killed*149%500) * time.Millisecond)
		}
		p.kill9()
		killed++
		last = sentOf(c)
		t.Logf("kill -9 #%d at >= %v messages sent", killed, last)
		p.start()
	}
	if killed < 2 {
		t.Fatalf("the campaign completed after only %d kills; the test needs at least 2 during the run", killed)
	}
	var c map[string]any
	checkFor(t, time.Duration(users/500+180)*time.Second, 50*time.Millisecond, func() error {
		c = campaign()
		if c["status"] != "completed" {
			return fmt.Errorf("campaign is %v with %v messages sent", c["status"], sentOf(c))
		}
		return nil
	})
	st := c["stats"].(map[string]any)
	for _, k := range []string{"stats_messages_sent", "stats_users_sent", "stats_channels_created"} {
		if st[k] != float64(users) {
			t.Fatalf("unexpected %s; got %v; want %d; stats %v", k, st[k], users, st)
		}
	}
	if st["progress"] != 1.0 {
		t.Fatalf("unexpected progress %v", st["progress"])
	}

	// At least once at the consumer: every recipient's channel.created and message.new (ids derived
	// from campaign and recipient, so a replay repeats an id rather than inventing one) and the
	// campaign's started/completed events are on the events topic, whatever the kills interrupted.
	consumeEvents(t, p.brokers, "crash", users)
	p.stop()

	// Count every recipient's messages in the store itself.
	db, err := storage.Open(storage.Options{Path: filepath.Join(p.data, "pebble")}) // the data directory's store
	if err != nil {
		t.Fatalf("cannot open the store: %s", err)
	}
	defer db.Close()
	e, err := engine.Open(db, engine.Options{Encoder: wire.Legacy{}})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	it := db.NewIter([]byte{storage.PrefixMessage}, []byte{storage.PrefixMessage + 1})
	for ok := it.First(); ok; ok = it.Next() {
		total++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if total != users {
		t.Fatalf("unexpected number of messages in the store; got %d; want %d", total, users)
	}
	for i := 1; i <= users; i++ {
		id := fmt.Sprintf("u%06d", i)
		cid := "messaging:" + engine.DistinctChannelID([]string{"sender", id})
		ord, ch, ok, err := e.ChannelByCID(cid)
		if err != nil || !ok {
			t.Fatalf("recipient %s has no channel (%v)", id, err)
		}
		msgs, err := e.ChannelMessages(ord, &engine.MessagePage{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || ch.MessageCount != 1 || msgs[0].Text != fmt.Sprintf("Hi User %d", i) {
			t.Fatalf("recipient %s has %d messages (count %d): %+v", id, len(msgs), ch.MessageCount, msgs)
		}
	}
	t.Logf("%d recipients, %d kill -9 restarts, exactly one message each; total %s", users, killed, time.Since(t0))
}

// consumeEvents reads campaignd.events from the start with a franz-go consumer until it has seen
// the channel.created and message.new event of each of `recipients` users u000001.. of the
// campaign, each under its derived id, keyed by the recipient's channel and holding the recipient's
// message, plus campaign.started and campaign.completed, counting duplicates (allowed: delivery
// is at least once).
func consumeEvents(t *testing.T, brokers, campaign string, recipients int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("campaignd.events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatalf("cannot create consumer: %s", err)
	}
	defer cl.Close()
	// want maps each expected event id to its recipient.
	want := map[string]string{}
	for i := 1; i <= recipients; i++ {
		u := fmt.Sprintf("u%06d", i)
		want[engine.CampaignEventID(campaign, "channel.created", u)] = u
		want[engine.CampaignEventID(campaign, "message.new", u)] = u
	}
	seen := map[string]map[string]bool{}
	records := 0
	done := func() bool {
		return len(seen["channel.created"]) == recipients && len(seen["message.new"]) == recipients &&
			len(seen["campaign.started"]) == 1 && len(seen["campaign.completed"]) == 1
	}
	deadline := time.Now().Add(3*time.Minute + time.Duration(recipients/5000)*time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("consumer saw %d channel.created, %d message.new, %d campaign.started, %d campaign.completed distinct events of %d recipients after %d records",
				len(seen["channel.created"]), len(seen["message.new"]), len(seen["campaign.started"]), len(seen["campaign.completed"]), recipients, records)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			records++
			var typ, id string
			for _, h := range r.Headers {
				switch h.Key {
				case "event_type":
					typ = string(h.Value)
				case "event_id":
					id = string(h.Value)
				}
			}
			if u, ok := want[id]; ok {
				cid := "messaging:" + engine.DistinctChannelID([]string{"sender", u})
				var body struct {
					Type    string `json:"type"`
					CID     string `json:"cid"`
					Message struct {
						ID, Text string
					} `json:"message"`
				}
				if err := json.Unmarshal(r.Value, &body); err != nil || body.Type != typ || body.CID != cid || string(r.Key) != cid {
					t.Errorf("event %s of %s: unexpected type %q, cid %q, key %q (%v)", id, u, body.Type, body.CID, r.Key, err)
				}
				n, _ := strconv.Atoi(u[1:])
				if typ == "message.new" && (body.Message.ID != engine.CampaignMessageID(campaign, u) || body.Message.Text != fmt.Sprintf("Hi User %d", n)) {
					t.Errorf("message.new %s of %s holds message %q %q", id, u, body.Message.ID, body.Message.Text)
				}
			} else if typ == "channel.created" || typ == "message.new" {
				t.Errorf("unexpected %s event id %s", typ, id)
			}
			if seen[typ] == nil {
				seen[typ] = map[string]bool{}
			}
			seen[typ][id] = true
		})
	}
	t.Logf("consumer: %d records, %d distinct message.new, %d distinct channel.created (%d duplicates from at-least-once replays)",
		records, len(seen["message.new"]), len(seen["channel.created"]), records-2*recipients-2)
}
