package bench

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/engine/outbox"
	"github.com/campaignd/campaignd/storage"
	"github.com/campaignd/campaignd/wire"
)

// CampaignConfig is the in-process campaign fan-out workload: Recipients users in one all_users
// segment, one campaign sending each a templated message in its distinct 1-1 channel.
type CampaignConfig struct {
	// Dir is the data directory (created; its contents are the caller's to remove).
	Dir string
	// Recipients is the audience size. Default: 1,000,000.
	Recipients int
	// ExistingChannels pre-creates every recipient's channel (by a first, unmeasured campaign),
	// so the measured campaign only appends messages.
	ExistingChannels bool
	// Delivery turns the Kafka events and push sinks on, against an embedded broker (franz-go's
	// kfake) in this process, as `campaignd -kafka.embedded` runs it.
	Delivery bool
	// Logf receives progress lines; nil = silent.
	Logf func(format string, args ...any)
}

// CampaignResult is what RunCampaign measured.
type CampaignResult struct {
	Recipients      int
	MessagesSent    uint64
	ChannelsCreated uint64
	// Elapsed is from the start call to completed; StartLatency is how long start took to answer;
	// FirstSent how long after the start call the first committed messages were seen.
	Elapsed      time.Duration
	StartLatency time.Duration
	FirstSent    time.Duration
	SendsPerSec  float64
	// CPU is the process's CPU time (user + system, all goroutines, Pebble's background work
	// included) while the campaign ran: on a shared machine it is steadier than Elapsed.
	CPU time.Duration
	// PeakRSS is the process's VmHWM (0 where /proc is unavailable); HeapSys the Go heap
	// obtained from the OS at the end.
	PeakRSS uint64
	HeapSys uint64
	// Delivered is, with Delivery on, how long after the start the broker had acked every event
	// of the campaign on both topics (the relays' cursors reached the last event).
	Delivered time.Duration
}

func (r *CampaignResult) String() string {
	s := fmt.Sprintf("recipients=%d sent=%d channels_created=%d elapsed=%s start=%s first_sent=%s sends/s=%.0f cpu=%s sends/cpu-s=%.0f peak_rss=%dMiB heap_sys=%dMiB",
		r.Recipients, r.MessagesSent, r.ChannelsCreated, r.Elapsed.Round(time.Millisecond), r.StartLatency.Round(time.Microsecond), r.FirstSent.Round(time.Millisecond),
		r.SendsPerSec, r.CPU.Round(time.Millisecond), float64(r.MessagesSent)/r.CPU.Seconds(), r.PeakRSS>>20, r.HeapSys>>20)
	if r.Delivered > 0 {
		s += fmt.Sprintf(" delivered=%s delivery_ratio=%.3f", r.Delivered.Round(time.Millisecond), r.DeliveryRatio())
	}
	return s
}

// DeliveryRatio is Delivered over Elapsed: 1 when the broker has every event as the last message
// is committed.
func (r *CampaignResult) DeliveryRatio() float64 { return r.Delivered.Seconds() / r.Elapsed.Seconds() }

// CampaignEnv is a prepared store: users and segment loaded, channels pre-created if asked.
type CampaignEnv struct {
	cfg    CampaignConfig
	DB     *storage.DB
	E      *engine.Engine
	broker *outbox.Embedded
}

