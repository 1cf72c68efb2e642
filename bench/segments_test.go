package bench

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
	"github.com/campaignd/campaignd/wire"
)

// cpuTime returns the CPU time (user + system) the process has used. The machine may be shared:
// benchmarks report CPU time per operation beside wall time, since wall time includes waiting
// for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration, unit string) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), unit)
}

func mustOpenBenchEngine(b *testing.B) *engine.Engine {
	b.Helper()
	db, err := storage.Open(storage.Options{Path: b.TempDir()})
	if err != nil {
		b.Fatalf("cannot open storage: %s", err)
	}
	e, err := engine.Open(db, engine.Options{Encoder: wire.Legacy{}})
	if err != nil {
		b.Fatalf("cannot open engine: %s", err)
	}
	if err := e.Start(); err != nil {
		b.Fatalf("cannot start engine: %s", err)
	}
	b.Cleanup(func() {
		e.Stop()
		_ = db.Close()
	})
	return e
}

// BenchmarkSegmentAddTargets: goal ≤ 50 ms per call of 10,000 ids into a 1,000,000-target segment.
func BenchmarkSegmentAddTargets(b *testing.B) {
	e := mustOpenBenchEngine(b)
	w, err := SetupAddTargets(e, AddTargetsConfig{})
	if err != nil {
		b.Fatalf("cannot set up: %s", err)
	}
	b.Run(fmt.Sprintf("existing=%d/batch=%d", w.cfg.Existing, w.cfg.Batch), func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			if err := w.Run(); err != nil {
				b.Fatalf("cannot add targets: %s", err)
			}
		}
		reportCPU(b, cpu, "cpu-ms/call")
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/call")
		b.ReportMetric(float64(w.cfg.Batch*b.N)/b.Elapsed().Seconds(), "ids/s")
	})
}

// BenchmarkSegmentUnion: goal ≤ 100 ms to load and union 25 segments of 1,000,000 targets.
func BenchmarkSegmentUnion(b *testing.B) {
	for _, universe := range []int{2_000_000, 25_000_000} {
		b.Run(fmt.Sprintf("segments=25/targets=1000000/universe=%d", universe), func(b *testing.B) {
			e := mustOpenBenchEngine(b)
			w, err := SetupUnion(e, UnionConfig{Universe: universe})
			if err != nil {
				b.Fatalf("cannot set up: %s", err)
			}
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if _, err := w.Run(); err != nil {
					b.Fatalf("cannot resolve: %s", err)
				}
			}
			reportCPU(b, cpu, "cpu-ms/union")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/union")
			b.ReportMetric(float64(w.Want), "audience")
		})
	}
}

// BenchmarkSegmentFilterSize: goal ≤ 2 s from create to stored size over 1,000,000 users.
func BenchmarkSegmentFilterSize(b *testing.B) {
	e := mustOpenBenchEngine(b)
	w, err := SetupFilterSize(e, FilterSizeConfig{})
	if err != nil {
		b.Fatalf("cannot set up: %s", err)
	}
	b.Run(fmt.Sprintf("users=%d", w.cfg.Users), func(b *testing.B) {
		cpu := cpuTime()
		for b.Loop() {
			if _, err := w.Run(); err != nil {
				b.Fatalf("cannot size: %s", err)
			}
		}
		reportCPU(b, cpu, "cpu-ms/size")
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/size")
		b.ReportMetric(float64(w.cfg.Users*b.N)/b.Elapsed().Seconds(), "users/s")
	})
}
