package storage

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// ErrNotFound is returned by Get when a key does not exist.
var ErrNotFound = errors.New("storage: not found")

// Options configures Open. A zero field means the default.
type Options struct {
	// Path is the directory holding the Pebble data. Default: ./campaignd-data.
	Path string
	// CacheSize is the block cache size in bytes. Default: 128 MiB.
	CacheSize int64
	// MemTableSize is the size of one memtable in bytes. Default: 64 MiB.
	//
	// NB: inserting into a memtable costs more as it grows (a deeper skiplist, more cache misses),
	// and the fan-out's outbox entries are a few bytes per recipient, so large memtables no longer
	// pay: BenchmarkCampaign at 300,000 recipients gave about 55–67k sends per CPU-second for new
	// channels and 69–87k for existing ones at 64 MiB against 72–74k and 70–71k at 128 MiB, with
	// 50–130 MiB less peak RSS (one session, alternated runs).
	MemTableSize uint64
	// BallastSize is the size of the emergency ballast file kept in Path (see DiskSpace and
	// RestoreBallast); 0 keeps none.
	BallastSize int64
	// Logger receives Pebble's own log lines at debug level. Default: slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Path == "" {
		o.Path = "./campaignd-data"
	}
	if o.CacheSize == 0 {
		o.CacheSize = 128 << 20
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// DB is campaignd's only handle on Pebble. It is safe for concurrent use.
// The caller must Close it.
type DB struct {
	db          *pebble.DB
	path        string
	ballastSize int64
	events      *storeEvents

	// Users and Channels intern user ids and channel cids to dense ordinals.
	Users    *Interner
	Channels *Interner
}

// Open opens (creating if needed) the store at opts.Path and loads the interners.
func Open(opts Options) (*DB, error) {
	opts.EnsureDefaults()
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	events := newStoreEvents(opts.Logger)
	po := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                opts.MemTableSize,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		Logger:                      pebbleLogger{opts.Logger},
		FormatMajorVersion:          pebble.FormatNewest,
		EventListener:               events.listener(),
	}
	pdb, err := pebble.Open(opts.Path, po)
	if err != nil {
		return nil, fmt.Errorf("cannot open pebble at %q: %w", opts.Path, err)
	}
	db := &DB{db: pdb, path: opts.Path, ballastSize: opts.BallastSize, events: events}
	if db.Users, err = openInterner(db, internUser, true); err != nil {
		_ = pdb.Close()
		return nil, err
	}
	if db.Channels, err = openInterner(db, internChannel, false); err != nil {
		_ = pdb.Close()
		return nil, err
	}
	return db, nil
}

// Close flushes nothing extra (every Sync commit is already durable) and closes Pebble.
func (db *DB) Close() error {
	if err := db.db.Close(); err != nil {
		return fmt.Errorf("cannot close pebble: %w", err)
	}
	return nil
}

// Get appends the value of key to dst and returns it, or ErrNotFound.
// The returned slice is dst's (possibly grown) backing array, never Pebble's memory.
func (db *DB) Get(dst, key []byte) ([]byte, error) {
	v, closer, err := db.db.Get(key)
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return dst, ErrNotFound
		}
		return dst, fmt.Errorf("cannot get key %q: %w", key, err)
	}
	dst = append(dst, v...)
	_ = closer.Close()
	return dst, nil
}

// Has reports whether key exists.
func (db *DB) Has(key []byte) (bool, error) {
	_, closer, err := db.db.Get(key)
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return false, nil
		}
		return false, fmt.Errorf("cannot get key %q: %w", key, err)
	}
	_ = closer.Close()
	return true, nil
}

// Batch collects writes that commit atomically. A Batch is not safe for concurrent use.
// Reads through a Batch see its own writes (it is indexed).
type Batch struct {
	b  *pebble.Batch
	db *pebble.DB
}

// NewBatch returns an empty indexed batch. The caller must Commit or Close it.
func (db *DB) NewBatch() *Batch {
	return &Batch{b: db.db.NewIndexedBatch(), db: db.db}
}

// NewBatchSize is NewBatch with room for about size bytes of writes, so that a large batch does
// not copy its data each time it grows.
func (db *DB) NewBatchSize(size int) *Batch {
	return &Batch{b: db.db.NewIndexedBatchWithSize(size), db: db.db}
}

// NewWriteBatch returns an empty batch with room for about size bytes that can only be written
// and committed: it keeps no index, so Get on it fails and NewIter panics. Cheaper per Set than an
// indexed batch, for writers that never read their own writes back.
func (db *DB) NewWriteBatch(size int) *Batch {
	return &Batch{b: db.db.NewBatchWithSize(size), db: db.db}
}

// Set stores key=value in the batch. Both slices are copied.
func (b *Batch) Set(key, value []byte) {
	if err := b.b.Set(key, value, nil); err != nil {
		panic(fmt.Errorf("BUG: batch set: %w", err))
	}
}

