package outbox_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/campaignd/campaignd/engine/outbox"
)

// TestKill9Resume runs an engine in a child process that commits events and delivers them to Kafka
// and a webhook, kills it with SIGKILL mid-delivery, reopens its directory here and expects every
// event the child reported committed at the consumer and the receiver at least once.
func TestKill9Resume(t *testing.T) {
	if dir := os.Getenv("OUTBOX_KILL9_DIR"); dir != "" {
		kill9Child(t, dir)
		return
	}
	broker := startBroker(t, 0, "")
	defer broker.Close()
	addr := broker.ListenAddrs()[0]
	rc := startReceiver(t)
	events := startConsumer(t, addr, testTopic, checkEventRecord("k9", 300))
	dir := t.TempDir()

	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Resume$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), "OUTBOX_KILL9_DIR="+dir, "OUTBOX_KILL9_BROKER="+addr, "OUTBOX_KILL9_HOOK="+rc.srv.URL)
	cmd.Stderr = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start the child: %s", err)
	}
	committed := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			committed, _ = strconv.Atoi(n)
			if committed >= 4000 {
				break
			}
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("cannot kill the child: %s", err)
	}
	_ = cmd.Wait()
	if committed < 4000 {
		t.Fatalf("the child reported only %d committed events", committed)
	}
	events.mu.Lock()
	before := len(events.seen)
	events.mu.Unlock()
	t.Logf("killed the child after %d committed events; %d had reached the consumer", committed, before)

	te := mustStartEngine(t, dir, kill9Opts(addr, rc.srv.URL))
	want, _, wantHook := wantIDs("k9", 0, committed)
	events.waitAll(3*time.Minute, want)
	rc.waitAll(3*time.Minute, wantHook)
	_ = te
}

func kill9Opts(broker, hook string) outbox.Options {
	return outbox.Options{Brokers: []string{broker}, WebhookURL: hook, BatchSize: 300}
}

// kill9Child commits batches of 50 events until it is killed, reporting each durable prefix.
func kill9Child(t *testing.T, dir string) {
	te := mustStartEngine(t, dir, kill9Opts(os.Getenv("OUTBOX_KILL9_BROKER"), os.Getenv("OUTBOX_KILL9_HOOK")))
	for n := 0; ; n += 50 {
		te.emit("k9", n, n+50, 50, 1, 300)
		fmt.Printf("committed %d\n", n+50)
		time.Sleep(time.Millisecond)
	}
}
