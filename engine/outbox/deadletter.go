package outbox

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/campaignd/campaignd/storage"
)

// Dead letters live under storage.PrefixDeadLetter + sink name + be64 seq (the event's outbox seq),
// value = DeadLetter.marshal. The webhook sink dead-letters events its receiver rejects; the Kafka
// sinks retry until the broker takes the records, and dead-letter only records it can never take
// (larger than maxRecordBytes or refused as too large). Only webhook dead letters can be replayed.

const deadLetterVersion = 1

// DeadLetter is an event a sink gave up on.
type DeadLetter struct {
	Sink string
	// Seq is the event's outbox seq (the dead-letter key).
	Seq uint64
	// Attempts is how many deliveries were tried, counting replays.
	Attempts int
	// LastError is the last failure: "HTTP 404", a network error, ...
	LastError string
	// DeadAt is when the event was last given up on.
	DeadAt time.Time
	// Event is the event itself; Event.JSON is the exact body that was posted.
	Event storage.OutboxEvent
}

// marshal appends the stored form (version, attempts, dead_at nanos, last error, OutboxEvent).
func (d *DeadLetter) marshal(dst []byte) []byte {
	dst = append(dst, deadLetterVersion)
	dst = storage.AppendUvarint(dst, uint64(d.Attempts))
	dst = storage.AppendVarint(dst, d.DeadAt.UnixNano())
	dst = storage.AppendString(dst, d.LastError)
	return d.Event.Marshal(dst)
}

// unmarshal decodes src (the value only; Sink and Seq come from the key). Event.JSON aliases src.
func (d *DeadLetter) unmarshal(src []byte) error {
	dec := storage.Decoder{B: src}
	if v := dec.Byte(); v != deadLetterVersion && dec.Err == nil {
		return fmt.Errorf("cannot decode dead letter: unknown version %d: %w", v, storage.ErrCorrupt)
	}
	attempts := dec.Uvarint()
	deadAt := dec.Varint()
	d.LastError = dec.String()
	if dec.Err != nil {
		return fmt.Errorf("cannot decode dead letter: %w", dec.Err)
	}
	if attempts > 1<<31 {
		return fmt.Errorf("cannot decode dead letter: %d attempts: %w", attempts, storage.ErrCorrupt)
	}
	d.Attempts = int(attempts)
	d.DeadAt = time.Unix(0, deadAt).UTC()
	return d.Event.Unmarshal(dec.B)
}

func deadLetterKey(dst []byte, sinkName string, seq uint64) []byte {
	return storage.NewKey(dst, storage.PrefixDeadLetter).Str(sinkName).U64(seq)
}

func checkDeadLetterSink(sinkName string) error {
	switch sinkName {
	case SinkWebhook, SinkKafka, SinkPush:
		return nil
	}
	return fmt.Errorf("%w %q: sinks are %q, %q and %q", ErrUnknownSink, sinkName, SinkKafka, SinkPush, SinkWebhook)
}

// deadLetter stores ev as given up (fsync) and counts it.
func (s *webhookSink) deadLetter(ev *Event, out outcome) error {
	d := DeadLetter{Attempts: out.attempts, LastError: out.reason, DeadAt: time.Now(), Event: ev.OutboxEvent}
	if err := s.m.storeDeadLetter(SinkWebhook, ev.Seq, &d); err != nil {
		return err
	}
	webhookDeadLetters.Inc()
	s.met.deadLetters.Inc()
	s.m.webhookDead.note(SinkWebhook, ev.ID, out.reason, "type", ev.Type, "seq", ev.Seq, "attempts", out.attempts)
	return nil
}

// storeDeadLetter stores d under the sink's dead letters with fsync.
func (m *Manager) storeDeadLetter(sinkName string, seq uint64, d *DeadLetter) error {
	b := m.db.NewBatch()
	b.Set(deadLetterKey(nil, sinkName, seq), d.marshal(nil))
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("cannot store dead letter %d: %w", seq, err)
	}
	return nil
}

