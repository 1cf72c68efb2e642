package storage

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

func TestMetricsAfterWrites(t *testing.T) {
	db := mustOpenTestStore(t)
	const commits, perCommit = 20, 100
	value := bytes.Repeat([]byte("v"), 1000)
	var key []byte
	// Five rounds over the same keys, each flushed: overlapping L0 files beyond the compaction
	// threshold (4), so that Pebble compacts them.
	for round := range 5 {
		for c := range commits {
			b := db.NewWriteBatch(perCommit * 1100)
			for i := range perCommit {
				key = NewKey(key[:0], PrefixUser).U32(uint32(c*perCommit + i))
				b.Set(key, value)
			}
			if err := b.Commit(true); err != nil {
				t.Fatalf("cannot commit: %s", err)
			}
		}
		if err := db.Flush(); err != nil {
			t.Fatalf("cannot flush round %d: %s", round, err)
		}
	}
	written := uint64(5 * commits * perCommit * len(value))
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		m := db.Metrics()
		if m.WALFsyncs < 5*commits {
			return fmt.Errorf("unexpected WAL fsyncs; got %d; want at least %d", m.WALFsyncs, 5*commits)
		}
		if m.Compactions < 1 || m.CompactedBytes == 0 || m.CompactionReadBytes == 0 {
			return fmt.Errorf("no compaction seen yet: %d compactions, %d bytes written, %d read", m.Compactions, m.CompactedBytes, m.CompactionReadBytes)
		}
		return nil
	})
	m := db.Metrics()
	if m.WALBytesIn < written || m.WALBytesWritten < m.WALBytesIn {
		t.Fatalf("unexpected WAL bytes; got in=%d written=%d; want in >= %d and written >= in", m.WALBytesIn, m.WALBytesWritten, written)
	}
	if m.WALFsyncTime <= 0 || m.WALFsyncTime > time.Duration(m.WALFsyncs)*10*time.Second {
		t.Fatalf("unexpected WAL fsync time %s for %d fsyncs", m.WALFsyncTime, m.WALFsyncs)
	}
	if m.Flushes < 5 || m.FlushedBytes == 0 || m.FlushTime <= 0 {
		t.Fatalf("unexpected flushes; got %d (%d bytes, %s); want at least 5", m.Flushes, m.FlushedBytes, m.FlushTime)
	}
	var files, tables int64
	for _, l := range m.Levels {
		files += l.Files
		tables += l.Bytes
	}
	if files == 0 || tables == 0 {
		t.Fatalf("unexpected levels %+v", m.Levels)
	}
	if m.DiskUsage < uint64(tables) {
		t.Fatalf("unexpected disk usage %d below the sstables' %d bytes", m.DiskUsage, tables)
	}
	if m.MemTables < 1 || m.MemTableSize == 0 {
		t.Fatalf("unexpected memtables: %d of %d bytes", m.MemTables, m.MemTableSize)
	}
	if m.WriteStalled || m.BackgroundErrors != 0 {
		t.Fatalf("unexpected stall %v or background errors %d", m.WriteStalled, m.BackgroundErrors)
	}

	// A read from the sstables misses the block cache, the same read again hits it.
	h0, m0 := m.BlockCacheHits, m.BlockCacheMisses
	k := NewKey(nil, PrefixUser).U32(42)
	if _, err := db.Get(nil, k); err != nil {
		t.Fatalf("cannot get: %s", err)
	}
	m = db.Metrics()
	if m.BlockCacheMisses <= m0 {
		t.Fatalf("unexpected block cache misses; got %d; want more than %d", m.BlockCacheMisses, m0)
	}
	h1 := m.BlockCacheHits
	if _, err := db.Get(nil, k); err != nil {
		t.Fatalf("cannot get: %s", err)
	}
	m = db.Metrics()
	if m.BlockCacheHits <= h1 || h1 < h0 {
		t.Fatalf("unexpected block cache hits; got %d after %d; want more", m.BlockCacheHits, h1)
	}
	if m.BlockCacheSize <= 0 || m.BlockCacheBlocks <= 0 {
		t.Fatalf("unexpected block cache contents: %d bytes, %d blocks", m.BlockCacheSize, m.BlockCacheBlocks)
	}

	// The Prometheus lines: parseable, unique, and the same values.
	var buf bytes.Buffer
	db.WritePrometheus(&buf)
	lines := parsePrometheus(t, buf.String())
	for _, name := range []string{
		"campaignd_storage_wal_written_bytes_total", "campaignd_storage_wal_fsyncs_total",
		"campaignd_storage_flushes_total", "campaignd_storage_compactions_total",
		`campaignd_storage_level_files{level="0"}`, `campaignd_storage_level_bytes{level="6"}`,
		"campaignd_storage_l0_sublevels", `campaignd_storage_write_stalls_total{reason="memtables"}`,
		`campaignd_storage_write_stalls_total{reason="l0"}`, "campaignd_storage_write_stall_seconds_total",
		"campaignd_storage_disk_usage_bytes", "campaignd_storage_block_cache_hits_total",
		"campaignd_storage_block_cache_misses_total", "campaignd_storage_memtable_size_bytes",
	} {
		if _, ok := lines[name]; !ok {
			t.Fatalf("metrics lack %s:\n%s", name, buf.String())
		}
	}
	if got := lines["campaignd_storage_wal_bytes_in_total"]; got < float64(written) {
		t.Fatalf("unexpected campaignd_storage_wal_bytes_in_total %v; want at least %d", got, written)
	}
	if got := lines["campaignd_storage_block_cache_hits_total"]; got < float64(m.BlockCacheHits) {
		t.Fatalf("unexpected campaignd_storage_block_cache_hits_total %v; want at least %d", got, m.BlockCacheHits)
	}
}

