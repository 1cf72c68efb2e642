package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HTTPCampaignConfig is the end-to-end campaign workload against a live campaignd over its HTTP API:
// import Users users (NDJSON), create an all_users segment, send a campaign to all of them in new
// 1-1 channels, then (Existing) a second campaign to the same channels, measuring each.
type HTTPCampaignConfig struct {
	// BaseURL of campaignd, e.g. http://127.0.0.1:3030.
	BaseURL   string
	APIKey    string
	APISecret string
	// Users is the audience size. Default: 1,000,000.
	Users int
	// SkipImport reuses users and the segment of an earlier run.
	SkipImport bool
	// Existing also runs a second campaign over the channels the first one created.
	Existing bool
	// Prefix names the run's ids (segment, campaigns); default "bench".
	Prefix string
	// PeakRSS, when set, reports campaignd's peak resident memory (e.g. from /proc/<pid>/status).
	PeakRSS func() uint64
	// DiskUsage, when set, reports the bytes campaignd's data directory takes (DirSize).
	DiskUsage func() uint64
	// CPU, when set, reports campaignd's CPU time so far (e.g. ProcCPU).
	CPU func() time.Duration
	// Limit, when set, is called right after each campaign completed (campaignd idle, nothing
	// else running) to measure the storage limit of the same recipients (RunStorageLimit; pass 1
	// after the new-channels campaign, 2 after the existing-channels one); the result is printed
	// on the campaign's line as limit_sends/s and ratio.
	Limit func(recipients, pass int) (*StorageLimitResult, error)
	// Logf receives progress lines; nil = silent.
	Logf func(format string, args ...any)
}

// HTTPCampaignResult is one measured campaign of RunHTTPCampaign.
type HTTPCampaignResult struct {
	Name string
	// FirstSent is how long after the start call the first committed messages were seen.
	FirstSent    time.Duration
	Sent         int
	Created      int
	Elapsed      time.Duration
	StartLatency time.Duration
	SendsPerSec  float64
	// GetP50 and GetP99 are the latencies of GET /campaigns/{id} while the campaign ran: how
	// responsive the API stays under a running fan-out.
	GetP50, GetP99 time.Duration
	PeakRSS        uint64
	// DiskPeak is the most the data directory took during the campaign (sampled twice a second),
	// DiskAfter what it took 10 s after it completed (0 when DiskUsage is not set).
	DiskPeak, DiskAfter uint64
	// CPU is campaignd's CPU time during the campaign (0 when unknown).
	CPU time.Duration
	// WALBytes is what campaignd's store wrote to its WAL during the campaign, from /metrics
	// (0 when campaignd does not show it).
	WALBytes uint64
	// Limit is the storage limit measured right after the campaign (nil when not measured).
	Limit *StorageLimitResult
}

func (r *HTTPCampaignResult) String() string {
	perCPU := 0.0
	if r.CPU > 0 {
		perCPU = float64(r.Sent) / r.CPU.Seconds()
	}
	s := fmt.Sprintf("%s: sent=%d channels_created=%d elapsed=%s start=%s first_sent=%s sends/s=%.0f campaignd_cpu=%s sends/cpu-s=%.0f get_p50=%s get_p99=%s campaignd_peak_rss=%dMiB",
		r.Name, r.Sent, r.Created, r.Elapsed.Round(time.Millisecond), r.StartLatency.Round(time.Microsecond), r.FirstSent.Round(time.Millisecond), r.SendsPerSec,
		r.CPU.Round(time.Millisecond), perCPU, r.GetP50.Round(time.Microsecond), r.GetP99.Round(time.Microsecond), r.PeakRSS>>20)
	if r.DiskPeak > 0 {
		s += fmt.Sprintf(" disk_peak=%dMiB disk_after=%dMiB", r.DiskPeak>>20, r.DiskAfter>>20)
	}
	if r.WALBytes > 0 && r.Sent > 0 {
		s += fmt.Sprintf(" wal_bytes/send=%.0f", float64(r.WALBytes)/float64(r.Sent))
	}
	if l := r.Limit; l != nil {
		s += fmt.Sprintf(" limit_sends/s=%.0f limit_sends/cpu-s=%.0f limit_wal_bytes/send=%.0f ratio=%.2f",
			l.SendsPerSec, l.SendsPerCPUSec, float64(l.WALBytes)/float64(max(l.Recipients, 1)), r.SendsPerSec/l.SendsPerSec)
	}
	return s
}

