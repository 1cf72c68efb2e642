package outbox_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/engine/outbox"
	"github.com/campaignd/campaignd/internal/eventually"
	"github.com/campaignd/campaignd/storage"
	"github.com/campaignd/campaignd/wire"
)

const (
	testKey    = "test-key"
	testSecret = "test-secret"
	testTopic  = "campaignd.events"
	testPush   = "campaignd.push"
	partitions = 4
)

// testEngine is a real engine over Pebble in a directory.
type testEngine struct {
	t   testing.TB
	dir string
	DB  *storage.DB
	E   *engine.Engine
}

// mustStartEngine opens the store in dir, opens and starts the engine with the given outbox
// options; it stops on cleanup.
func mustStartEngine(t testing.TB, dir string, opts outbox.Options) *testEngine {
	t.Helper()
	db, err := storage.Open(storage.Options{Path: dir, MemTableSize: 16 << 20, CacheSize: 32 << 20})
	if err != nil {
		t.Fatalf("cannot open storage: %s", err)
	}
	if opts.Poll == 0 {
		opts.Poll = 20 * time.Millisecond
	}
	if opts.RetryMaxBackoff == 0 {
		opts.RetryMaxBackoff = 200 * time.Millisecond
	}
	e, err := engine.Open(db, engine.Options{Encoder: wire.Legacy{}, APIKey: testKey, APISecret: testSecret, Outbox: opts})
	if err != nil {
		t.Fatalf("cannot open engine: %s", err)
	}
	if err := e.Start(); err != nil {
		t.Fatalf("cannot start engine: %s", err)
	}
	te := &testEngine{t: t, dir: dir, DB: db, E: e}
	t.Cleanup(te.Stop)
	return te
}

// Stop stops the engine and closes the store; it is idempotent.
func (te *testEngine) Stop() {
	if te.E == nil {
		return
	}
	te.E.Stop()
	if err := te.DB.Close(); err != nil {
		te.t.Errorf("cannot close storage: %s", err)
	}
	te.E = nil
}

// testEvent builds event number n the way producers do: message.new for most (with two receivers),
// channel.created every 7th, campaign.started every 101st; pad makes the JSON about that long.
func testEvent(prefix string, n, pad int) engine.Event {
	id := fmt.Sprintf("%s-%d", prefix, n)
	cid := fmt.Sprintf("messaging:ch-%d", n%97)
	ev := engine.Event{ID: id, Type: "message.new", Key: cid, Receivers: []string{"u" + strconv.Itoa(n), "v" + strconv.Itoa(n)}}
	switch {
	case n%101 == 0:
		ev.Type, ev.Key, ev.Receivers = "campaign.started", "campaign-"+prefix, nil
	case n%7 == 0:
		ev.Type, ev.Receivers = "channel.created", nil
	}
	ev.SkipPush = n%5 == 0
	ev.SkipWebhook = n%11 == 0
	body := fmt.Sprintf(`{"type":%q,"cid":%q,"event_id":%q,"created_at":"2026-11-25T10:00:00.000000Z","message":{"text":"`, ev.Type, cid, id)
	if k := pad - 3 - len(body); k > 0 {
		body += strings.Repeat("x", k)
	}
	ev.JSON = []byte(body + `"}}`)
	return ev
}

// emit commits events [from, to) through the engine in transactions of txSize, using workers
// concurrent committers so that commits land out of seq order.
func (te *testEngine) emit(prefix string, from, to, txSize, workers, pad int) {
	te.t.Helper()
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(txSize))) - txSize
				if lo >= to {
					return
				}
				hi := min(lo+txSize, to)
				tx := te.E.NewTx()
				for n := lo; n < hi; n++ {
					tx.Emit(testEvent(prefix, n, pad))
				}
				if err := te.E.Commit(tx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		te.t.Fatalf("cannot commit events: %s", err)
	}
}

// startBroker starts a one-broker kfake cluster on 127.0.0.1:port (0: any) with the test topics.
func startBroker(t testing.TB, port int, dir string) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(partitions), kfake.SeedTopics(partitions, testTopic, testPush)}
	if dir != "" {
		opts = append(opts, kfake.DataDir(dir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("cannot start kfake: %s", err)
	}
	return c
}

func brokerPort(t testing.TB, c *kfake.Cluster) int {
	_, p, err := net.SplitHostPort(c.ListenAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// consumer reads every partition of a topic with kafka-go Readers and counts records by id
// (event_id header, plus receiver_id for the push topic).
type consumer struct {
	t      testing.TB
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	seen  map[string]int
	total int
	bad   []string
	check func(m *kafka.Message) error
}

func startConsumer(t testing.TB, broker, topic string, check func(m *kafka.Message) error) *consumer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &consumer{t: t, cancel: cancel, seen: make(map[string]int), check: check}
	for p := range partitions {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: []string{broker}, Topic: topic, Partition: p,
			MinBytes: 256 << 10, MaxBytes: 16 << 20, MaxWait: 20 * time.Millisecond,
			ReadBackoffMin: 20 * time.Millisecond, ReadBackoffMax: 200 * time.Millisecond,
			QueueCapacity: 4096,
		})
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
					continue
				}
				c.add(&m)
			}
		}()
	}
	t.Cleanup(c.stop)
	return c
}

