package engine

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/campaignd/campaignd/storage"
)

// TestRunningCampaignMetrics: each running fan-out gets its progress series, label value escaped
// (Prometheus' \\, \" and \n), and chunkCommitted logs the progress once the interval passed, with
// a rate and an ETA.
func TestRunningCampaignMetrics(t *testing.T) {
	var logs bytes.Buffer
	e := openTestEngine(t, t.TempDir(), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	id := "camp \"q\" \\ x"
	r := &campaignRun{}
	e.campaigns.runs = map[string]*campaignRun{id: r}
	start := storage.CampaignRun{Total: 1000, Frozen: true}
	e.noteRunStart(id, r, &start)
	r.progress.lastLog = time.Now().Add(-ProgressLogInterval) // as if the interval passed
	next := storage.CampaignRun{Total: 1000, Done: 250, MessagesSent: 240, Skipped: 10, ChannelsCreated: 240}
	e.chunkCommitted(id, r, &start, &next)

	var out bytes.Buffer
	e.writeCampaignMetrics(&out)
	label := `{campaign="camp \"q\" \\ x"}`
	for _, want := range []string{
		"campaignd_campaign_progress_ratio" + label + " 0.25\n",
		"campaignd_campaign_recipients" + label + " 1000\n",
		"campaignd_campaign_recipients_done" + label + " 250\n",
		"campaignd_campaign_messages_sent" + label + " 240\n",
		`campaignd_campaigns{status="in_progress"} 0` + "\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("metrics lack %q:\n%s", want, out.String())
		}
	}
	t0 := time.Now().UnixNano() // run times are unix nanoseconds
	e.logRunCompleted(id, &storage.CampaignRun{Total: 1000, Done: 1000, MessagesSent: 1000, StartedAt: t0, CompletedAt: t0 + int64(2*time.Second)})
	l := logs.String()
	for _, want := range []string{"msg=\"campaign sending\"", "recipients=1000", "msg=\"campaign progress\"", "sent=240", "done=250", "progress=25.0%", "eta=", "msg=\"campaign completed\"", "took=2s", "rate=500/s"} {
		if !strings.Contains(l, want) {
			t.Fatalf("log lacks %q:\n%s", want, l)
		}
	}
}
