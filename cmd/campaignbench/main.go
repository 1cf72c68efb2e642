// Command campaignbench runs the end-to-end campaign workload (bench.RunHTTPCampaign) over the HTTP
// API: against a live campaignd (-url), or against one it starts itself (-campaignd, with a fresh
// data directory), in which case it also reports campaignd's peak memory (VmHWM) and CPU time.
//
// Right after each campaign, while campaignd is idle, it measures the storage limit of the same
// recipients (bench.RunStorageLimit) in a child process of its own on a fresh directory beside
// campaignd's data, and prints limit_sends/s and ratio (campaignd ÷ limit) on the campaign's line.
//
//	campaignbench -campaignd=bin/campaignd -users=1000000 -existing
//	campaignbench -url=http://127.0.0.1:3030 -apiKey=K -apiSecret=S -users=100000 -limitDir=/data/tmp
//	campaignbench -limitPass=new -limitDir=/data/limit -users=1000000   # one limit pass, JSON on stdout
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/campaignd/campaignd/bench"
)

var (
	baseURL    = flag.String("url", "http://127.0.0.1:3030", "base URL of a running campaignd (ignored with -campaignd)")
	apiKey     = flag.String("apiKey", os.Getenv("CAMPAIGND_API_KEY"), "API key (env CAMPAIGND_API_KEY)")
	apiSecret  = flag.String("apiSecret", os.Getenv("CAMPAIGND_API_SECRET"), "API secret (env CAMPAIGND_API_SECRET)")
	users      = flag.Int("users", 1000000, "audience size")
	existing   = flag.Bool("existing", true, "also send a second campaign over the channels the first created")
	skipImport = flag.Bool("skipImport", false, "reuse the users and segment of an earlier run with the same -prefix")
	prefix     = flag.String("prefix", "bench", "prefix of the ids the run creates")
	campaignd  = flag.String("campaignd", "", "path of a campaignd binary to start on a free port with a fresh data directory")
	dataDir    = flag.String("dataDir", "", "data directory for -campaignd (default: a new temporary directory, removed afterwards)")
	limit      = flag.Bool("limit", true, "after each campaign, measure the storage limit of the same recipients in a child process on a fresh directory under -limitDir")
	limitDir   = flag.String("limitDir", "", "directory under which the storage-limit run makes its fresh store (removed afterwards); default: beside campaignd's data with -campaignd, else the system's temporary directory (give one on campaignd's filesystem with -url). With -limitPass: the store itself")
	limitPass  = flag.String("limitPass", "", "run only one pass of the storage-limit workload, new or existing (which needs a new pass in the same store first), on the store -limitDir with -users recipients, and print its result as JSON on stdout; -limit runs campaignbench so")
)

func main() {
	flag.Parse()
	if *limitPass != "" {
		if err := runLimitPass(); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	cfg := bench.HTTPCampaignConfig{
		BaseURL: *baseURL, APIKey: *apiKey, APISecret: *apiSecret, Users: *users,
		Existing: *existing, SkipImport: *skipImport, Prefix: *prefix,
		Logf: func(format string, args ...any) { log.Printf(format, args...) },
	}
	limitParent := *limitDir
	if *campaignd != "" {
		stop, dir, err := startCampaignd(&cfg)
		if err != nil {
			return err
		}
		defer stop()
		if limitParent == "" {
			limitParent = dir
		}
	}
	if cfg.APIKey == "" || cfg.APISecret == "" {
		return fmt.Errorf("give -apiKey and -apiSecret (or CAMPAIGND_API_KEY / CAMPAIGND_API_SECRET), or -campaignd")
	}
	if *limit {
		if limitParent == "" {
			limitParent = os.TempDir()
			log.Printf("the storage limit runs under %s: give -limitDir on campaignd's filesystem to compare like with like", limitParent)
		}
		lim := &limitRunner{parent: limitParent, cpu: cfg.CPU}
		defer lim.cleanup()
		cfg.Limit = lim.run
	}
	res, err := bench.RunHTTPCampaign(cfg)
	for _, r := range res {
		fmt.Println(r)
	}
	return err
}

// limitRunner measures the storage limit in child processes: pass 1 on a fresh store, later
// passes on the same one.
type limitRunner struct {
	parent string
	cpu    func() time.Duration // campaignd's CPU time, to wait until it is idle; nil = unknown
	store  string
}

func (l *limitRunner) run(recipients, pass int) (*bench.StorageLimitResult, error) {
	if pass == 1 || l.store == "" {
		l.cleanup()
		dir, err := os.MkdirTemp(l.parent, "campaignbench-limit-")
		if err != nil {
			return nil, err
		}
		l.store = dir
		if pass != 1 {
			// NB: the existing-channels pass needs the channels of a new-channels pass.
			if _, err := l.child(recipients, "new"); err != nil {
				return nil, err
			}
		}
	}
	waitIdle(l.cpu)
	name := "new"
	if pass > 1 {
		name = "existing"
	}
	return l.child(recipients, name)
}

func (l *limitRunner) child(recipients int, pass string) (*bench.StorageLimitResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find campaignbench's own binary: %w", err)
	}
	cmd := exec.Command(exe, "-limitPass="+pass, "-limitDir="+l.store, "-users="+strconv.Itoa(recipients))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("storage-limit pass %s failed: %w", pass, err)
	}
	var r bench.StorageLimitResult
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("cannot decode the storage-limit result %q: %w", out, err)
	}
	log.Printf("%s", &r)
	return &r, nil
}

