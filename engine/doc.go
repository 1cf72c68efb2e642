// Package engine is campaignd's domain: users, channels, messages, segments, campaigns, filters,
// templates, the scheduler, the fan-out pipeline and the transactional outbox.
//
// # Units of work
//
// Every write goes through a Tx: one Pebble batch plus the events it produces. Engine.Commit
// reserves outbox sequence numbers, writes the events into the same batch and commits it with fsync,
// so data and its events are durable together or not at all. Because batches may commit out of
// order, relays read the outbox only below OutboxHorizon(): every seq under it is either committed
// or will never exist.
//
// # Outbox
//
// engine/outbox.go wires the relays of engine/outbox (which must not import engine) to the engine:
// outboxSource hands them OutboxHorizon and OutboxWake, startOutbox builds an outbox.Manager from
// Options.Outbox and runs it with goBackground, so Stop waits for it. Each enabled sink (Kafka events,
// Kafka push, webhook) has a relay that reads below the horizon in seq order, delivers a batch (while
// reading the next), then fsyncs its cursor; entries every enabled sink passed are removed about once a
// second. Webhook dead letters are listed and replayed through Engine.DeadLetters and
// Engine.ReplayDeadLetters. See the engine/outbox package doc and README "Delivery".
//
// # Channels and messages
//
// A channel is interned ("type:id" → ordinal, DB.Channels) and stored as one record holding its
// counters (member_count, message_count, next message seq, last_message_at); members, reverse
// membership keys, messages and the message-id index sit beside it (storage/doc.go). The API
// endpoints and the campaign fan-out share one implementation, the Tx-level functions, which write
// into a Tx and never commit:
//
//	ChannelByCID(cid)                 lock-free read, for readers
//	ChannelTx(tx, typ, id)            lock the channel for tx and read it through tx's batch
//	CreateChannelTx(tx, *ChannelSpec) get or create: channel + members + reverse keys + channel.created
//	AddMemberTx(tx, ref, *MemberSpec) one more member (no event); false if already a member
//	AppendMessageTx(tx, ref, msg, *MessageOptions)
//	                                  next seq, message + id index + channel counters + message.new
//	DistinctChannelID(members)        "!members-" + base64url(sha256(sorted unique ids))
//
// Concurrency contract: a channel's record is read-modify-written, so every writer locks it first.
// ChannelTx and CreateChannelTx take the channel's lock stripe (FNV of the cid, 16384 stripes) and
// the Tx holds it until Commit or Discard; the returned *ChannelRef is then current for the whole
// Tx and AddMemberTx/AppendMessageTx keep ref.Ch and the stored record in step (they panic if the
// Tx does not hold the lock). Hence two concurrent get-or-creates of one new channel yield one
// channel, and two concurrent sends get distinct seqs. A plain Tx (NewTx) may lock ONE channel;
// a Tx that writes many channels must be a bulk Tx (NewBulkTx): bulk Txs lock channels one at a
// time (bulkMu), so no lock cycle can form (a plain Tx never waits while holding a stripe, except
// on Interner.allocMu and the commit). SealBulkTx(tx) ends tx's locking phase: tx keeps its
// stripes but only commits or is discarded, and the next bulk Tx may start meanwhile (one sealed
// Tx at a time: sealing waits for the previous sealed Tx to end). The next bulk Tx, for a channel
// the sealed Tx locked, waits until it ended (so it reads what it committed); for another channel
// on a stripe the sealed Tx holds, it claims the stripe at once and the stripe is handed over, not
// unlocked, when the sealed Tx ends (its own release waits for that), so stripe collisions (a
// chunk holds ~4096 of 16384 stripes) do not serialise consecutive chunks. A sealed Tx waits for
// no channel lock, so every such wait ends. Client-supplied message ids are reserved in memory (no waiting) until the Tx
// ends, so two concurrent sends of one new id cannot both pass the duplicate check.
//
// Fan-out usage, one bulk Tx per chunk of recipients:
//
//	ords, _ := db.Channels.Intern(nil, cids)   // one fsync for the chunk's new cids
//	users.Reset(); users.Put(sender, senderJSON); users.Put(rcpt, AppendUserJSON(nil, u)) ...
//	tx := e.NewBulkTxSize(len(chunk) * 6 << 10)  // sized batch: no copying as it grows
//	for each recipient i:
//	    ref, ok, _ := e.ChannelTx(tx, typ, ids[i])
//	    if !ok { ref, _ = e.CreateChannelTx(tx, &ChannelSpec{Ord: ords[i], CreatorJSON: senderJSON, SkipWebhook: ...,
//	                      Members: []MemberSpec{{User: sender, UserJSON: senderJSON}, {User: rcpt, UserJSON: rcptJSON}}}) }
//	    e.AppendMessageTx(tx, ref, &storage.Message{ID: derivedID, User: sender, ...},
//	                      &MessageOptions{TrustID: true, EventID: derivedEventID, Users: users, SkipPush: ...})
//	... campaign cursor and stats into tx.B ...
//	e.Commit(tx)                               // one fsync; the locks are released
//
// Passing pre-encoded user JSON (a UserJSONCache seeded with the chunk's users, or CreatorJSON,
// MemberSpec.UserJSON, MessageOptions.UserJSON) and TrustID avoids every per-recipient Pebble read
// but the channel lookup (and, for an existing channel, its member keys). The ChannelRef of a channel
// created or loaded earlier in the same Tx must be reused for further messages to it (several
// recipients of one templated channel): ChannelTx called again returns the batch's copy too.
//
// # Segments
//
// A segment is one record (storage.Segment, key 0x10 id). Static segments keep their targets as a
// bitmap of ordinals (package bitmap, 0x11) and a sorted target-id index (0x12 → created_at); the
// record's size is updated in the same batch. Writers of one segment (create, update, delete,
// add/delete targets, the sizer's final write) hold the segment's stripe (segmentsState.locks, a
// recordLocks table, locks.go) across the commit, so record and targets change together.
//
// Filter and all_users segments are sized by one background goroutine (segments_sizer.go): create
// and update set Computing and bump Generation, then queue the id; the sizer scans users (ScanUsers,
// UserDoc) or channels (channelCandidates, channelDoc), and stores size and, for filters, the matching
// ordinals only if Generation is unchanged. startSegments queues every record still Computing.
// Every DefaultSegmentRefresh the sizer also recomputes all sized user segments in one user scan.
//
// Campaigns use two calls (audience.go, segments.go):
//
//	bm, kind, err := e.ResolveAudience(segmentIDs, userIDs, senderID)
//	    // union now: static targets (bitmap.LoadUnion, one dense pass), filters evaluated in one user
//	    // scan, all_users, all_sender_channels (0x06 reverse index of the sender), user_ids; duplicates
//	    // and the sender (user audiences) removed. Missing/deleted segments and mixed user/channel
//	    // types are 400 code 4. Freeze it with bitmap.Store(tx.B, campaignBitsPrefix, bm); iterate it
//	    // with bm.ForEachChunk / ForEachChunkAfter(cursor, ...).
//	e.LockSegments(tx, ids, campaignID) / e.UnlockSegments(tx, ids, campaignID)
//	    // lock keys (0x13) in the campaign's own batch: locked segments refuse changes (400 code 4).
//
// NB: locks are separate keys so that a campaign's batch never rewrites a segment record; a segment
// change racing with a lock's commit may land, which is harmless since the audience is frozen.
//
// # Campaigns
//
// A campaign is two records (storage/campaign.go): the definition (0x20 id: templates, audience,
// status, scheduled_for, stop_at), rewritten only by create/update and status changes, and the run
// (0x22 id: frozen flag, cursor, total, done and the stats counters), rewritten by every chunk.
// Status changes write the record and their campaign.started / campaign.completed /
// campaign.stopped event (full campaign JSON with stats, Key = campaign id, id derived from the
// campaign and the type) in one Tx. Every state change of a campaign holds its campaign lock
// (lockCampaign: a stripe of campaignsState.locks, a recordLocks table) across its commit.
//
// Lifecycle: draft → scheduled (start with a future scheduled_for) → in_progress → completed;
// stop turns scheduled or in_progress into stopped; a campaign is sent once (start on in_progress,
// completed or stopped is 400 code 4); update works on draft and scheduled; delete stops, then
// removes definition, run and frozen audience (messages stay).
//
// Scheduler (scheduler.go): the times live in the definition; campaignsState.sched is an in-memory
// index rebuilt at Start from the stored records, and one goroutine sleeps until the earliest time.
// At boot, campaigns whose start time passed start, those whose stop_at passed stop, in_progress
// ones resume from their cursor.
//
// # Fan-out pipeline (fanout.go)
//
//	start (answers at once: status, run record, segment locks, campaign.started in one Tx)
//	  └► freeze: ResolveAudience → bitmap.Store under 0x21 + run.Frozen/Total, one Tx
//	      └► producer: frozen bitmap after run.Cursor, chunks of FanoutChunkSize ascending ordinals
//	          └► prepare workers (GOMAXPROCS, parallel): receivers by one forward scan
//	             (UsersByOrdinals), channel id (channel_template.id rendered, or DistinctChannelID of
//	             sender+receiver), the chunk's cids interned at once, texts rendered
//	              └► ONE ordered committer: NewBulkTx; per recipient CreateChannelTx (or ChannelTx
//	                 when create_channels is false or for channel segments) + sender membership by
//	                 sender_mode + AppendMessageTx; then the run record (stats delta + cursor =
//	                 last ordinal of the chunk); SealBulkTx; commit with fsync under the campaign
//	                 lock in a goroutine while the next chunk is built (at most one commit in
//	                 flight, strictly in chunk order)
//
// Overlapped commits: chunk N+1 is built while chunk N commits, and committed only once N's commit
// returned successfully (if N fails or was stopped, N+1 is discarded and the run ends or retries
// from the stored cursor). N+1's run record is N's advanced by N+1, so records land in order. N+1
// never reads what N has not committed: every read of the build is of a channel (record, members)
// under its stripe, and SealBulkTx makes N+1 wait for N's end before touching a channel N locked
// (channel_template.id rendering one id for recipients of both chunks). The stop/delete flag is
// re-checked under the campaign lock before each commit, as before.
//
// NB: exactly-once needs "N+1 durable ⇒ N durable" (else a crash could keep N+1's cursor and lose
// N's messages). It holds because N+1's commit starts only after N's Commit returned (N synced),
// and independently because Pebble writes batches to the WAL in sequence-number order under one
// mutex and a WAL sync covers everything written before it (pebble/v2@v2.1.7 commit.go,
// commitPipeline doc: "Batches need to be written to the WAL in sequence number order"; prepare
// assigns the seqnum and writes the WAL record under commitPipeline.mu).
//
// Exactly once: a chunk's messages, channels, members, events, stats and cursor are one batch, so
// after a crash the run resumes after the last committed cursor and replays only uncommitted
// chunks; message and event ids are derived from (campaign id, recipient), so a replay writes the
// same ids. Stop, delete and stop_at are checked between chunks: stop/delete set the run's stopped
// flag under the campaign lock, and the committer re-checks it under that lock before committing,
// so no chunk commits after StopCampaign returns. Templates are compiled once per run
// (template.go: tags normalised, parsed once by fasttemplate, rendered without allocating;
// AppendLimit stops a render past MaxMessageLength characters after about 4 bytes per character).
//
// # Lock order
//
// Users, segments and campaigns are locked by stripes of one recordLocks table each (locks.go
// states the contract). User and segment stripes are leaves: they are taken after the ids are
// interned and nothing else is locked while they are held, across their commit. Campaign stripes
// come after the channel latches (a chunk's commit takes its campaign's stripe holding the chunk's
// latches); code holding a campaign stripe takes no channel latch and no user or segment stripe.
// campaignsState.mu is a leaf.
// channelsState.handMu is a leaf (never held while waiting); a bulk Tx may wait for the sealed bulk
// Tx to end while holding bulkMu and stripes, which is safe because a sealed Tx waits for no
// channel lock and never for bulkMu.
//
// channelsState.bulkMu → channel lock stripe → Interner.allocMu → Interner.mu; seqAllocator.mu and
// channelsState.idsMu are leaves. Channel lock stripes and Interner.allocMu are the only engine locks
// held across a Pebble commit (besides the users' record stripes, see users.go, and the segment
// stripes).
package engine
