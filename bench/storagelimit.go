package bench

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
	"github.com/campaignd/campaignd/wire"
)

// StorageLimitConfig is the storage-limit workload: per recipient, only the records an
// exactly-once campaign fan-out must write, straight through package storage with campaignd's
// own store options, in fsynced batches of one fan-out chunk, the next batch built while the
// previous one commits (one commit in flight, in order). How fast this runs is the most a
// fan-out can send on this machine and filesystem; campaignd's sends/s divided by it is how close
// campaignd comes.
//
// Pass 1 creates every recipient's distinct 1-1 channel with the sender: the interned cid, the
// channel record, 2 member records and their 2 reverse-membership keys, the message, its id
// index entry, and 2 event references (channel.created, message.new) of 24 bytes in the outbox
// keyspace. Later passes send into those channels: the channel record rewritten with its new
// counters, the message, its id index entry and one event reference. Every batch also rewrites
// the campaign's run record (the cursor that makes a resumed fan-out exactly-once).
//
// Only writes are measured: a fan-out also has to read the channels it sends into, which this
// workload knows by construction.
type StorageLimitConfig struct {
	// Dir is the data directory (created; its contents are the caller's to remove).
	Dir string
	// Recipients is the audience size. Default: 1,000,000.
	Recipients int
	// Pass is 1 (new channels; Dir must hold no channel yet) or, for existing channels, 2, 3, ...:
	// the pass-th message into the channels pass 1 wrote in Dir. Default: 1.
	Pass int
	// BatchRecipients is the number of recipients per batch (one fsync). Default:
	// engine.FanoutChunkSize.
	BatchRecipients int
	// Logf receives progress lines; nil = silent.
	Logf func(format string, args ...any)
}

// StorageLimitResult is what RunStorageLimit measured.
type StorageLimitResult struct {
	Recipients int `json:"recipients"`
	Pass       int `json:"pass"`
	Batches    int `json:"batches"`
	// Elapsed is from the first batch built to the last one committed; CPU the process's CPU
	// time meanwhile (Pebble's background work included).
	Elapsed        time.Duration `json:"elapsed_ns"`
	CPU            time.Duration `json:"cpu_ns"`
	SendsPerSec    float64       `json:"sends_per_sec"`
	SendsPerCPUSec float64       `json:"sends_per_cpu_sec"`
	// BatchBytes is the size of the batches committed; WALBytes what Pebble wrote to the WAL for
	// them (framing included); TableBytes what its flushes and compactions wrote meanwhile (0 as
	// long as the data fits in the memtables).
	BatchBytes uint64 `json:"batch_bytes"`
	WALBytes   uint64 `json:"wal_bytes"`
	TableBytes uint64 `json:"table_bytes"`
	// PeakRSS is the process's VmHWM at the end (0 where /proc is unavailable).
	PeakRSS uint64 `json:"peak_rss"`
}

// Channels names the pass as the campaign benchmarks do: "new" or "existing".
func (r *StorageLimitResult) Channels() string {
	if r.Pass <= 1 {
		return "new"
	}
	return "existing"
}

func (r *StorageLimitResult) String() string {
	per := func(v uint64) float64 { return float64(v) / float64(max(r.Recipients, 1)) }
	return fmt.Sprintf("storage limit recipients=%d/channels=%s: pass=%d batches=%d elapsed=%s sends/s=%.0f cpu=%s sends/cpu-s=%.0f batch_bytes/send=%.0f wal_bytes/send=%.0f table_bytes/send=%.0f peak_rss=%dMiB",
		r.Recipients, r.Channels(), r.Pass, r.Batches, r.Elapsed.Round(time.Millisecond), r.SendsPerSec, r.CPU.Round(time.Millisecond),
		r.SendsPerCPUSec, per(r.BatchBytes), per(r.WALBytes), per(r.TableBytes), r.PeakRSS>>20)
}

// Event reference kinds (the first byte of a reference).
const (
	limitEventChannelCreated = 1
	limitEventMessageNew     = 2
)

// limitSenderOrd is the sender's user ordinal; recipient i ("u<i>") is user i+1 and channel i.
const limitSenderOrd = 1

