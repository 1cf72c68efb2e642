package storage

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2"
	dto "github.com/prometheus/client_model/go"
)

// Write stall reasons: the two limits at which Pebble stops accepting writes.
const (
	// StallMemTables: MemTableStopWritesThreshold memtables are waiting to be flushed.
	StallMemTables = iota
	// StallL0: L0 has L0StopWritesThreshold sublevels waiting to be compacted.
	StallL0
	// StallOther: a reason this version of Pebble names and campaignd does not know.
	StallOther
	numStallReasons
)

// stallReasonNames are the values of the reason label of campaignd_storage_write_stalls_total.
var stallReasonNames = [numStallReasons]string{"memtables", "l0", "other"}

// NumLevels is the number of LSM levels (L0 to L6).
const NumLevels = 7

// Metrics is a snapshot of the store's health: Pebble's own counters (cumulative since Open) and
// gauges, and what the store counted from Pebble's events. Byte counts are bytes on disk unless
// said otherwise.
type Metrics struct {
	// WALBytesIn counts the batch bytes committed; WALBytesWritten the bytes written to WAL files
	// for them (record framing included).
	WALBytesIn, WALBytesWritten uint64
	// WALFsyncs counts the WAL's fsyncs (one serves every sync commit waiting on it); WALFsyncTime
	// is their total duration.
	WALFsyncs    uint64
	WALFsyncTime time.Duration
	// WALFiles are the live WAL files (obsolete ones kept for recycling not included); WALSize is
	// the data they hold not yet flushed, or their size on disk when larger (a recycled file).
	WALFiles int64
	WALSize  uint64

	// Flushes counts memtable flushes; FlushedBytes the sstable bytes they wrote; FlushTime the
	// time spent flushing.
	Flushes, FlushesInProgress int64
	FlushedBytes               uint64
	FlushTime                  time.Duration

	// Compactions counts finished compactions (any kind); CompactedBytes the sstable bytes they
	// wrote, CompactionReadBytes the bytes they read; CompactionTime their total duration
	// (running ones included so far).
	Compactions, CompactionsInProgress, CompactionsFailed int64
	CompactedBytes, CompactionReadBytes                   uint64
	CompactionTime                                        time.Duration
	// CompactionDebt estimates the bytes to compact before the LSM is in shape again.
	CompactionDebt uint64

	// Levels holds the sstables of each level; L0's Sublevels is its read amplification.
	Levels [NumLevels]LevelMetrics
	// ReadAmp is the number of sublevels a read may have to look at (L0's plus one per
	// non-empty lower level).
	ReadAmp int

	// WriteStalls counts the times writes were stopped, per reason (StallMemTables, ...);
	// WriteStallTime is the time during which at least one write was stopped (a stall still
	// going on included); WriteStalled reports whether one is going on now.
	WriteStalls    [numStallReasons]uint64
	WriteStallTime time.Duration
	WriteStalled   bool

	// DiskUsage is every file of the store: WALs, sstables (live, obsolete, zombie), manifest,
	// options and compactions under way.
	DiskUsage uint64
	// ObsoleteBytes are sstables and WALs no longer needed, not yet deleted or recycled.
	ObsoleteBytes uint64

	// BlockCache: hits and misses of reads (hit rate = hits / (hits + misses)), bytes and blocks
	// held.
	BlockCacheHits, BlockCacheMisses, BlockCacheBlocks int64
	BlockCacheSize                                     int64

	// MemTableSize is the memory of the mutable and the not yet flushed memtables;
	// MemTables their number (1 while nothing waits for a flush). ZombieMemTableSize is
	// memory of flushed memtables still held by iterators.
	MemTableSize, ZombieMemTableSize uint64
	MemTables                        int64

	// Tombstones approximates the deletion tombstones stored (point and range) that
	// compactions have not dropped yet.
	Tombstones uint64
	// TableIters is the number of open sstable iterators; Snapshots of open snapshots.
	TableIters int64
	Snapshots  int

	// DiskSlow counts disk operations (writes, syncs) that took longer than Pebble's slowness
	// threshold; BackgroundErrors the errors of flushes and compactions.
	DiskSlow, BackgroundErrors uint64
}

// LevelMetrics are one LSM level's sstables.
type LevelMetrics struct {
	Files     int64
	Bytes     int64
	Sublevels int32
}

