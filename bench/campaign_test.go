package bench

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// BenchmarkCampaign measures the fan-out of one campaign to 1,000,000 users:
// with new 1-1 channels, and with every channel existing already. Run it with -benchtime=1x; each
// iteration sends a whole campaign. BENCH_CAMPAIGN_RECIPIENTS overrides the size for quick runs.
func BenchmarkCampaign(b *testing.B) {
	n := 1000000
	if v, err := strconv.Atoi(os.Getenv("BENCH_CAMPAIGN_RECIPIENTS")); err == nil && v > 0 {
		n = v
	}
	{
		for _, existing := range []bool{false, true} {
			name := "new"
			if existing {
				name = "existing"
			}
			b.Run(fmt.Sprintf("recipients=%d/channels=%s", n, name), func(b *testing.B) {
				benchmarkCampaign(b, n, existing)
			})
		}
	}
}

// BenchmarkCampaignDelivery is BenchmarkCampaign's new-channel campaign with the Kafka events and
// push sinks on, against an embedded broker in the same process: delivery-ratio is how long until
// the broker acked every event, over the campaign's send time.
func BenchmarkCampaignDelivery(b *testing.B) {
	n := 1000000
	if v, err := strconv.Atoi(os.Getenv("BENCH_CAMPAIGN_RECIPIENTS")); err == nil && v > 0 {
		n = v
	}
	b.Run(fmt.Sprintf("recipients=%d/channels=new", n), func(b *testing.B) {
		benchmarkCampaignWith(b, CampaignConfig{Recipients: n, Delivery: true})
	})
}

func benchmarkCampaign(b *testing.B, n int, existing bool) {
	benchmarkCampaignWith(b, CampaignConfig{Recipients: n, ExistingChannels: existing})
}

func benchmarkCampaignWith(b *testing.B, cfg CampaignConfig) {
	n := cfg.Recipients
	cfg.Dir, cfg.Logf = b.TempDir(), b.Logf
	env, err := PrepareCampaign(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	b.ReportAllocs()
	b.ResetTimer()
	var sends, secs, cpu float64
	var last *CampaignResult
	for i := range b.N {
		r, err := env.Run(fmt.Sprintf("bench-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		if r.MessagesSent != uint64(n) {
			b.Fatalf("unexpected messages sent; got %d; want %d", r.MessagesSent, n)
		}
		sends += float64(r.MessagesSent)
		secs += r.Elapsed.Seconds()
		cpu += r.CPU.Seconds()
		last = r
	}
	b.StopTimer()
	b.ReportMetric(sends/secs, "sends/s")
	b.ReportMetric(sends/cpu, "sends/cpu-s")
	b.ReportMetric(float64(last.PeakRSS>>20), "peak-rss-MiB")
	b.ReportMetric(float64(last.StartLatency.Microseconds())/1000, "start-ms")
	b.ReportMetric(float64(last.FirstSent.Microseconds())/1000, "first-sent-ms")
	if cfg.Delivery {
		b.ReportMetric(last.DeliveryRatio(), "delivery-ratio")
	}
	b.Logf("%s", last)
}

// TestCampaignWorkloadSmall keeps the workload itself working (the benchmark is too big for tests).
func TestCampaignWorkloadSmall(t *testing.T) {
	for _, existing := range []bool{false, true} {
		r, err := RunCampaign(CampaignConfig{Dir: t.TempDir(), Recipients: 5000, ExistingChannels: existing})
		if err != nil {
			t.Fatal(err)
		}
		wantCreated := uint64(5000)
		if existing {
			wantCreated = 0
		}
		if r.MessagesSent != 5000 || r.ChannelsCreated != wantCreated {
			t.Fatalf("unexpected result %s", r)
		}
	}
}
