// Package engine is campaignd's domain: users, channels, messages, segments, campaigns, filters,
// templates, the scheduler, the fan-out pipeline and the transactional outbox. Users, segments,
// campaigns and bitmaps are read and written only through storage's typed paths. The engine takes
// and returns domain values (requests such as CampaignInput, results such as ChannelState and
// Campaign with everything they show loaded); package wire decodes and encodes Stream's JSON, and
// the JSON the engine itself stores or reads (event bodies, template objects) comes from the
// Encoder it is given. The contracts sit on the types and functions named here; this is the map.
//
// # Files
//
//	engine.go            Engine, Options, Start/Stop, background work
//	tx.go                Tx (one batch + its events), Commit, seqAllocator (outbox horizon)
//	outbox.go            wiring of the engine/outbox relays (sinks, dead letters)
//	locks.go             recordLocks: the stripes of users, segments and campaigns
//	latch.go             latchTable: one latch per channel being written
//	encoder.go           Encoder: the Stream JSON the engine needs (template objects, event
//	                     bodies: ChannelCreated, MessageNew), injected through Options
//	                     (wire.Legacy)
//	users.go             users: upsert, partial update (UserPatch), delete, reads, scans (UserDoc)
//	userimport.go        the NDJSON import (lines decoded by an ImportOptions.NewDecoder)
//	userquery.go         GET /users (UserQuery, QueryUsers)
//	channels.go          channel Tx functions (ChannelTx, CreateChannelTx, AddMemberTx), ids
//	channelstate.go      channel API (get-or-create, send, queryChannels) → ChannelState, Message
//	messages.go          AppendMessageTx, message reads
//	channels_users.go    UserRef, the users of replies (userRefs) and of event bodies (userJSON)
//	segments.go          segments: create, update, delete, targets, locks by campaigns
//	segments_query.go    querySegments, target queries (keyset cursors)
//	segments_sizer.go    background sizing of filter and all_users segments
//	audience.go          ResolveAudience: a campaign's audience as a bitmap of ordinals
//	query.go             QueryParams and the one pager (offset cursors) of segments and campaigns
//	campaigns.go         Campaign, campaignsState, lockCampaign
//	campaigns_input.go   CampaignInput, merge, validateCampaign → campaignPlan
//	campaigns_lifecycle.go  create, update, start, stop, delete, campaign.* events, runPlan
//	campaigns_query.go   queryCampaigns, a campaign's users page (CampaignUsers)
//	scheduler.go         scheduled_for and stop_at, live and at boot
//	fanout.go            the fan-out pipeline (its header draws it); chunkevents.go renders a
//	                     chunk's events for the relays
//	campaignprogress.go  a running campaign's progress: fan-out counters, progress log lines, the
//	                     campaigns-by-status and per-running-campaign metrics
//	dashboard.go         what the dashboard reads beyond the API: send rates (one sample a
//	                     second, 10 minutes), the sinks' state; snapshot.go: Checkpoint
//	capacity.go          the monthly campaign capacity: durable per-campaign counts, admission
//	throttle.go          max_messages_per_second: a campaign's pace
//	template.go          Template: compiled once, rendered without allocating
//	limits.go, errors.go limits; Stream-shaped errors (Error, InputError)
//
// # Units of work
//
// Every write goes through a Tx: one Pebble batch plus the events it produces. Engine.Commit
// writes the events into the same batch and commits it with fsync, so data and its events are
// durable together or not at all. Relays read the outbox only below OutboxHorizon(): batches may
// commit out of order, and every seq under the horizon is committed or will never exist.
//
// # Campaigns
//
// A campaign is its definition and its run record (cursor, stats), storage.Campaign and
// storage.CampaignRun. Lifecycle: draft → scheduled → in_progress → completed; stop makes a
// scheduled or running campaign stopped; a campaign is sent once. Start validates the campaign
// into a campaignPlan (its segments read once, its templates compiled once), locks the segments
// and writes campaign.started in one Tx, and hands the plan to the fan-out, which freezes the
// audience and sends it in chunks; each chunk's messages, channels, events, stats and cursor are
// one batch, so a restart resumes after the last committed chunk with the same derived ids.
//
// # Fan-out (fanout.go)
//
// One goroutine per running campaign: a producer cuts the audience after the stored cursor into
// chunks of ascending ordinals (FanoutChunkSize; a run's first chunks are smaller, 128 doubling,
// so the first messages commit within milliseconds of the start), parallel workers prepare them
// (receivers read in one forward pass, channel ids and texts rendered, the chunk's new cids
// interned with one fsync), and ONE committer builds and commits them in order. Building a chunk
// latches all of its channels at once (latchTable contract 2), reads their records and an existing
// channel's member list in one forward pass (storage.RecordReader), and writes channels, members,
// messages, the chunk's events by reference (one storage.CampaignChunk outbox entry), the run
// record (stats, cursor) and the month's count into one unindexed batch. Chunk N+1 is built while
// N is in flight, and applied once N applied (Engine.Apply: visible, latches released, fsync still
// running; at most two chunks unsynced): run records land in chunk order and, Pebble syncing its
// WAL as a prefix, "N+1 durable ⇒ N durable" holds (commitPipeline states it). A crash resumes after
// the last durable cursor and replays the rest with the same derived message and event ids
// (exactly once); relays see a chunk's events only once it is durable. A recipient is skipped
// (counted in stats_targets_skipped, with a SkipReason on its item) when it is no user, a deleted,
// deactivated or banned one (prepareChunk reads every receiver's record anyway), has no valid
// channel id or text within MaxMessageLength, has no channel (and the campaign creates none), its
// channel is frozen, or it is not a member of a channel the campaign did not create.
//
// The audience is frozen when the run starts (campaign bits, 0x21): the union of static targets,
// user_ids, channel filters and the sender's channels is resolved at once; an audience that needs
// every user read (all_users, user filters) is sent while a scan decides it (audienceScan: the
// producer takes the ordinals the scan passed), and frozen with its exact total as soon as the
// scan ends, by a stop in the stop's Tx (StopCampaign waits for the scan, a second or so per
// million users), or when the engine stops. Until then the stats' total is an estimate (the
// segments' sizes); a crash before the freeze scans again at the restart and goes on after the
// cursor.
//
// Between chunks the committer waits while the Kafka relays trail more than MaxDeliveryBacklog
// events behind (a broker that is down is not waited for: outbox.Manager.Backlog), while disk
// space is low, and for the throttle; it stops on stop, delete, stop_at and the month's capacity.
//
// # Events by reference (chunkevents.go)
//
// A chunk's channel.created and message.new events are not rendered at commit: its outbox entry
// names the records (receiver, channel, message seq) and records what may change later (an
// existing channel's counters and member list as of the chunk's batch); the relays render the
// bodies when they deliver, through Encoder, in parallel with the fan-out. chunkevents.go says
// which state each body shows (the message as stored; a created channel as the campaign created
// it; an existing channel as of the chunk; users as they are at delivery).
//
// # Read state and stats_users_read (reads.go, campaignreads.go)
//
// A member's read state lives in its Member record (LastRead, LastReadSeq): mark read rewrites it
// under the channel's latch. Unread messages are counted when asked for, from the messages after
// LastReadSeq (at most MaxUnreadCount), so sending a message writes nothing per member.
//
// stats_users_read is the number of a campaign's read markers (storage 0x23): a read that moves a
// member past a campaign message addressed to it (the id the campaign derives for that receiver,
// or for that channel in a channel audience) writes the marker, once. The marker's message lives
// in one channel, so the channel's latch serialises every writer of it, and the Tx checks that it
// is absent and that the campaign exists. The fan-out rewrites the run record in every chunk's
// batch, in chunk order, while reads commit in any order: the count is therefore never in the run
// record but in keys nothing rewrites, counted once per campaign and process (one scan of its
// markers, on first use) and then kept in memory: readCount's contract says why no read is lost or
// counted twice while it loads. Deleting a campaign stops its markers (stopReads waits for the
// ones in flight) and removes them in the deletion's Tx.
//
// # Monthly capacity (capacity.go) and throttle (throttle.go)
//
// A chunk's messages are counted in its own batch: each campaign keeps its own count per month
// (storage 0x40 <yyyymm><campaign id>), rewritten by each of its chunks. Chunks of one campaign
// commit in order, so its key only grows; chunks of different campaigns commit concurrently and
// in any order, which is why there is no single month counter (a chunk writing an absolute total
// could overwrite a later one's and go backwards). The month's total is the sum of its keys, read
// once per month into capacityState (a leaf mutex). Before a chunk is built the committer reserves
// at most what is left (capacity − sent − reserved) and cuts the chunk to that many audience
// ordinals (at most one message each); the reservation is settled when the commit returns (what
// it committed becomes sent). So no chunk sends past the capacity, campaigns together cannot
// either, and after kill -9 the stored keys are exactly the committed messages. A campaign that
// finds the month used up (sent ≥ capacity) waits for its commit in flight and stops with
// stop_reason monthly_capacity; when only reservations in flight hold the rest it waits for them.
//
// The throttle cuts chunks too: at R messages per second a chunk covers at most R ×
// ThrottleInterval ordinals and is built once the run's token bucket (golang.org/x/time/rate)
// holds them, so a throttled run commits small chunks at an even pace. The cut pieces of one
// prepared chunk are committed like chunks (each with its stats, cursor and count), so the
// exactly-once argument is unchanged. A stop closes campaignRun.done, which ends a throttle wait.
//
// # Disk space (disk.go)
//
// One goroutine reads the store's free space every 200 ms; CheckDiskSpace and waitDiskSpace
// refresh a reading older than 10 ms. Below Options.MinFreeDiskSpace, CheckDiskSpace fails with a
// 507 *Error (httpd calls it for routes that add data; createChannel and the import's chunks call
// it too), and runFanout waits at the top of its chunk loop (waitDiskSpace, which a stop ends).
// Below half of it the store's ballast is released; writes resume once the free space is back
// above the threshold, plus the ballast's size while it is released (it is restored first).
//
// # Lock order
//
// Channel latches (latchTable) → campaign stripe (lockCampaign: a fan-out chunk's apply takes it
// holding the chunk's latches) → nothing: code holding a campaign stripe takes no latch and no
// user or segment stripe (a stop may wait there for its run's audience scan, which takes no lock).
// User and segment stripes (recordLocks) are leaves, taken after the ids are interned. Latches
// and record stripes are held across their Pebble commit (a chunk's latches until its apply) and
// may wait for the interner (Interner.allocMu → Interner.mu), never for each other. capacityState.mu, campaignsState.mu,
// segmentsState.pendMu, channelsState.idsMu, seqAllocator.mu, readCounts.mu and readCount.mu are
// leaves (a loading readCount waits on its condition, which releases readCount.mu).
package engine
