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
// # Lock order
//
// Interner.allocMu → Interner.mu; seqAllocator.mu is a leaf. No engine lock is held across a Pebble
// commit except Interner.allocMu.
package engine
