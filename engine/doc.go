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
// # Lock order
//
// Interner.allocMu → Interner.mu; seqAllocator.mu is a leaf. No engine lock is held across a Pebble
// commit except Interner.allocMu.
package engine
