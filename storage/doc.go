// Package storage is campaignd's only user of Pebble: it opens and closes the store, owns the key
// layout and the record codecs, interns ids to ordinals, and exposes batches and iterators.
//
// # Key layout
//
// Every key starts with one prefix byte. Integers are big-endian so that keys sort numerically and a
// roaring bitmap iterated in ascending order is a forward scan.
//
//	prefix  key after the prefix                         value
//	0x00    <name>                                       meta values
//	0x02    <kind 'u'|'c'><be32 ordinal>                 interned id (user id or channel cid)
//	0x03    <be32 user ord>                              User record (soft-deleted: kept, DeletedAt set)
//	0x04    <be32 channel ord>                           Channel record
//	0x05    <be32 channel ord><be32 user ord>            Member record (its 0x06 twin is written with it): role,
//	                                                     custom data, hidden/archived/pinned, channel ban, read state
//	0x06    <be32 user ord><be32 channel ord>            the member's ListFlags (hidden, archived, pinned), empty
//	                                                     when none: the channels a user is member of
//	0x07    <be32 channel ord><be64 message seq>         Message record (seqs from 1, per channel)
//	0x08    <message id>                                 <be32 channel ord><be64 message seq>
//	0x10    <segment id>                                 Segment record
//	0x11    <be32 len><segment id><be16 container hi>    roaring container of target ordinals
//	0x12    <be32 len><segment id><target id>            be64 created_at (unix nanos)
//	0x13    <be32 len><segment id><campaign id>          empty: a running campaign locks the segment
//	0x14    <be32 len><segment id><target id>            empty: a pending target (named no user or channel
//	                                                     when added: not interned, not in 0x11; looked up
//	                                                     when a campaign's audience is frozen)
//	0x20    <campaign id>                                Campaign record (definition, status, times)
//	0x21    <be32 len><campaign id><be16 container hi>   frozen audience container (bitmap, at start)
//	0x22    <campaign id>                                CampaignRun: cursor, total, done, stats
//	                                                     (rewritten in every fan-out chunk's batch)
//	0x23    <be32 len><campaign id><be32 recipient ord>  be64 read_at: a read marker (campaignread.go), written once
//	        [<be32 reader ord>]                          when the recipient read the campaign's message to it;
//	                                                     channel audiences add the member who read
//	0x30    <be64 seq of its first event>                outbox entry holding n ≥ 1 events (seqs seq..seq+n-1):
//	                                                     version 1 OutboxEvent (one event, its JSON), or version 2
//	                                                     CampaignChunk (a fan-out chunk's events by reference, about
//	                                                     5 bytes per recipient); removed once every enabled sink
//	                                                     passed its last event
//	0x31    <sink name: kafka|push|webhook|gc>           be64 last seq the sink passed ("gc": last seq removed)
//	0x32    <sink name><be64 seq>                        dead letter: engine/outbox DeadLetter (attempts, time, error, OutboxEvent)
//	0x40    <be32 yyyymm><campaign id>                   be64 messages the campaign sent that month (UTC),
//	                                                     rewritten in each of its fan-out chunks' batches
//	                                                     (quota.go; kept when the campaign is deleted)
//
// # Interning
//
// User ids and channel cids get dense uint32 ordinals from 1 (Interner). The mappings (0x02) are
// fsynced before they are handed out; at Open the index is rebuilt in memory, outside the Go heap:
// a hash table of ordinals and a 32-bit hash per ordinal, plus, for users only, the ids themselves
// in append-only pages (channel cids are checked against 0x02 on a hash hit). About 20 bytes per
// 9-byte user id and 11 per channel.
//
// # Member records
//
// A Member (version 2) starts with a flags byte (hidden, archived, pinned, banned, shadow banned,
// "state follows"); the optional state after the custom data (ban expiry, archived_at, pinned_at,
// last read time and seq, the seq up to which history is cleared) is written only when one of them
// is set, so a new member costs one byte more than in version 1, which still decodes. PutMember
// copies the list flags into the 0x06 twin, so a user's channel list (ScanUserChannelFlags) tells
// hidden and archived channels apart without reading member records.
//
// # Forward reads
//
// RecordReader reads user, channel, member, message and interned records of ascending keys with
// one iterator per keyspace, stepping with Next from the last position instead of seeking (the
// fan-out reads a chunk's records, and the relays render a chunk's events, that way). PutChannel,
// PutMember (with its reverse key) and PutMessage (with its id index) are the bulk writes.
//
// # Outbox
//
// PutOutbox stores an entry under the seq of its first event; NewOutboxIter finds the entry holding
// a seq (an entry may start before it) and reads on; OutboxEntryStart and DeleteOutboxBelow remove
// only entries whose last event every sink passed. NextOutboxSeq continues after the last entry and
// the sink cursors, so seqs are never reused.
//
// # Records
//
// Values are append-style codecs (Marshal(dst []byte) []byte) starting with a version byte; custom
// fields are kept as one raw JSON object. Decoder reads them back and reports ErrCorrupt.
//
// # Access
//
// Users, segments, campaigns and bitmaps are read and written through typed paths, so that callers
// never build or slice their keys: reads go through a Reader (the DB, or a Batch to see its own
// writes) — GetRecord (get and decode any record), ReadUser, ReadUsers, ScanUsers, ReadSegment,
// ScanSegments, SegmentTargetAddedAt, ScanSegmentTargets, SegmentLocked, ReadCampaign,
// ReadCampaignRun, ScanCampaigns, ScanBits, ScanUserChannels, ScanUserChannelFlags, ScanMembers,
// ScanChannels, HasCampaignRead, ScanCampaignReads, CountCampaignReads — and writes are Batch
// methods (PutUser, PutSegment, PutSegmentTarget, LockSegment, PutCampaign, PutCampaignRun,
// DeleteCampaign, PutBitsContainer, PutMember, DeleteMember, PutCampaignRead, ...). Bits names one stored bitmap. The Prefix
// constants and the channel, message and outbox key builders are still exported for the engine's
// channel, message and outbox code.
//
// # Disk space
//
// DiskSpace reads the free space of the store's filesystem (statfs). An emergency ballast file,
// EMERGENCY_BALLAST (Options.BallastSize bytes, allocated with fallocate), sits beside Pebble's
// files; ReleaseBallast and RestoreBallast delete and recreate it when the engine decides
// (engine/disk.go). Pebble ignores files it does not know.
//
// # Durability
//
// Batch.Commit(true) returns after the WAL is fsynced; concurrent committers share fsyncs (Pebble's
// group commit). Everything the API reports as stored is committed that way.
//
// # Checkpoints
//
// DB.Checkpoint writes a consistent copy of the store (every batch committed before the call) into
// a new directory, hard-linking table files where it can; the copy opens as a store of its own.
// campaignd keeps the store in <data directory>/pebble and checkpoints in <data directory>/snapshots.
//
// # Health
//
// DB.Metrics turns Pebble's metrics (WAL, flushes, compactions, levels, block cache, memtables)
// and what the store counts from Pebble's events (write stalls, slow disk operations, background
// errors) into our own Metrics value; DB.WritePrometheus writes them as campaignd_storage_* lines.
// Nothing is registered globally: every DB writes its own lines, so tests may open several.
package storage
