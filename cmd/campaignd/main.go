// Command campaignd runs the campaign engine: the Stream-compatible HTTP API over a Pebble store.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/engine/outbox"
	"github.com/campaignd/campaignd/httpd"
	"github.com/campaignd/campaignd/storage"
	"github.com/campaignd/campaignd/wire"
)

var (
	httpListenAddr  = flag.String("httpListenAddr", "127.0.0.1:3030", "TCP address for the HTTP API, /healthz and /metrics")
	storageDataPath = flag.String("storageDataPath", "./campaignd-data", "data directory: the store (pebble/), the embedded broker's data (kafka/), snapshots (snapshots/); one campaignd at a time")
	apiKey          = flag.String("apiKey", "", "API key clients send as the api_key query parameter (env CAMPAIGND_API_KEY); required, with -apiSecret, unless -dev")
	apiSecret       = flag.String("apiSecret", "", "API secret that signs JWTs and webhooks (env CAMPAIGND_API_SECRET)")
	maxBodySize     = flag.Int("http.maxBodySize", 16<<20, "largest accepted request body in bytes, except the streamed bulk import")
	maxHeaderSize   = flag.Int("http.maxRequestHeaderSize", 32<<10, "largest request line plus headers in bytes (431 above it); query payloads the SDK sends in the URL must fit")
	maxConns        = flag.Int("http.maxConcurrentConns", 0, "most client connections open at once (503 past it); 0 = 10000 or what the open file limit leaves after 1024 for storage and sinks, whichever is smaller")
	headerTimeout   = flag.Duration("http.headerReadTimeout", 10*time.Second, "time a client has to send a request's line and headers")
	bodyTimeout     = flag.Duration("http.bodyReadTimeout", 5*time.Minute, "time a client has to send a request's body after its headers")
	idleTimeout     = flag.Duration("http.idleTimeout", 2*time.Minute, "time a keep-alive connection may stay idle between requests")
	shutdownTimeout = flag.Duration("http.shutdownTimeout", 10*time.Second, "on SIGTERM, time in-flight requests get before their connections are closed")
	logLevel        = flag.String("loglevel", "INFO", "log level: DEBUG, INFO, WARN or ERROR")
	minFreeDisk     = flag.Int64("storage.minFreeDiskSpaceBytes", engine.DefaultMinFreeDiskSpace, "free disk space under -storageDataPath below which writes that add data are refused (507) and campaigns pause between chunks, until space is freed")
	ballastSize     = flag.Int64("storage.ballastSize", 256<<20, "size of the emergency ballast file kept under -storageDataPath, released when free space falls below half of -storage.minFreeDiskSpaceBytes; 0 keeps none")
	maxMessageLen   = flag.Int("message.maxLength", engine.DefaultMaxMessageLength, "longest message text in characters (Stream's max_message_length), 1 to 20000: longer messages are refused (400 code 20), and so are campaign templates whose text outside the tags is longer")
	rateLimits      = flag.String("rateLimits", "", "requests per minute per endpoint, as comma-separated Endpoint=N pairs overriding the defaults (e.g. SendMessage=1000,GetCampaign=30; N=0 leaves one unlimited), endpoint names as the SDK's getRateLimits spells them; \"off\" turns rate limiting off")
	monthlyCapacity = flag.Uint64("campaign.monthlyCapacity", 0, "campaign messages all campaigns together may send per calendar month (UTC); a campaign reaching it stops with stop_reason monthly_capacity; 0 = unlimited")
	campaignMAU     = flag.Uint64("campaign.mau", 0, "monthly active users of the plan: sets the monthly campaign capacity to 3 × this (Stream's rule); cannot be combined with -campaign.monthlyCapacity")
	pprofAuthKey    = flag.String("pprofAuthKey", "", "serve Go's profiles under /debug/pprof/ to requests with ?authKey=<this value>; empty turns /debug/pprof/ off")
	metricsAuthKey  = flag.String("metricsAuthKey", "", "when set, /metrics answers only requests with ?authKey=<this value>")
	flagsAuthKey    = flag.String("flagsAuthKey", "", "when set, /flags answers only requests with ?authKey=<this value>")
	dev             = flag.Bool("dev", false, "development mode: without -apiKey and -apiSecret, generate credentials once, keep them in -storageDataPath/dev-credentials.json and print them")
	showVersion     = flag.Bool("version", false, "print the version and exit")
	useTLS          = flag.Bool("tls", false, "serve HTTPS only, with -tlsCertFile and -tlsKeyFile")
	tlsCertFile     = flag.String("tlsCertFile", "", "PEM certificate (chain) for -tls; read again when it changes")
	tlsKeyFile      = flag.String("tlsKeyFile", "", "PEM private key for -tls; read again when it changes")

	kafkaBrokers       = flag.String("kafka.brokers", "", "comma-separated Kafka bootstrap addresses (host:port); empty turns the Kafka and push sinks off")
	kafkaTopic         = flag.String("kafka.topic", "campaignd.events", "Kafka topic receiving every event")
	kafkaPushTopic     = flag.String("kafka.pushTopic", "campaignd.push", "Kafka topic receiving one record per receiver of each message.new without skip_push")
	kafkaCompression   = flag.String("kafka.compression", "none", "compression of Kafka record batches: none, gzip, snappy, lz4 or zstd")
	kafkaEmbedded      = flag.Bool("kafka.embedded", false, "start an in-process Kafka-protocol broker (franz-go kfake) for development, data under -storageDataPath/kafka/; used when -kafka.brokers is empty")
	kafkaEmbeddedAddr  = flag.String("kafka.embeddedAddr", "127.0.0.1:9092", "listen address of the -kafka.embedded broker")
	webhookURL         = flag.String("webhook.url", "", "URL receiving one signed POST per event; empty turns the webhook sink off")
	webhookMaxAttempts = flag.Int("webhook.maxAttempts", 5, "attempts before a webhook event is dead-lettered (only while the receiver accepts other events)")
	webhookMaxHold     = flag.Duration("webhook.maxHold", 15*time.Minute, "how long an event is retried while the webhook receiver looks down before it is dead-lettered")
	webhookTimeout     = flag.Duration("webhook.timeout", 6*time.Second, "timeout of one webhook POST attempt")
	webhookConcurrency = flag.Int("webhook.concurrency", 32, "webhook POSTs in flight at once")
)

