package storage

import (
	"encoding/binary"
	"fmt"
)

const outboxEventVersion = 1

// OutboxEvent is the stored form of one produced event (PrefixOutbox, PrefixDeadLetter).
type OutboxEvent struct {
	ID          string
	Type        string
	Key         string
	SkipWebhook bool
	SkipPush    bool
	Receivers   []string
	JSON        []byte
}

// Marshal appends the encoded event to dst.
func (ev *OutboxEvent) Marshal(dst []byte) []byte {
	dst = append(dst, outboxEventVersion)
	dst = AppendString(dst, ev.ID)
	dst = AppendString(dst, ev.Type)
	dst = AppendString(dst, ev.Key)
	var flags byte
	if ev.SkipWebhook {
		flags |= 1
	}
	if ev.SkipPush {
		flags |= 2
	}
	dst = append(dst, flags)
	dst = AppendStrings(dst, ev.Receivers)
	return AppendBytes(dst, ev.JSON)
}

// Unmarshal decodes src into ev. ev.JSON aliases src.
func (ev *OutboxEvent) Unmarshal(src []byte) error {
	d := Decoder{B: src}
	if err := d.Version(outboxEventVersion, "outbox event"); err != nil {
		return err
	}
	ev.ID = d.String()
	ev.Type = d.String()
	ev.Key = d.String()
	flags := d.Byte()
	ev.SkipWebhook = flags&1 != 0
	ev.SkipPush = flags&2 != 0
	ev.Receivers = d.Strings()
	ev.JSON = d.Bytes()
	if d.Err != nil {
		return fmt.Errorf("cannot decode outbox event: %w", d.Err)
	}
	return nil
}

// NextOutboxSeq returns one more than the highest outbox seq stored (1 for an empty outbox),
// taking the sink cursors into account so that a fully drained outbox does not reuse seqs.
func (db *DB) NextOutboxSeq() (uint64, error) {
	next := uint64(1)
	lower := []byte{PrefixOutbox}
	it := db.NewIter(lower, []byte{PrefixOutbox + 1})
	if it.Last() && len(it.Key()) == 9 {
		next = binary.BigEndian.Uint64(it.Key()[1:]) + 1
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	it = db.NewIter([]byte{PrefixOutboxCursor}, []byte{PrefixOutboxCursor + 1})
	for ok := it.First(); ok; ok = it.Next() {
		if v := it.Value(); len(v) == 8 {
			if c := binary.BigEndian.Uint64(v) + 1; c > next {
				next = c
			}
		}
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	return next, nil
}