// Metrics returns a snapshot of the store's health. It takes a few microseconds (Pebble
// gathers it under its lock): call it per scrape, not per write.
func (db *DB) Metrics() Metrics {
	pm := db.db.Metrics()
	m := Metrics{
		WALBytesIn:      pm.WAL.BytesIn,
		WALBytesWritten: pm.WAL.BytesWritten,
		WALFiles:        pm.WAL.Files,
		// NB: Pebble's PhysicalSize counts the current WAL's size when it was opened (0 for a new
		// file) while Size grows with every commit.
		WALSize: max(pm.WAL.PhysicalSize, pm.WAL.Size),

		Flushes:           pm.Flush.Count,
		FlushesInProgress: pm.Flush.NumInProgress,
		FlushTime:         pm.Flush.WriteThroughput.WorkDuration,

		Compactions:           pm.Compact.Count,
		CompactionsInProgress: pm.Compact.NumInProgress,
		CompactionsFailed:     pm.Compact.FailedCount,
		CompactionTime:        pm.Compact.Duration,
		CompactionDebt:        pm.Compact.EstimatedDebt,

		ReadAmp:       pm.ReadAmp(),
		DiskUsage:     pm.DiskSpaceUsage(),
		ObsoleteBytes: pm.Table.Local.ObsoleteSize + pm.WAL.ObsoletePhysicalSize,

		BlockCacheHits:   pm.BlockCache.Hits,
		BlockCacheMisses: pm.BlockCache.Misses,
		BlockCacheBlocks: pm.BlockCache.Count,
		BlockCacheSize:   pm.BlockCache.Size,

		MemTableSize:       pm.MemTable.Size,
		ZombieMemTableSize: pm.MemTable.ZombieSize,
		MemTables:          pm.MemTable.Count,

		Tombstones: pm.Keys.TombstoneCount,
		TableIters: pm.TableIters,
		Snapshots:  pm.Snapshots.Count,
	}
	for i := range pm.Levels {
		l := &pm.Levels[i]
		m.Levels[i] = LevelMetrics{Files: l.TablesCount, Bytes: l.TablesSize, Sublevels: l.Sublevels}
		m.FlushedBytes += l.TableBytesFlushed + l.BlobBytesFlushed
		m.CompactedBytes += l.TableBytesCompacted + l.BlobBytesCompacted
		m.CompactionReadBytes += l.TableBytesRead
	}
	if h := pm.LogWriter.FsyncLatency; h != nil {
		var dm dto.Metric
		if err := h.Write(&dm); err == nil && dm.Histogram != nil {
			m.WALFsyncs = dm.Histogram.GetSampleCount()
			// NB: Pebble observes time.Duration values, i.e. nanoseconds.
			m.WALFsyncTime = time.Duration(dm.Histogram.GetSampleSum())
		}
	}
	db.events.read(&m)
	return m
}

// WritePrometheus writes the store's metrics in Prometheus text format, every name starting with
// campaignd_storage_. Each DB writes its own lines (nothing is registered globally), so that
// several DBs can live in one process.
func (db *DB) WritePrometheus(w io.Writer) {
	m := db.Metrics()
	counter := func(name string, v uint64) { metrics.WriteCounterUint64(w, "campaignd_storage_"+name, v) }
	seconds := func(name string, d time.Duration) {
		metrics.WriteCounterFloat64(w, "campaignd_storage_"+name, d.Seconds())
	}
	gauge := func(name string, v int64) { metrics.WriteGaugeUint64(w, "campaignd_storage_"+name, uint64(max(v, 0))) }

	counter("wal_bytes_in_total", m.WALBytesIn)
	counter("wal_written_bytes_total", m.WALBytesWritten)
	counter("wal_fsyncs_total", m.WALFsyncs)
	seconds("wal_fsync_seconds_total", m.WALFsyncTime)
	gauge("wal_files", m.WALFiles)
	gauge("wal_size_bytes", int64(m.WALSize))

	counter("flushes_total", uint64(m.Flushes))
	counter("flushed_bytes_total", m.FlushedBytes)
	seconds("flush_seconds_total", m.FlushTime)
	gauge("flushes_in_progress", m.FlushesInProgress)

	counter("compactions_total", uint64(m.Compactions))
	counter("compactions_failed_total", uint64(m.CompactionsFailed))
	counter("compacted_bytes_total", m.CompactedBytes)
	counter("compaction_read_bytes_total", m.CompactionReadBytes)
	seconds("compaction_seconds_total", m.CompactionTime)
	gauge("compactions_in_progress", m.CompactionsInProgress)
	gauge("compaction_debt_bytes", int64(m.CompactionDebt))

	writeFamily(w, "campaignd_storage_level_files", "gauge", func(i int) uint64 { return uint64(m.Levels[i].Files) })
	writeFamily(w, "campaignd_storage_level_bytes", "gauge", func(i int) uint64 { return uint64(m.Levels[i].Bytes) })
	gauge("l0_files", m.Levels[0].Files)
	gauge("l0_sublevels", int64(m.Levels[0].Sublevels))
	gauge("read_amplification", int64(m.ReadAmp))

	metrics.WriteMetadataIfNeeded(w, "campaignd_storage_write_stalls_total", "counter")
	for r, n := range m.WriteStalls {
		fmt.Fprintf(w, "campaignd_storage_write_stalls_total{reason=%q} %d\n", stallReasonNames[r], n)
	}
	seconds("write_stall_seconds_total", m.WriteStallTime)
	stalled := int64(0)
	if m.WriteStalled {
		stalled = 1
	}
	gauge("write_stalled", stalled)

	gauge("disk_usage_bytes", int64(m.DiskUsage))
	gauge("obsolete_bytes", int64(m.ObsoleteBytes))
	counter("block_cache_hits_total", uint64(m.BlockCacheHits))
	counter("block_cache_misses_total", uint64(m.BlockCacheMisses))
	gauge("block_cache_size_bytes", m.BlockCacheSize)
	gauge("block_cache_blocks", m.BlockCacheBlocks)
	gauge("memtable_size_bytes", int64(m.MemTableSize))
	gauge("memtables", m.MemTables)
	gauge("memtable_zombie_size_bytes", int64(m.ZombieMemTableSize))
	gauge("tombstones", int64(m.Tombstones))
	gauge("table_iterators", m.TableIters)
	gauge("snapshots", int64(m.Snapshots))
	counter("disk_slow_total", m.DiskSlow)
	counter("background_errors_total", m.BackgroundErrors)
}

