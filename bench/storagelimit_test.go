package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/campaignd/campaignd/engine"
	"github.com/campaignd/campaignd/storage"
)

// BenchmarkStorageLimit measures the storage limit of a campaign fan-out (StorageLimitConfig):
// the records of 1,000,000 recipients in new channels, and in existing channels (after an
// unmeasured pass that creates them). Run it with -benchtime=1x. BENCH_LIMIT_RECIPIENTS (else
// BENCH_CAMPAIGN_RECIPIENTS, so that one variable sizes both benchmarks) overrides the size.
func BenchmarkStorageLimit(b *testing.B) {
	n := 1000000
	for _, env := range []string{"BENCH_LIMIT_RECIPIENTS", "BENCH_CAMPAIGN_RECIPIENTS"} {
		if v, err := strconv.Atoi(os.Getenv(env)); err == nil && v > 0 {
			n = v
			break
		}
	}
	for _, existing := range []bool{false, true} {
		name := "new"
		if existing {
			name = "existing"
		}
		b.Run(fmt.Sprintf("recipients=%d/channels=%s", n, name), func(b *testing.B) {
			benchmarkStorageLimit(b, n, existing)
		})
	}
}

func benchmarkStorageLimit(b *testing.B, n int, existing bool) {
	dir := b.TempDir()
	if existing {
		r, err := RunStorageLimit(StorageLimitConfig{Dir: dir, Recipients: n, Logf: b.Logf})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("created the channels: %s", r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var sends, secs, cpu, wal float64
	for i := range b.N {
		cfg := StorageLimitConfig{Dir: filepath.Join(dir, strconv.Itoa(i)), Recipients: n, Logf: b.Logf}
		if existing {
			cfg.Dir, cfg.Pass = dir, i+2
		}
		r, err := RunStorageLimit(cfg)
		if err != nil {
			b.Fatal(err)
		}
		sends += float64(r.Recipients)
		secs += r.Elapsed.Seconds()
		cpu += r.CPU.Seconds()
		wal += float64(r.WALBytes)
		b.Logf("%s", r)
	}
	b.StopTimer()
	b.ReportMetric(sends/secs, "sends/s")
	b.ReportMetric(sends/cpu, "sends/cpu-s")
	b.ReportMetric(wal/sends, "wal-bytes/send")
}

// TestStorageLimitWorkload checks that the workload writes what it says, and only that.
func TestStorageLimitWorkload(t *testing.T) {
	const n = 5000 // two batches of 4096 and 904
	dir := t.TempDir()
	if _, err := RunStorageLimit(StorageLimitConfig{Dir: dir, Recipients: n, Pass: 2}); err == nil {
		t.Fatalf("expected an error for the existing-channels pass in an empty directory")
	}
	r1, err := RunStorageLimit(StorageLimitConfig{Dir: dir, Recipients: n})
	if err != nil {
		t.Fatal(err)
	}
	checkLimitResult(t, r1, 1, 600)
	checkLimitStore(t, dir, n, 1)
	if _, err := RunStorageLimit(StorageLimitConfig{Dir: dir, Recipients: n}); err == nil {
		t.Fatalf("expected an error for a second new-channels pass")
	}
	r2, err := RunStorageLimit(StorageLimitConfig{Dir: dir, Recipients: n, Pass: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkLimitResult(t, r2, 2, 350)
	checkLimitStore(t, dir, n, 2)
}

// checkLimitResult checks a pass's figures; wantPerSend is about the batch bytes per recipient.
func checkLimitResult(t *testing.T, r *StorageLimitResult, pass int, wantPerSend float64) {
	t.Helper()
	if r.Pass != pass || r.Recipients != 5000 || r.Batches != 2 || r.Elapsed <= 0 || r.SendsPerSec <= 0 {
		t.Fatalf("unexpected result of pass %d: %s", pass, r)
	}
	per := float64(r.BatchBytes) / float64(r.Recipients)
	if per < wantPerSend/2 || per > wantPerSend*2 {
		t.Fatalf("unexpected batch bytes per recipient in pass %d; got %.0f; want about %.0f", pass, per, wantPerSend)
	}
	// The WAL holds the batches plus its record framing.
	if r.WALBytes < r.BatchBytes || r.WALBytes > r.BatchBytes*11/10 {
		t.Fatalf("unexpected WAL bytes %d for %d batch bytes", r.WALBytes, r.BatchBytes)
	}
}

// checkLimitStore checks the store after passes 1..passes over n recipients: key counts per
// keyspace, nothing else written, and the records of one recipient.
func checkLimitStore(t *testing.T, dir string, n, passes int) {
	t.Helper()
	db, err := storage.Open(storage.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()

	counts := map[byte]int{}
	it := db.NewIter([]byte{0x01}, nil) // everything but the meta keys
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		counts[k[0]]++
		switch k[0] {
		case storage.PrefixOutbox:
			if len(it.Value()) != 24 {
				t.Fatalf("unexpected event reference of %d bytes at %x", len(it.Value()), k)
			}
		case storage.PrefixUserChannel:
			if len(it.Value()) != 0 {
				t.Fatalf("unexpected reverse-membership value %x", it.Value())
			}
		}
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	want := map[byte]int{
		0x02:                      n, // the channel interner's cids
		storage.PrefixChannel:     n,
		storage.PrefixMember:      2 * n,
		storage.PrefixUserChannel: 2 * n,
		storage.PrefixMessage:     passes * n,
		storage.PrefixMessageID:   passes * n,
		storage.PrefixOutbox:      (passes + 1) * n,
		storage.PrefixCampaignRun: passes,
	}
	for p, c := range counts {
		if want[p] != c {
			t.Fatalf("unexpected keys after pass %d; got %d with prefix %#x; want %d (all: %v)", passes, c, p, want[p], counts)
		}
	}
	for p, c := range want {
		if counts[p] != c {
			t.Fatalf("unexpected keys after pass %d; got %d with prefix %#x; want %d", passes, counts[p], p, c)
		}
	}

	// Recipient u7: channel 7, user 8 (the sender is user 1).
	cid := "messaging:" + engine.DistinctChannelID([]string{"sender", "u7"})
	if got := db.Channels.ID(7); got != cid || db.Channels.Max() != uint32(n) {
		t.Fatalf("unexpected interned cid 7 of %d; got %q; want %q", db.Channels.Max(), got, cid)
	}
	var ch storage.Channel
	mustDecode(t, db, storage.ChannelKey(nil, 7), ch.Unmarshal)
	if ch.CID() != cid || ch.MemberCount != 2 || ch.MessageCount != uint64(passes) || ch.NextSeq != uint64(passes+1) || ch.CreatedBy != 1 || ch.LastMessageAt == 0 {
		t.Fatalf("unexpected channel after pass %d: %+v", passes, ch)
	}
	for _, u := range []uint32{8, 1} {
		var m storage.Member
		mustDecode(t, db, storage.MemberKey(nil, 7, u), m.Unmarshal)
		if m.ChannelRole != engine.DefaultChannelRole || m.CreatedAt == 0 {
			t.Fatalf("unexpected member %d: %+v", u, m)
		}
		if ok, err := db.Has(storage.UserChannelKey(nil, u, 7)); err != nil || !ok {
			t.Fatalf("missing reverse membership of user %d: %v", u, err)
		}
	}
	for pass := 1; pass <= passes; pass++ {
		campaign := "storage-limit-" + strconv.Itoa(pass)
		var msg storage.Message
		mustDecode(t, db, storage.MessageKey(nil, 7, uint64(pass)), msg.Unmarshal)
		if msg.ID != engine.CampaignMessageID(campaign, "u7") || msg.Text != "Hi User u7, The Sender has news for gold members" ||
			msg.Type != engine.MessageTypeRegular || msg.User != 1 || string(msg.Custom) != `{"campaign_id":"`+campaign+`"}` {
			t.Fatalf("unexpected message %d: %+v", pass, msg)
		}
		ref, err := db.Get(nil, storage.MessageIDKey(nil, msg.ID))
		if err != nil {
			t.Fatalf("missing id index of message %d: %s", pass, err)
		}
		if chanOrd, seq, err := storage.ParseMessageRef(ref); err != nil || chanOrd != 7 || seq != uint64(pass) {
			t.Fatalf("unexpected id index of message %d: %d %d %v", pass, chanOrd, seq, err)
		}
		var run storage.CampaignRun
		mustDecode(t, db, storage.CampaignRunKey(nil, campaign), run.Unmarshal)
		created := uint64(0)
		if pass == 1 {
			created = uint64(n)
		}
		if run.Cursor != uint32(n) || run.Done != uint64(n) || run.MessagesSent != uint64(n) || run.ChannelsCreated != created {
			t.Fatalf("unexpected run record of pass %d: %+v", pass, run)
		}
	}
}

func mustDecode(t *testing.T, db *storage.DB, key []byte, unmarshal func([]byte) error) {
	t.Helper()
	v, err := db.Get(nil, key)
	if err != nil {
		t.Fatalf("cannot get %x: %s", key, err)
	}
	if err := unmarshal(v); err != nil {
		t.Fatalf("cannot decode %x: %s", key, err)
	}
}