// Delete removes key in the batch.
func (b *Batch) Delete(key []byte) {
	if err := b.b.Delete(key, nil); err != nil {
		panic(fmt.Errorf("BUG: batch delete: %w", err))
	}
}

// DeleteRange removes every key in [start, end) in the batch.
func (b *Batch) DeleteRange(start, end []byte) {
	if err := b.b.DeleteRange(start, end, nil); err != nil {
		panic(fmt.Errorf("BUG: batch delete range: %w", err))
	}
}

// Get reads key through the batch (seeing its uncommitted writes) and appends the value to dst.
func (b *Batch) Get(dst, key []byte) ([]byte, error) {
	v, closer, err := b.b.Get(key)
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return dst, ErrNotFound
		}
		return dst, fmt.Errorf("cannot get key %q: %w", key, err)
	}
	dst = append(dst, v...)
	_ = closer.Close()
	return dst, nil
}

// Len returns the batch's size in bytes.
func (b *Batch) Len() int { return b.b.Len() }

// Empty reports whether the batch holds no writes.
func (b *Batch) Empty() bool { return b.b.Empty() }

// Commit writes the batch atomically. With sync it returns only after the WAL is fsynced, so the
// writes survive kill -9 and power loss; concurrent sync commits share fsyncs (group commit).
// The batch is closed afterwards in every case.
func (b *Batch) Commit(sync bool) error {
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	err := b.b.Commit(opt)
	_ = b.b.Close()
	if err != nil {
		return fmt.Errorf("cannot commit batch: %w", err)
	}
	return nil
}

// Apply writes the batch atomically and makes it visible, without waiting for its fsync; the
// returned wait waits for it (the writes are durable once wait returned nil) and closes the batch.
// On success wait must be called exactly once; on error the batch is closed.
//
// NB: Pebble writes batches to its WAL in the order they are applied and an fsync covers everything
// written before it, so a batch applied after this one is durable only if this one is (a later
// Commit(true) or wait returning nil implies this one is durable). A failed WAL write or sync is
// fatal in Pebble: the process stops, and nothing applied but not synced survives it.
func (b *Batch) Apply() (wait func() error, err error) {
	if err := b.db.ApplyNoSyncWait(b.b, pebble.Sync); err != nil {
		_ = b.b.Close()
		return nil, fmt.Errorf("cannot commit batch: %w", err)
	}
	return func() error {
		err := b.b.SyncWait()
		_ = b.b.Close()
		if err != nil {
			return fmt.Errorf("cannot commit batch: %w", err)
		}
		return nil
	}, nil
}

// Close discards an uncommitted batch.
func (b *Batch) Close() { _ = b.b.Close() }

// Iter iterates keys in [lower, upper) in ascending order. The caller must Close it.
// Key and Value alias Pebble memory valid only until the next positioning call.
type Iter struct {
	it *pebble.Iterator
}

// NewIter returns an iterator over [lower, upper); a nil upper means no upper bound.
func (db *DB) NewIter(lower, upper []byte) *Iter {
	it, err := db.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		panic(fmt.Errorf("BUG: cannot create iterator: %w", err))
	}
	return &Iter{it: it}
}

// NewIter returns an iterator over [lower, upper) that sees the batch's uncommitted writes.
func (b *Batch) NewIter(lower, upper []byte) *Iter {
	it, err := b.b.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		panic(fmt.Errorf("BUG: cannot create batch iterator: %w", err))
	}
	return &Iter{it: it}
}

// First positions at the first key; it reports whether one exists.
func (it *Iter) First() bool { return it.it.First() }

// Last positions at the last key; it reports whether one exists.
func (it *Iter) Last() bool { return it.it.Last() }

// SeekGE positions at the first key >= key.
func (it *Iter) SeekGE(key []byte) bool { return it.it.SeekGE(key) }

// SeekLT positions at the last key < key.
func (it *Iter) SeekLT(key []byte) bool { return it.it.SeekLT(key) }

// Next moves forward; it reports whether the iterator is still valid.
func (it *Iter) Next() bool { return it.it.Next() }

// Prev moves backward; it reports whether the iterator is still valid.
func (it *Iter) Prev() bool { return it.it.Prev() }

// Valid reports whether the iterator is positioned at a key.
func (it *Iter) Valid() bool { return it.it.Valid() }

// Key returns the current key (aliases Pebble memory until the next move).
func (it *Iter) Key() []byte { return it.it.Key() }

// Value returns the current value (aliases Pebble memory until the next move).
func (it *Iter) Value() []byte {
	v, err := it.it.ValueAndErr()
	if err != nil {
		panic(fmt.Errorf("BUG: cannot read value: %w", err))
	}
	return v
}

// Close releases the iterator and returns any error met while iterating.
func (it *Iter) Close() error {
	if err := it.it.Close(); err != nil {
		return fmt.Errorf("cannot iterate: %w", err)
	}
	return nil
}

// Flush forces the memtable to disk; used by benchmarks and tests.
func (db *DB) Flush() error { return db.db.Flush() }

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf("FATAL: pebble: "+format, args...))
}
