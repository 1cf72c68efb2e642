package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedOptions configures the development broker.
type EmbeddedOptions struct {
	// Addr is the TCP address to listen on. Default: 127.0.0.1:9092.
	Addr string
	// Dir holds the broker's topics and offsets across restarts. Empty: in memory only.
	Dir string
	// Partitions is the partition count of topics it creates. Default: 10.
	Partitions int
	// Logger receives its warnings and errors. Default: slog.Default().
	Logger *slog.Logger
}

// Embedded is an in-process Kafka-protocol broker (franz-go's kfake), for development and demos
// only: one broker, no replication, writes not fsynced. Close it after the relays stopped.
type Embedded struct {
	c    *kfake.Cluster
	addr string
}

// StartEmbedded starts a single-broker kfake cluster that auto-creates topics and, with Dir set,
// reloads what it stored there before.
func StartEmbedded(opts EmbeddedOptions) (*Embedded, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:9092"
	}
	if opts.Partitions == 0 {
		opts.Partitions = 10
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, opts.Addr) }),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(opts.Partitions),
		kfake.WithLogger(kfakeLogger{opts.Logger}),
	}
	if opts.Dir != "" {
		kopts = append(kopts, kfake.DataDir(opts.Dir))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("cannot start the embedded kafka broker on %s: %w", opts.Addr, err)
	}
	addrs := c.ListenAddrs()
	return &Embedded{c: c, addr: addrs[0]}, nil
}

// Addr returns the broker's listen address.
func (e *Embedded) Addr() string { return e.addr }

// Close stops the broker, saving its state to Dir.
func (e *Embedded) Close() { e.c.Close() }

type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	var lvl slog.Level
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	default:
		return
	}
	k.l.Log(context.Background(), lvl, fmt.Sprintf(msg, args...), "component", "kfake")
}