func main() {
	flag.Parse()
	if *showVersion {
		fmt.Println(versionLine())
		return
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "invalid -loglevel %q: %s\n", *logLevel, err)
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl, ReplaceAttr: readableDurations}))
	slog.SetDefault(log)
	if err := run(log); err != nil {
		log.Error("campaignd stopped with an error", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	if *useTLS && (*tlsCertFile == "" || *tlsKeyFile == "") {
		return fmt.Errorf("-tls needs -tlsCertFile and -tlsKeyFile")
	}
	if !*useTLS && (*tlsCertFile != "" || *tlsKeyFile != "") {
		return fmt.Errorf("-tlsCertFile and -tlsKeyFile are used only with -tls: add -tls")
	}
	// The data directory is locked before anything is written into it.
	dd, err := lockDataDir(*storageDataPath)
	if err != nil {
		return err
	}
	defer dd.unlock()
	nofile, err := raiseOpenFileLimit(log)
	if err != nil {
		return err
	}
	key, secret := firstNonEmpty(*apiKey, os.Getenv("CAMPAIGND_API_KEY")), firstNonEmpty(*apiSecret, os.Getenv("CAMPAIGND_API_SECRET"))
	switch {
	case key == "" && secret == "" && *dev:
		var err error
		if key, secret, err = devCredentials(dd.devCredsPath()); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "\ncampaignd: -dev without -apiKey/-apiSecret; development credentials (kept in %s):\n  api key:    %s\n  api secret: %s\n\n",
			dd.devCredsPath(), key, secret)
	case key == "" && secret == "":
		return fmt.Errorf("no API key and secret: give -apiKey and -apiSecret (or CAMPAIGND_API_KEY and CAMPAIGND_API_SECRET), or -dev for development credentials")
	case key == "" || secret == "":
		return fmt.Errorf("give both -apiKey and -apiSecret (or CAMPAIGND_API_KEY and CAMPAIGND_API_SECRET), or neither with -dev for development credentials")
	}

	start := time.Now()
	brokers := splitList(*kafkaBrokers)
	var broker *outbox.Embedded
	if *kafkaEmbedded {
		var err error
		broker, err = outbox.StartEmbedded(outbox.EmbeddedOptions{Addr: *kafkaEmbeddedAddr, Dir: dd.kafkaPath(), Logger: log})
		if err != nil {
			return err
		}
		defer stopBroker(log, broker)
		log.Info("started the embedded kafka broker (for development only)", "addr", broker.Addr())
		if len(brokers) == 0 {
			brokers = []string{broker.Addr()}
		}
	}
	storePath := dd.pebblePath(log)
	db, err := storage.Open(storage.Options{Path: storePath, BallastSize: *ballastSize, Logger: log})
	if err != nil {
		return err
	}
	log.Info("opened storage", "path", storePath, "users", db.Users.Max(), "channels", db.Channels.Max(), "took", time.Since(start))

	capacity, err := campaignCapacity(*monthlyCapacity, *campaignMAU)
	if err != nil {
		_ = db.Close()
		return err
	}
	eng, err := engine.Open(db, engine.Options{Encoder: wire.Legacy{}, Logger: log, APIKey: key, APISecret: secret, MaxMessageLength: *maxMessageLen, MinFreeDiskSpace: *minFreeDisk, MonthlyCapacity: capacity, Outbox: outbox.Options{
		Brokers: brokers, Topic: *kafkaTopic, PushTopic: *kafkaPushTopic, KafkaCompression: *kafkaCompression,
		WebhookURL: *webhookURL, WebhookMaxAttempts: *webhookMaxAttempts, WebhookMaxHold: *webhookMaxHold, WebhookTimeout: *webhookTimeout, WebhookConcurrency: *webhookConcurrency,
	}})
	if err != nil {
		_ = db.Close()
		return err
	}
	if err := eng.Start(); err != nil {
		_ = db.Close()
		return err
	}
	limits, limitsOff, err := httpd.ParseRateLimits(*rateLimits)
	if err != nil {
		eng.Stop()
		_ = db.Close()
		return err
	}
	srv, err := httpd.New(eng, httpd.Options{
		ListenAddr: *httpListenAddr, APIKey: key, APISecret: secret, MaxBodySize: *maxBodySize, MaxRequestHeaderSize: *maxHeaderSize,
		MaxConcurrentConns: connectionLimit(log, *maxConns, nofile), HeaderReadTimeout: *headerTimeout, BodyReadTimeout: *bodyTimeout,
		IdleTimeout: *idleTimeout, ShutdownTimeout: *shutdownTimeout, PprofAuthKey: *pprofAuthKey, Logger: log,
		RateLimits: limits, RateLimitsOff: limitsOff,
		MetricsAuthKey: *metricsAuthKey, FlagsAuthKey: *flagsAuthKey, Flags: flagsText(flag.CommandLine), Version: versionString(),
		TLSCertFile: *tlsCertFile, TLSKeyFile: *tlsKeyFile, SnapshotsPath: dd.snapshotsPath(),
	})
	if err != nil {
		eng.Stop()
		_ = db.Close()
		return err
	}
	if err := srv.Listen(); err != nil {
		eng.Stop()
		_ = db.Close()
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	log.Info("campaignd is ready", "addr", srv.URL(), "healthz", srv.URL()+"/healthz", "version", versionString(), "took", time.Since(start))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var runErr error
	select {
	case s := <-sig:
		log.Info("received signal; stopping", "signal", s.String())
	case runErr = <-serveErr:
		log.Error("http server failed; stopping", "err", runErr)
	}

	// Stop in reverse order of start, logging how long each stop took.
	t := time.Now()
	if err := srv.Shutdown(); err != nil {
		log.Error("cannot shut down the http server", "err", err)
	}
	log.Info("stopped http server", "took", time.Since(t))
	t = time.Now()
	eng.Stop()
	log.Info("stopped engine", "took", time.Since(t))
	t = time.Now()
	if err := db.Close(); err != nil {
		return err
	}
	log.Info("closed storage", "took", time.Since(t))
	return runErr
}

// readableDurations writes durations as Go duration strings ("1.5s") instead of slog's raw
// nanoseconds.
func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// stopBroker stops the embedded broker last, after the relays that write to it.
func stopBroker(log *slog.Logger, b *outbox.Embedded) {
	t := time.Now()
	b.Close()
	log.Info("stopped the embedded kafka broker", "took", time.Since(t))
}

// campaignCapacity returns the monthly campaign capacity of -campaign.monthlyCapacity or
// -campaign.mau (3 × MAU, Stream's rule: "3 times the procured MAU volume in message capacity").
func campaignCapacity(capacity, mau uint64) (uint64, error) {
	switch {
	case capacity > 0 && mau > 0:
		return 0, fmt.Errorf("give -campaign.monthlyCapacity or -campaign.mau (capacity = 3 × MAU), not both")
	case mau > math.MaxUint64/3:
		return 0, fmt.Errorf("-campaign.mau %d is too large", mau)
	case mau > 0:
		return 3 * mau, nil
	}
	return capacity, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// devCredentials returns the development key and secret kept in the data directory, creating them
// on first use so that restarts keep working with the same SDK configuration.
func devCredentials(path string) (key, secret string, err error) {
	var c struct {
		APIKey    string `json:"api_key"`
		APISecret string `json:"api_secret"`
	}
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &c) == nil && c.APIKey != "" && c.APISecret != "" {
		return c.APIKey, c.APISecret, nil
	}
	c.APIKey = "dev-" + randHex(8)
	c.APISecret = randHex(32)
	b, _ := json.MarshalIndent(c, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", "", fmt.Errorf("cannot write development credentials: %w", err)
	}
	return c.APIKey, c.APISecret, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