// RunStorageLimit opens cfg.Dir, runs one pass of the workload and closes the store.
func RunStorageLimit(cfg StorageLimitConfig) (*StorageLimitResult, error) {
	if cfg.Recipients <= 0 {
		cfg.Recipients = 1000000
	}
	if cfg.Pass <= 0 {
		cfg.Pass = 1
	}
	if cfg.BatchRecipients <= 0 {
		cfg.BatchRecipients = engine.FanoutChunkSize
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	db, err := storage.Open(storage.Options{Path: cfg.Dir})
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	have := int(db.Channels.Max())
	switch {
	case cfg.Pass == 1 && have != 0:
		return nil, fmt.Errorf("cannot run the new-channels pass in %s: it holds %d channels already; use a fresh directory", cfg.Dir, have)
	case cfg.Pass > 1 && have < cfg.Recipients:
		return nil, fmt.Errorf("cannot run pass %d in %s: it holds %d channels, not %d; run pass 1 there first", cfg.Pass, cfg.Dir, have, cfg.Recipients)
	}
	seq, err := db.NextOutboxSeq()
	if err != nil {
		return nil, err
	}
	w := &limitWriter{
		db: db, cfg: &cfg, outboxSeq: seq,
		campaignID: "storage-limit-" + strconv.Itoa(cfg.Pass),
		members:    []string{"sender", ""},
		run:        storage.CampaignRun{Frozen: true, Kind: storage.AudienceUsers, Total: uint64(cfg.Recipients)},
	}
	w.custom = append(wire.AppendString([]byte(`{"campaign_id":`), w.campaignID), '}')

	// NB: Open flushed what the WAL of an earlier pass held; the compactions that follow would
	// share the machine with the measured pass.
	if d := waitStoreQuiet(db, 2*time.Minute); d > time.Second {
		cfg.Logf("storage limit pass %d: waited %s for flushes and compactions after open", cfg.Pass, d.Round(time.Millisecond))
	}
	m0 := db.Metrics()
	cpu0 := processCPU()
	t0 := time.Now()
	w.run.StartedAt = t0.UnixNano()
	res := &StorageLimitResult{Recipients: cfg.Recipients, Pass: cfg.Pass}
	// inflight receives the result of the one commit in flight; the next batch is built meanwhile.
	var inflight chan error
	lastLog := t0
	for from := 1; from <= cfg.Recipients; from += cfg.BatchRecipients {
		to := min(from+cfg.BatchRecipients-1, cfg.Recipients)
		b := w.build(from, to)
		res.Batches++
		res.BatchBytes += uint64(b.Len())
		if inflight != nil {
			if err := <-inflight; err != nil {
				b.Close()
				return nil, err
			}
		}
		inflight = make(chan error, 1)
		go func(b *storage.Batch, done chan<- error) { done <- b.Commit(true) }(b, inflight)
		if time.Since(lastLog) > 5*time.Second {
			cfg.Logf("storage limit pass %d: %d/%d built", cfg.Pass, to, cfg.Recipients)
			lastLog = time.Now()
		}
	}
	if inflight != nil {
		if err := <-inflight; err != nil {
			return nil, err
		}
	}
	res.Elapsed = time.Since(t0)
	res.CPU = processCPU() - cpu0
	m1 := db.Metrics()
	res.WALBytes = m1.WALBytesWritten - m0.WALBytesWritten
	res.TableBytes = (m1.FlushedBytes + m1.CompactedBytes) - (m0.FlushedBytes + m0.CompactedBytes)
	res.SendsPerSec = float64(cfg.Recipients) / res.Elapsed.Seconds()
	if res.CPU > 0 {
		res.SendsPerCPUSec = float64(cfg.Recipients) / res.CPU.Seconds()
	}
	res.PeakRSS = ProcPeakRSS(os.Getpid())
	return res, nil
}

// limitWriter builds the workload's batches. It is used by one goroutine.
type limitWriter struct {
	db         *storage.DB
	cfg        *StorageLimitConfig
	campaignID string
	custom     []byte
	outboxSeq  uint64
	run        storage.CampaignRun

	members   []string // sender, receiver: the distinct channel's members
	key, val  []byte
	text, uid []byte
}

// limitBytesPerRecipient sizes a batch up front (a new channel's records are about 600 bytes).
const limitBytesPerRecipient = 768

// build returns the batch of recipients from..to (1-based, inclusive).
func (w *limitWriter) build(from, to int) *storage.Batch {
	b := w.db.NewWriteBatch(limitBytesPerRecipient*(to-from+1) + 256)
	pass := uint64(w.cfg.Pass)
	created := pass == 1
	// NB: a fan-out keeps a channel's CreatedAt; every record here has the batch's time, which
	// encodes to the same size.
	now := time.Now().UnixNano()
	now -= now % 1000
	for i := from; i <= to; i++ {
		w.uid = strconv.AppendInt(append(w.uid[:0], 'u'), int64(i), 10)
		uid := string(w.uid)
		userOrd, chanOrd := uint32(i+1), uint32(i)
		w.members[1] = uid
		chanID := engine.DistinctChannelID(w.members)
		if created {
			w.val = append(append(w.val[:0], "messaging:"...), chanID...)
			b.Set(storage.InternedChannelKey(w.key[:0], chanOrd), w.val)
			member := storage.Member{ChannelRole: engine.DefaultChannelRole, CreatedAt: now, UpdatedAt: now}
			w.val = member.Marshal(w.val[:0])
			for _, u := range [2]uint32{userOrd, limitSenderOrd} {
				b.Set(storage.MemberKey(w.key[:0], chanOrd, u), w.val)
				b.Set(storage.UserChannelKey(w.key[:0], u, chanOrd), nil)
			}
		}
		ch := storage.Channel{
			Type: "messaging", ID: chanID, CreatedBy: limitSenderOrd, MemberCount: 2,
			MessageCount: pass, NextSeq: pass + 1, LastMessageAt: now, CreatedAt: now, UpdatedAt: now,
		}
		w.val = ch.Marshal(w.val[:0])
		b.Set(storage.ChannelKey(w.key[:0], chanOrd), w.val)

		w.text = append(append(append(w.text[:0], "Hi User "...), uid...), ", The Sender has news for gold members"...)
		msg := storage.Message{
			ID: engine.CampaignMessageID(w.campaignID, uid), Type: engine.MessageTypeRegular, Text: string(w.text),
			User: limitSenderOrd, CreatedAt: now, UpdatedAt: now, Custom: w.custom,
		}
		w.val = msg.Marshal(w.val[:0])
		b.Set(storage.MessageKey(w.key[:0], chanOrd, pass), w.val)
		b.Set(storage.MessageIDKey(w.key[:0], msg.ID), storage.AppendMessageRef(w.val[:0], chanOrd, pass))

		if created {
			w.putEventRef(b, limitEventChannelCreated, chanOrd, userOrd, 0)
		}
		w.putEventRef(b, limitEventMessageNew, chanOrd, userOrd, pass)
	}
	w.run.Cursor = uint32(to)
	w.run.Done = uint64(to)
	w.run.MessagesSent = uint64(to)
	w.run.UsersSent = uint64(to)
	if created {
		w.run.ChannelsCreated = uint64(to)
	}
	w.val = w.run.Marshal(w.val[:0])
	b.Set(storage.CampaignRunKey(w.key[:0], w.campaignID), w.val)
	return b
}

// putEventRef writes one 24-byte event reference at the next outbox seq: a stand-in for a compact
// descriptor from which a relay renders the event (kind, flags, 2 reserved bytes, be32 channel,
// be32 receiver, be64 message seq, be32 campaign).
func (w *limitWriter) putEventRef(b *storage.Batch, kind byte, chanOrd, userOrd uint32, msgSeq uint64) {
	v := append(w.val[:0], kind, 0, 0, 0)
	v = binary.BigEndian.AppendUint32(v, chanOrd)
	v = binary.BigEndian.AppendUint32(v, userOrd)
	v = binary.BigEndian.AppendUint64(v, msgSeq)
	v = binary.BigEndian.AppendUint32(v, uint32(w.cfg.Pass))
	w.val = v
	b.Set(storage.NewKey(w.key[:0], storage.PrefixOutbox).U64(w.outboxSeq), v)
	w.outboxSeq++
}

// waitStoreQuiet waits until no flush or compaction ran at two looks 50 ms apart, at most
// timeout, and returns how long it waited.
func waitStoreQuiet(db *storage.DB, timeout time.Duration) time.Duration {
	t0 := time.Now()
	quiet := 0
	for quiet < 2 && time.Since(t0) < timeout {
		if m := db.Metrics(); m.FlushesInProgress == 0 && m.CompactionsInProgress == 0 {
			quiet++
		} else {
			quiet = 0
		}
		if quiet < 2 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return time.Since(t0)
}