// PrepareCampaign opens a store in cfg.Dir and loads the workload's users (and channels).
// The caller must Close the env.
func PrepareCampaign(cfg CampaignConfig) (*CampaignEnv, error) {
	if cfg.Recipients <= 0 {
		cfg.Recipients = 1000000
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	db, err := storage.Open(storage.Options{Path: cfg.Dir})
	if err != nil {
		return nil, err
	}
	var (
		broker *outbox.Embedded
		eopts  = engine.Options{Encoder: wire.Legacy{}}
	)
	if cfg.Delivery {
		// NB: with a data directory, as campaignd -kafka.embedded runs it (kfake's in-memory
		// segments copy on every append).
		if broker, err = outbox.StartEmbedded(outbox.EmbeddedOptions{Addr: "127.0.0.1:0", Dir: filepath.Join(cfg.Dir, "kafka")}); err != nil {
			_ = db.Close()
			return nil, err
		}
		eopts.Outbox.Brokers = []string{broker.Addr()}
	}
	closeAll := func() {
		_ = db.Close()
		if broker != nil {
			broker.Close()
		}
	}
	e, err := engine.Open(db, eopts)
	if err != nil {
		closeAll()
		return nil, err
	}
	if err := e.Start(); err != nil {
		closeAll()
		return nil, err
	}
	env := &CampaignEnv{cfg: cfg, DB: db, E: e, broker: broker}
	t := time.Now()
	users := make([]storage.User, 0, 1000)
	users = append(users, storage.User{ID: "sender", Name: "The Sender"})
	for i := 1; i <= cfg.Recipients; i++ {
		id := "u" + strconv.Itoa(i)
		users = append(users, storage.User{ID: id, Name: "User " + id, Custom: []byte(`{"plan":"gold"}`)})
		if len(users) == cap(users) || i == cfg.Recipients {
			if err := e.UpsertUsers(users); err != nil {
				env.Close()
				return nil, err
			}
			users = users[:0]
		}
	}
	cfg.Logf("loaded %d users in %s", cfg.Recipients+1, time.Since(t))
	if _, err := e.CreateSegment(&engine.SegmentParams{ID: ptr("everyone"), Type: ptr("user"), AllUsers: ptr(true)}); err != nil {
		env.Close()
		return nil, err
	}
	if cfg.ExistingChannels {
		r, err := env.Run("warmup")
		if err != nil {
			env.Close()
			return nil, err
		}
		cfg.Logf("pre-created channels: %s", r)
	}
	return env, nil
}

// Run creates and starts a campaign named id and waits until it completes.
func (env *CampaignEnv) Run(id string) (*CampaignResult, error) {
	e := env.E
	in := &engine.CampaignInput{
		ID: ptr(id), SenderID: ptr("sender"), SegmentIDs: &[]string{"everyone"},
		MessageTemplate: &engine.MessageTemplateInput{Text: ptr("Hi {{ receiver.name }}, {{ sender.name }} has news for {{ receiver.plan }} members")},
		CreateChannels:  ptr(true),
		ChannelTemplate: &engine.ChannelTemplateInput{Type: ptr("messaging")},
	}
	if _, err := e.CreateCampaign(in); err != nil {
		return nil, err
	}
	cpu0 := processCPU()
	t0 := time.Now()
	if _, err := e.StartCampaign(id, &engine.StartOptions{}); err != nil {
		return nil, err
	}
	res := &CampaignResult{Recipients: env.cfg.Recipients, StartLatency: time.Since(t0)}
	lastLog := time.Now()
	for {
		c, err := e.GetCampaign(id)
		if err != nil {
			return nil, err
		}
		if c.Status == storage.CampaignCompleted {
			res.Elapsed = time.Since(t0)
			res.MessagesSent = c.Run.MessagesSent
			res.ChannelsCreated = c.Run.ChannelsCreated
			break
		}
		if c.Status != storage.CampaignInProgress {
			return nil, fmt.Errorf("campaign %q ended as %s", id, c.Status)
		}
		if res.FirstSent == 0 {
			if c.Run.MessagesSent == 0 {
				time.Sleep(time.Millisecond)
				continue
			}
			res.FirstSent = time.Since(t0)
		}
		if time.Since(lastLog) > 5*time.Second {
			env.cfg.Logf("campaign %s: %d/%d sent", id, c.Run.MessagesSent, c.Run.Total)
			lastLog = time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
	if env.cfg.Delivery {
		last := e.OutboxHorizon() - 1
		for {
			k, _ := e.OutboxCursor(outbox.SinkKafka)
			p, _ := e.OutboxCursor(outbox.SinkPush)
			if k >= last && p >= last {
				res.Delivered = time.Since(t0)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	res.SendsPerSec = float64(res.MessagesSent) / res.Elapsed.Seconds()
	res.CPU = processCPU() - cpu0
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapSys = ms.HeapSys
	res.PeakRSS = ProcPeakRSS(os.Getpid())
	return res, nil
}

// Close stops the engine and closes the store.
func (env *CampaignEnv) Close() {
	env.E.Stop()
	_ = env.DB.Close()
	if env.broker != nil {
		env.broker.Close()
	}
}

// RunCampaign prepares cfg and measures one campaign.
func RunCampaign(cfg CampaignConfig) (*CampaignResult, error) {
	env, err := PrepareCampaign(cfg)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	return env.Run("measured")
}

// ProcPeakRSS returns the VmHWM (peak resident set) of process pid in bytes, or 0 when unknown.
func ProcPeakRSS(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// DirSize returns the bytes the regular files under dir take (0 when it cannot be read), leaving
// out the disk-space ballast (storage.BallastFile: space held back, not data).
func DirSize(dir string) uint64 {
	var n uint64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && d.Name() != storage.BallastFile {
			if fi, err := d.Info(); err == nil {
				n += uint64(fi.Size())
			}
		}
		return nil
	})
	return n
}

// ProcCPU returns the CPU time (user + system) process pid used so far, or 0 when unknown.
func ProcCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// NB: the command name (field 2) may hold spaces; fields are counted after its ')'.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ is 100 on Linux
}

// processCPU returns the CPU time (user + system) the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ptr[T any](v T) *T { return &v }