// parsePrometheus returns the series of Prometheus text, failing on a malformed or repeated one.
func parsePrometheus(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			t.Fatalf("malformed metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("malformed value in metrics line %q: %s", line, err)
		}
		if _, dup := out[line[:i]]; dup {
			t.Fatalf("series %s written twice", line[:i])
		}
		out[line[:i]] = v
	}
	return out
}

func TestWriteStallAccounting(t *testing.T) {
	ev := newStoreEvents(slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := time.Unix(1000, 0)
	ev.now = func() time.Time { return now }
	f := func(wantStalled bool, wantTime time.Duration, wantCounts [numStallReasons]uint64) {
		t.Helper()
		var m Metrics
		ev.read(&m)
		if m.WriteStalled != wantStalled || m.WriteStallTime != wantTime || m.WriteStalls != wantCounts {
			t.Fatalf("unexpected stall metrics; got stalled=%v time=%s counts=%v; want %v %s %v",
				m.WriteStalled, m.WriteStallTime, m.WriteStalls, wantStalled, wantTime, wantCounts)
		}
	}
	l := ev.listener()
	f(false, 0, [numStallReasons]uint64{})
	l.WriteStallBegin(pebble.WriteStallBeginInfo{Reason: "memtable count limit reached"})
	now = now.Add(2 * time.Second)
	f(true, 2*time.Second, [numStallReasons]uint64{1, 0, 0}) // a stall going on counts so far
	// A second committer stopped meanwhile: the time counts once.
	l.WriteStallBegin(pebble.WriteStallBeginInfo{Reason: "L0 file count limit exceeded"})
	now = now.Add(time.Second)
	l.WriteStallEnd()
	f(true, 3*time.Second, [numStallReasons]uint64{1, 1, 0})
	l.WriteStallEnd()
	now = now.Add(time.Hour)
	f(false, 3*time.Second, [numStallReasons]uint64{1, 1, 0})
	l.WriteStallBegin(pebble.WriteStallBeginInfo{Reason: "something new"})
	now = now.Add(500 * time.Millisecond)
	l.WriteStallEnd()
	l.WriteStallEnd() // unbalanced: ignored
	f(false, 3500*time.Millisecond, [numStallReasons]uint64{1, 1, 1})
}