// writeFamily writes one line per level of a labelled family, with its metadata once.
func writeFamily(w io.Writer, name, typ string, value func(level int) uint64) {
	metrics.WriteMetadataIfNeeded(w, name, typ)
	for i := range NumLevels {
		fmt.Fprintf(w, "%s{level=\"%d\"} %d\n", name, i, value(i))
	}
}

// storeEvents counts what Pebble's EventListener reports and logs what an operator should see.
type storeEvents struct {
	log *slog.Logger

	stalls           [numStallReasons]atomic.Uint64
	diskSlow         atomic.Uint64
	backgroundErrors atomic.Uint64

	mu sync.Mutex
	// stalled is the number of writes stopped now (Pebble may stop more than one committer);
	// stallStart is when it became non-zero, stallTime the time it was non-zero before.
	stalled    int
	stallStart time.Time
	stallTime  time.Duration
	now        func() time.Time // time.Now; tests replace it
}

func newStoreEvents(log *slog.Logger) *storeEvents {
	return &storeEvents{log: log, now: time.Now}
}

// listener returns the EventListener feeding ev.
func (ev *storeEvents) listener() *pebble.EventListener {
	return &pebble.EventListener{
		WriteStallBegin: ev.stallBegin,
		WriteStallEnd:   ev.stallEnd,
		DiskSlow: func(info pebble.DiskSlowInfo) {
			ev.diskSlow.Add(1)
			ev.log.Warn("slow disk operation", "component", "pebble", "info", info.String())
		},
		BackgroundError: func(err error) {
			ev.backgroundErrors.Add(1)
			ev.log.Error("pebble background error", "component", "pebble", "err", err)
		},
	}
}

func (ev *storeEvents) stallBegin(info pebble.WriteStallBeginInfo) {
	r := StallOther
	switch info.Reason {
	case "memtable count limit reached":
		r = StallMemTables
	case "L0 file count limit exceeded":
		r = StallL0
	}
	ev.stalls[r].Add(1)
	ev.mu.Lock()
	if ev.stalled == 0 {
		ev.stallStart = ev.now()
	}
	ev.stalled++
	ev.mu.Unlock()
	ev.log.Info("pebble stopped writes", "component", "pebble", "reason", info.Reason)
}

func (ev *storeEvents) stallEnd() {
	ev.mu.Lock()
	var took time.Duration
	if ev.stalled > 0 {
		ev.stalled--
		if ev.stalled == 0 {
			took = ev.now().Sub(ev.stallStart)
			ev.stallTime += took
		}
	}
	ev.mu.Unlock()
	if took > 0 {
		ev.log.Info("pebble resumed writes", "component", "pebble", "stalled", took)
	}
}

func (ev *storeEvents) read(m *Metrics) {
	for r := range ev.stalls {
		m.WriteStalls[r] = ev.stalls[r].Load()
	}
	m.DiskSlow = ev.diskSlow.Load()
	m.BackgroundErrors = ev.backgroundErrors.Load()
	ev.mu.Lock()
	m.WriteStallTime = ev.stallTime
	if ev.stalled > 0 {
		m.WriteStallTime += ev.now().Sub(ev.stallStart)
		m.WriteStalled = true
	}
	ev.mu.Unlock()
}