func header(m *kafka.Message, k string) string {
	for _, h := range m.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

func (c *consumer) add(m *kafka.Message) {
	id := header(m, "event_id")
	if r := header(m, "receiver_id"); r != "" {
		id += "/" + r
	}
	var err error
	if c.check != nil {
		err = c.check(m)
	}
	c.mu.Lock()
	c.seen[id]++
	c.total++
	if err != nil && len(c.bad) < 10 {
		c.bad = append(c.bad, err.Error())
	}
	c.mu.Unlock()
}

func (c *consumer) stop() {
	c.cancel()
	c.wg.Wait()
}

// missing returns how many of want were not seen, and one example.
func (c *consumer) missing(want []string) (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) < len(want) {
		return len(want) - len(c.seen), "(not scanned)"
	}
	n, ex := 0, ""
	for _, id := range want {
		if c.seen[id] == 0 {
			if n == 0 {
				ex = id
			}
			n++
		}
	}
	return n, ex
}

func (c *consumer) waitAll(timeout time.Duration, want []string) {
	c.t.Helper()
	checkFor(c.t, timeout, 20*time.Millisecond, func() error {
		if n, ex := c.missing(want); n > 0 {
			return fmt.Errorf("%d of %d records not consumed yet, e.g. %q", n, len(want), ex)
		}
		return nil
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bad) > 0 {
		c.t.Fatalf("consumer saw bad records: %v", c.bad)
	}
}

// wantIDs lists what each sink must receive for events [from, to).
func wantIDs(prefix string, from, to int) (events, push, webhook []string) {
	for n := from; n < to; n++ {
		ev := testEvent(prefix, n, 0)
		events = append(events, ev.ID)
		if ev.Type == "message.new" && !ev.SkipPush {
			for _, r := range ev.Receivers {
				push = append(push, ev.ID+"/"+r)
			}
		}
		if !ev.SkipWebhook {
			webhook = append(webhook, ev.ID)
		}
	}
	return
}

// receiver is an httptest webhook receiver that checks every request's signature and headers.
type receiver struct {
	t   testing.TB
	srv *httptest.Server

	// answer returns the status for a request (event id, attempt); nil answers 200.
	answer atomic.Pointer[func(id string, attempt int) int]

	mu       sync.Mutex
	ok       map[string]int // id -> 2xx answers
	attempts map[string]int // id -> highest attempt seen
	requests int
	bad      []string
}

func startReceiver(t testing.TB) *receiver {
	t.Helper()
	rc := &receiver{t: t, ok: make(map[string]int), attempts: make(map[string]int)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) setAnswer(fn func(id string, attempt int) int) { rc.answer.Store(&fn) }

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write(body)
	wantSig := hex.EncodeToString(mac.Sum(nil))
	var ev struct {
		EventID string `json:"event_id"`
	}
	var problem string
	switch {
	case r.Method != http.MethodPost:
		problem = "method " + r.Method
	case r.Header.Get("X-Signature") != wantSig:
		problem = fmt.Sprintf("bad signature %q; want %q", r.Header.Get("X-Signature"), wantSig)
	case r.Header.Get("Content-Type") != "application/json":
		problem = "content type " + r.Header.Get("Content-Type")
	case r.Header.Get("X-Api-Key") != testKey:
		problem = "api key " + r.Header.Get("X-Api-Key")
	case json.Unmarshal(body, &ev) != nil:
		problem = "body is not JSON: " + string(body)
	case r.Header.Get("X-Webhook-Id") != ev.EventID:
		problem = fmt.Sprintf("X-Webhook-Id %q for event %q", r.Header.Get("X-Webhook-Id"), ev.EventID)
	}
	attempt, err := strconv.Atoi(r.Header.Get("X-Webhook-Attempt"))
	if err != nil || attempt < 1 {
		problem = "X-Webhook-Attempt " + r.Header.Get("X-Webhook-Attempt")
	}
	status := 200
	if fn := rc.answer.Load(); fn != nil {
		status = (*fn)(ev.EventID, attempt)
	}
	rc.mu.Lock()
	rc.requests++
	if problem != "" && len(rc.bad) < 10 {
		rc.bad = append(rc.bad, problem)
	}
	if attempt > rc.attempts[ev.EventID] {
		rc.attempts[ev.EventID] = attempt
	}
	if status < 300 {
		rc.ok[ev.EventID]++
	}
	rc.mu.Unlock()
	w.WriteHeader(status)
}

func (rc *receiver) waitAll(timeout time.Duration, want []string) {
	rc.t.Helper()
	checkFor(rc.t, timeout, 20*time.Millisecond, func() error {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if len(rc.ok) < len(want) {
			return fmt.Errorf("%d events received so far of at least %d", len(rc.ok), len(want))
		}
		n, ex := 0, ""
		for _, id := range want {
			if rc.ok[id] == 0 {
				if n == 0 {
					ex = id
				}
				n++
			}
		}
		if n > 0 {
			return fmt.Errorf("%d of %d events not received yet, e.g. %q", n, len(want), ex)
		}
		return nil
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		rc.t.Fatalf("receiver saw bad requests: %v", rc.bad)
	}
}

// checkFor waits for fn to return nil (eventually.Check).
func checkFor(t testing.TB, timeout, every time.Duration, fn func() error) {
	t.Helper()
	eventually.Check(t, timeout, every, fn)
}
