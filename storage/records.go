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

// PutMember stores the encoded Member v of user in channel ch, with its reverse-membership key.
func (b *Batch) PutMember(ch, user uint32, v []byte) {
	var k [9]byte
	b.Set(MemberKey(k[:0], ch, user), v)
	b.Set(UserChannelKey(k[:0], user, ch), nil)
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
// each read seeking forward from the previous one: reading a chunk's records in ascending key
// order costs about a Next per record instead of a full lookup. It reads the committed state (not
// a batch). Returned values alias iterator memory: they are valid until the next read of the same
// kind. A RecordReader is used by one goroutine; the caller must Close it.
type RecordReader struct {
	db                                *DB
	users, channels, members, message *Iter
	kbuf                              [16]byte
}

// NewRecordReader returns a reader over db's committed records.
func (db *DB) NewRecordReader() *RecordReader { return &RecordReader{db: db} }

func (r *RecordReader) iter(it **Iter, prefix byte) *Iter {
	if *it == nil {
		*it = r.db.NewIter([]byte{prefix}, []byte{prefix + 1})
	}
	return *it
}

// seek positions it at key exactly; it reports whether key exists.
func seekExact(it *Iter, key []byte) bool {
	return it.SeekGE(key) && bytes.Equal(it.Key(), key)
}

// User returns the encoded User record of ord.
func (r *RecordReader) User(ord uint32) ([]byte, bool) {
	it := r.iter(&r.users, PrefixUser)
	if !seekExact(it, UserKey(r.kbuf[:0], ord)) {
		return nil, false
	}
	return it.Value(), true
}

// Channel returns the encoded Channel record of ord.
func (r *RecordReader) Channel(ord uint32) ([]byte, bool) {
	it := r.iter(&r.channels, PrefixChannel)
	if !seekExact(it, ChannelKey(r.kbuf[:0], ord)) {
		return nil, false
	}
	return it.Value(), true
}

// Message returns the encoded Message record seq of channel ch.
func (r *RecordReader) Message(ch uint32, seq uint64) ([]byte, bool) {
	it := r.iter(&r.message, PrefixMessage)
	if !seekExact(it, MessageKey(r.kbuf[:0], ch, seq)) {
		return nil, false
	}
	return it.Value(), true
}

// Member returns the encoded Member record of user in channel ch.
func (r *RecordReader) Member(ch, user uint32) ([]byte, bool) {
	it := r.iter(&r.members, PrefixMember)
	if !seekExact(it, MemberKey(r.kbuf[:0], ch, user)) {
		return nil, false
	}
	return it.Value(), true
}

// MemberOrds appends the user ordinals of channel ch's members to dst, ascending.
func (r *RecordReader) MemberOrds(dst []uint32, ch uint32) []uint32 {
	it := r.iter(&r.members, PrefixMember)
	lo := MemberKey(r.kbuf[:0], ch, 0)
	for ok := it.SeekGE(lo); ok; ok = it.Next() {
		k := it.Key()
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
	for _, it := range []*Iter{r.users, r.channels, r.members, r.message} {
		if it == nil {
			continue
		}
		if err := it.Close(); err != nil && first == nil {
			first = err
		}
	}
	*r = RecordReader{db: r.db}
	return first
}
