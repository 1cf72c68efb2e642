package storage

import "bytes"

// Typed writes of channel, member and message records, for bulk writers (the fan-out) that encode
// records themselves. They keep the twin keys (member + reverse membership, message + id index)
// together.

// PutChannel stores the encoded Channel v under channel ordinal ord.
func (b *Batch) PutChannel(ord uint32, v []byte) {
	var k [5]byte
	b.Set(ChannelKey(k[:0], ord), v)
}

// PutMember stores the encoded Member v of user in channel ch, with its reverse-membership key
// (whose value is the member's ListFlags).
func (b *Batch) PutMember(ch, user uint32, v []byte) {
	var k [9]byte
	b.Set(MemberKey(k[:0], ch, user), v)
	var fb [1]byte
	var flags []byte
	if f := MemberListFlags(v); f != 0 {
		fb[0] = byte(f)
		flags = fb[:]
	}
	b.Set(UserChannelKey(k[:0], user, ch), flags)
}

// DeleteMember removes the membership of user in channel ch with its reverse-membership key.
func (b *Batch) DeleteMember(ch, user uint32) {
	var k [9]byte
	b.Delete(MemberKey(k[:0], ch, user))
	b.Delete(UserChannelKey(k[:0], user, ch))
}

// PutMessage stores the encoded Message v as message seq of channel ch, with its id-index entry.
func (b *Batch) PutMessage(ch uint32, seq uint64, id string, v []byte) {
	var k [13]byte
	b.Set(MessageKey(k[:0], ch, seq), v)
	var ref [12]byte
	var kb [64]byte
	b.Set(MessageIDKey(kb[:0], id), AppendMessageRef(ref[:0], ch, seq))
}

// RecordReader reads user, channel, member and message records with one iterator per keyspace,
// each read moving forward from the previous one: reading a chunk's records in ascending key order
// costs about a Next per record instead of a full lookup (reads out of order still work, with a
// full seek). It reads the committed state (not a batch). Returned values alias iterator memory:
// they are valid until the next read of the same kind. A RecordReader is used by one goroutine;
// the caller must Close it.
type RecordReader struct {
	db                                           *DB
	users, channels, members, messages, interned cursor
	kbuf                                         [16]byte
}

// cursor is an iterator over one keyspace and a key floor: while the iterator is valid, its key is
// the first key at or after floor (no key lies in [floor, key)).
type cursor struct {
	it    *Iter
	floor []byte
}

// NewRecordReader returns a reader over db's committed records.
func (db *DB) NewRecordReader() *RecordReader { return &RecordReader{db: db} }

// nextSteps is how many Next calls a forward read tries before it seeks.
const nextSteps = 8

// seek positions c's iterator at the first key ≥ key of keyspace prefix.
// NB: for a key at or after the floor, the iterator's key is the answer if it is ≥ key, and a
// few Next calls usually reach the answer: cheaper than a seek, which reads index blocks again.
func (r *RecordReader) seek(c *cursor, prefix byte, key []byte) bool {
	if c.it == nil {
		c.it = r.db.NewIter([]byte{prefix}, []byte{prefix + 1})
	} else if c.it.Valid() && bytes.Compare(key, c.floor) >= 0 {
		for range nextSteps {
			if bytes.Compare(c.it.Key(), key) >= 0 {
				return true
			}
			if !r.next(c) {
				break
			}
		}
	}
	c.floor = append(c.floor[:0], key...)
	return c.it.SeekGE(key)
}

// next moves c's iterator one key forward, keeping its floor.
func (r *RecordReader) next(c *cursor) bool {
	c.floor = append(append(c.floor[:0], c.it.Key()...), 0) // the smallest key after it
	return c.it.Next()
}

func (r *RecordReader) get(c *cursor, prefix byte, key []byte) ([]byte, bool) {
	if !r.seek(c, prefix, key) || !bytes.Equal(c.it.Key(), key) {
		return nil, false
	}
	return c.it.Value(), true
}

// User returns the encoded User record of ord.
func (r *RecordReader) User(ord uint32) ([]byte, bool) {
	return r.get(&r.users, PrefixUser, UserKey(r.kbuf[:0], ord))
}

// Channel returns the encoded Channel record of ord.
func (r *RecordReader) Channel(ord uint32) ([]byte, bool) {
	return r.get(&r.channels, PrefixChannel, ChannelKey(r.kbuf[:0], ord))
}

// Message returns the encoded Message record seq of channel ch.
func (r *RecordReader) Message(ch uint32, seq uint64) ([]byte, bool) {
	return r.get(&r.messages, PrefixMessage, MessageKey(r.kbuf[:0], ch, seq))
}

// Member returns the encoded Member record of user in channel ch.
func (r *RecordReader) Member(ch, user uint32) ([]byte, bool) {
	return r.get(&r.members, PrefixMember, MemberKey(r.kbuf[:0], ch, user))
}

// MemberOrds appends the user ordinals of channel ch's members to dst, ascending.
func (r *RecordReader) MemberOrds(dst []uint32, ch uint32) []uint32 {
	lo := MemberKey(r.kbuf[:0], ch, 0)
	c := &r.members
	for ok := r.seek(c, PrefixMember, lo); ok; ok = r.next(c) {
		k := c.it.Key()
		if len(k) != 9 || !bytes.Equal(k[:5], lo[:5]) {
			break
		}
		dst = append(dst, uint32(k[5])<<24|uint32(k[6])<<16|uint32(k[7])<<8|uint32(k[8]))
	}
	return dst
}

// Close releases the iterators and returns the first error met while reading.
func (r *RecordReader) Close() error {
	var first error
	for _, c := range []*cursor{&r.users, &r.channels, &r.members, &r.messages, &r.interned} {
		if c.it == nil {
			continue
		}
		if err := c.it.Close(); err != nil && first == nil {
			first = err
		}
		c.it = nil
	}
	return first
}