func (l *limitRunner) cleanup() {
	if l.store != "" {
		_ = os.RemoveAll(l.store)
		l.store = ""
	}
}

// waitIdle waits (up to a minute) until campaignd used less than 5% of a core over half a second,
// so that its flushes and compactions after a campaign do not share the machine with the limit
// run. Without cpu it returns at once.
func waitIdle(cpu func() time.Duration) {
	if cpu == nil {
		return
	}
	const window = 500 * time.Millisecond
	t0 := time.Now()
	for time.Since(t0) < time.Minute {
		c0 := cpu()
		time.Sleep(window)
		if cpu()-c0 < window/20 {
			log.Printf("campaignd idle after %s", time.Since(t0).Round(time.Millisecond))
			return
		}
	}
	log.Printf("campaignd still busy after %s; measuring the storage limit anyway", time.Since(t0).Round(time.Millisecond))
}

// runLimitPass is the child side of -limit: one pass on the store -limitDir, its result as JSON.
func runLimitPass() error {
	pass := map[string]int{"new": 1, "existing": 2}[*limitPass]
	if pass == 0 {
		return fmt.Errorf("invalid -limitPass %q: give new or existing", *limitPass)
	}
	if *limitDir == "" {
		return fmt.Errorf("-limitPass needs -limitDir, the store to write")
	}
	r, err := bench.RunStorageLimit(bench.StorageLimitConfig{
		Dir: *limitDir, Recipients: *users, Pass: pass,
		Logf: func(format string, args ...any) { log.Printf(format, args...) },
	})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

func startCampaignd(cfg *bench.HTTPCampaignConfig) (stop func(), dir string, err error) {
	dir = *dataDir
	cleanup := func() {}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "campaignbench-"); err != nil {
			return nil, "", err
		}
		cleanup = func() { _ = os.RemoveAll(dir) }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg.APIKey, cfg.APISecret = "bench-key", "bench-secret"
	cfg.BaseURL = "http://" + addr
	cmd := exec.Command(*campaignd, "-httpListenAddr="+addr, "-storageDataPath="+filepath.Join(dir, "data"),
		"-apiKey="+cfg.APIKey, "-apiSecret="+cfg.APISecret, "-loglevel=WARN")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		cleanup()
		return nil, "", fmt.Errorf("cannot start %s: %w", *campaignd, err)
	}
	cfg.PeakRSS = func() uint64 { return bench.ProcPeakRSS(cmd.Process.Pid) }
	cfg.DiskUsage = func() uint64 { return bench.DirSize(filepath.Join(dir, "data")) }
	cfg.CPU = func() time.Duration { return bench.ProcCPU(cmd.Process.Pid) }
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		cleanup()
	}
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := http.Get(cfg.BaseURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return stop, dir, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, "", fmt.Errorf("campaignd did not become healthy at %s", cfg.BaseURL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