// ListDeadLetters returns up to limit dead letters of sinkName with seq > after, in seq order.
// It works whether or not the sink is enabled. The result does not alias the store.
func ListDeadLetters(db *storage.DB, sinkName string, after uint64, limit int) ([]DeadLetter, error) {
	if err := checkDeadLetterSink(sinkName); err != nil {
		return nil, err
	}
	if after == ^uint64(0) {
		return nil, nil
	}
	prefix := storage.NewKey(nil, storage.PrefixDeadLetter).Str(sinkName)
	lower := deadLetterKey(nil, sinkName, after+1)
	it := db.NewIter(lower, storage.PrefixEnd(nil, prefix))
	var out []DeadLetter
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+8 {
			continue
		}
		d := DeadLetter{Sink: sinkName, Seq: binary.BigEndian.Uint64(k[len(prefix):])}
		if err := d.unmarshal(append([]byte(nil), it.Value()...)); err != nil {
			_ = it.Close()
			return nil, fmt.Errorf("cannot read dead letter %d: %w", d.Seq, err)
		}
		out = append(out, d)
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("cannot list dead letters: %w", err)
	}
	return out, nil
}

// ReplayResult counts what a replay did.
type ReplayResult struct {
	// Replayed is how many dead letters were tried, Delivered how many the receiver accepted
	// (they are removed), Failed how many were given up again (they stay, with Attempts added).
	Replayed, Delivered, Failed int
}

// ReplayDeadLetters delivers the sink's dead letters again, all of them when ids is empty, else
// those whose event id is in ids. Each gets the normal retry policy (without holding for a receiver
// that looks down). It returns when every selected dead letter was tried, or when ctx ends.
// Safe for concurrent use with the relays.
func (m *Manager) ReplayDeadLetters(ctx context.Context, sinkName string, ids []string) (ReplayResult, error) {
	var res ReplayResult
	if err := checkDeadLetterSink(sinkName); err != nil {
		return res, err
	}
	if sinkName != SinkWebhook {
		return res, fmt.Errorf("%w: %s dead letters are records the broker can never take; only webhook dead letters can be replayed", ErrNoReplay, sinkName)
	}
	s := m.webhook
	if s == nil {
		return res, fmt.Errorf("%w: %s (start campaignd with -webhook.url)", ErrSinkOff, sinkName)
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	after := uint64(0)
	for {
		page, err := ListDeadLetters(m.db, sinkName, after, 1024)
		if err != nil {
			return res, err
		}
		if len(page) == 0 {
			return res, nil
		}
		after = page[len(page)-1].Seq
		sel := page[:0]
		for _, d := range page {
			if len(want) == 0 || want[d.Event.ID] {
				sel = append(sel, d)
			}
		}
		var delivered, failed atomic.Int64
		err = s.forEach(ctx, len(sel), func(i int) error {
			d := &sel[i]
			ev := Event{Seq: d.Seq, OutboxEvent: d.Event}
			out, err := s.send(ctx, &ev, false)
			if err != nil {
				return err
			}
			if out.delivered {
				b := m.db.NewBatch()
				b.Delete(deadLetterKey(nil, sinkName, d.Seq))
				if err := b.Commit(true); err != nil {
					return fmt.Errorf("cannot remove replayed dead letter %d: %w", d.Seq, err)
				}
				webhookReplayed.Inc()
				delivered.Add(1)
				return nil
			}
			d.Attempts += out.attempts
			d.LastError = out.reason
			d.DeadAt = time.Now()
			if err := m.storeDeadLetter(SinkWebhook, d.Seq, d); err != nil {
				return err
			}
			failed.Add(1)
			return nil
		})
		res.Replayed += int(delivered.Load() + failed.Load())
		res.Delivered += int(delivered.Load())
		res.Failed += int(failed.Load())
		if err != nil {
			return res, err
		}
	}
}
