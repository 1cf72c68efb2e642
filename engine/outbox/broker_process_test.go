package outbox_test

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets the test binary double as a standalone kfake broker process (see
// startBrokerProcess), so benchmarks keep the broker's heap and GC out of the measured process,
// as a real broker would be.
func TestMain(m *testing.M) {
	if os.Getenv("OUTBOX_BROKER_PROCESS") != "" {
		c := startBroker(&testing.T{}, 0, "")
		os.Stdout.WriteString("addr " + c.ListenAddrs()[0] + "\n")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
		c.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startBrokerProcess runs a one-broker kfake cluster with the test topics in a child process and
// returns its address; the child exits on cleanup.
func startBrokerProcess(tb testing.TB) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "OUTBOX_BROKER_PROCESS=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("cannot start the broker process: %s", err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
	if err != nil || !ok {
		tb.Fatalf("the broker process did not report its address: %q, %v", line, err)
	}
	return addr
}