type httpClient struct {
	cfg   *HTTPCampaignConfig
	token string
	c     *http.Client
}

func (h *httpClient) do(method, path string, body io.Reader, ctype string) (int, map[string]any, error) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequest(method, h.cfg.BaseURL+path+sep+"api_key="+h.cfg.APIKey, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", h.token)
	req.Header.Set("stream-auth-type", "jwt")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := h.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, nil
}

func (h *httpClient) doJSON(method, path string, v any, want int) (map[string]any, error) {
	b, _ := json.Marshal(v)
	status, m, err := h.do(method, path, bytes.NewReader(b), "application/json")
	if err != nil {
		return nil, err
	}
	if status != want {
		return nil, fmt.Errorf("%s %s: status %d: %v", method, path, status, m)
	}
	return m, nil
}

// RunHTTPCampaign runs the workload and returns the measured campaigns (new channels first).
func RunHTTPCampaign(cfg HTTPCampaignConfig) ([]*HTTPCampaignResult, error) {
	if cfg.Users <= 0 {
		cfg.Users = 1000000
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "bench"
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	h := &httpClient{cfg: &cfg, token: ServerToken(cfg.APISecret), c: &http.Client{Timeout: 10 * time.Minute}}
	seg := cfg.Prefix + "-everyone"
	if !cfg.SkipImport {
		t := time.Now()
		pr, pw := io.Pipe()
		go func() {
			w := bufio.NewWriterSize(pw, 1<<20)
			fmt.Fprintf(w, "{\"id\":\"%s-sender\",\"name\":\"The Sender\"}\n", cfg.Prefix)
			for i := 1; i <= cfg.Users; i++ {
				fmt.Fprintf(w, "{\"id\":\"%s-u%d\",\"name\":\"User %d\",\"plan\":\"gold\"}\n", cfg.Prefix, i, i)
			}
			_ = w.Flush()
			_ = pw.Close()
		}()
		status, m, err := h.do("POST", "/users/import", pr, "application/x-ndjson")
		if err != nil {
			return nil, fmt.Errorf("cannot import users: %w", err)
		}
		if status != 201 {
			return nil, fmt.Errorf("cannot import users: status %d: %v", status, m)
		}
		cfg.Logf("imported %v users in %s", m["imported"], time.Since(t))
		if _, err := h.doJSON("POST", "/segments", map[string]any{"id": seg, "type": "user", "all_users": true}, 201); err != nil {
			return nil, err
		}
	}
	var out []*HTTPCampaignResult
	runs := []string{"channels=new"}
	if cfg.Existing {
		runs = append(runs, "channels=existing")
	}
	stamp := strconv.FormatInt(time.Now().Unix(), 36)
	for i, name := range runs {
		id := fmt.Sprintf("%s-%s-%d", cfg.Prefix, stamp, i)
		r, err := h.runCampaign(id, seg, name)
		if err != nil {
			return out, err
		}
		if cfg.Limit != nil {
			if r.Limit, err = cfg.Limit(cfg.Users, i+1); err != nil {
				return out, fmt.Errorf("cannot measure the storage limit after %s: %w", r.Name, err)
			}
		}
		cfg.Logf("%s", r)
		out = append(out, r)
	}
	return out, nil
}

func (h *httpClient) runCampaign(id, seg, name string) (*HTTPCampaignResult, error) {
	cfg := h.cfg
	if _, err := h.doJSON("POST", "/campaigns", map[string]any{
		"id": id, "sender_id": cfg.Prefix + "-sender", "segment_ids": []string{seg},
		"message_template": map[string]any{"text": "Hi {{ receiver.name }}, {{ sender.name }} has news for {{ receiver.plan }} members"},
		"create_channels":  true, "channel_template": map[string]any{"type": "messaging"},
	}, 201); err != nil {
		return nil, err
	}
	var cpu0 time.Duration
	if cfg.CPU != nil {
		cpu0 = cfg.CPU()
	}
	wal0 := h.metric("campaignd_storage_wal_written_bytes_total")
	t0 := time.Now()
	if _, err := h.doJSON("POST", "/campaigns/"+id+"/start", map[string]any{}, 201); err != nil {
		return nil, err
	}
	r := &HTTPCampaignResult{Name: fmt.Sprintf("recipients=%d/%s", cfg.Users, name), StartLatency: time.Since(t0)}
	var lat []time.Duration
	lastLog := time.Now()
	var lastDisk time.Time
	for {
		if cfg.DiskUsage != nil && time.Since(lastDisk) > 500*time.Millisecond {
			r.DiskPeak = max(r.DiskPeak, cfg.DiskUsage())
			lastDisk = time.Now()
		}
		tg := time.Now()
		status, m, err := h.do("GET", "/campaigns/"+id+"?limit=0", nil, "")
		if err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(tg))
		if status != 200 {
			return nil, fmt.Errorf("GET campaign: status %d: %v", status, m)
		}
		c := m["campaign"].(map[string]any)
		st := c["stats"].(map[string]any)
		if c["status"] == "completed" {
			r.Elapsed = time.Since(t0)
			r.Sent = int(st["stats_messages_sent"].(float64))
			r.Created = int(st["stats_channels_created"].(float64))
			break
		}
		if c["status"] != "in_progress" {
			return nil, fmt.Errorf("campaign %s ended as %v", id, c["status"])
		}
		if time.Since(lastLog) > 10*time.Second {
			cfg.Logf("%s: %v sent", id, st["stats_messages_sent"])
			lastLog = time.Now()
		}
		if r.FirstSent == 0 {
			if st["stats_messages_sent"].(float64) > 0 {
				r.FirstSent = time.Since(t0)
			} else {
				// NB: polled closely until the first chunk is seen: first_sent is how long after
				// the start call the first messages were committed (plus at most a poll).
				time.Sleep(2 * time.Millisecond)
				continue
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.SendsPerSec = float64(r.Sent) / r.Elapsed.Seconds()
	if wal1 := h.metric("campaignd_storage_wal_written_bytes_total"); wal0 > 0 && wal1 > wal0 {
		r.WALBytes = wal1 - wal0
	}
	slices.Sort(lat)
	r.GetP50 = lat[len(lat)/2]
	r.GetP99 = lat[len(lat)*99/100]
	if cfg.PeakRSS != nil {
		r.PeakRSS = cfg.PeakRSS()
	}
	if cfg.DiskUsage != nil {
		// NB: after the memtables flushed and the compactions the campaign caused settled.
		for t := time.Now(); time.Since(t) < 10*time.Second; time.Sleep(500 * time.Millisecond) {
			r.DiskPeak = max(r.DiskPeak, cfg.DiskUsage())
		}
		r.DiskAfter = cfg.DiskUsage()
	}
	if cfg.CPU != nil {
		r.CPU = cfg.CPU() - cpu0
	}
	return r, nil
}

// metric returns the value of an unlabelled series on campaignd's /metrics, or 0 when it is not
// there.
func (h *httpClient) metric(name string) uint64 {
	resp, err := h.c.Get(h.cfg.BaseURL + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			v, _ := strconv.ParseFloat(rest, 64)
			return uint64(v)
		}
	}
	return 0
}
