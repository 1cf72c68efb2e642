// Command campaignbench runs the end-to-end campaign workload (bench.RunHTTPCampaign) over the HTTP
// API: against a live campaignd (-url), or against one it starts itself (-campaignd, with a fresh
// data directory), in which case it also reports campaignd's peak memory (VmHWM).
//
//	campaignbench -campaignd=bin/campaignd -users=1000000 -existing
//	campaignbench -url=http://127.0.0.1:3030 -apiKey=K -apiSecret=S -users=100000
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
)

func main() {
	flag.Parse()
	cfg := bench.HTTPCampaignConfig{
		BaseURL: *baseURL, APIKey: *apiKey, APISecret: *apiSecret, Users: *users,
		Existing: *existing, SkipImport: *skipImport, Prefix: *prefix,
		Logf: func(format string, args ...any) { log.Printf(format, args...) },
	}
	if *campaignd != "" {
		stop, err := startCampaignd(&cfg)
		if err != nil {
			log.Fatal(err)
		}
		defer stop()
	}
	if cfg.APIKey == "" || cfg.APISecret == "" {
		log.Fatal("give -apiKey and -apiSecret (or CAMPAIGND_API_KEY / CAMPAIGND_API_SECRET), or -campaignd")
	}
	res, err := bench.RunHTTPCampaign(cfg)
	for _, r := range res {
		fmt.Println(r)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func startCampaignd(cfg *bench.HTTPCampaignConfig) (stop func(), err error) {
	dir := *dataDir
	cleanup := func() {}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "campaignbench-"); err != nil {
			return nil, err
		}
		cleanup = func() { _ = os.RemoveAll(dir) }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
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
		return nil, fmt.Errorf("cannot start %s: %w", *campaignd, err)
	}
	cfg.PeakRSS = func() uint64 { return bench.ProcPeakRSS(cmd.Process.Pid) }
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
				return stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("campaignd did not become healthy at %s", cfg.BaseURL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
