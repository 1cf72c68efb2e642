package httpd

import "strings"

// metricHelp is the # HELP text of each campaignd_* family /metrics serves (README "Metrics"
// lists them). TestMetricsHaveHelp fails for a family missing here.
var metricHelp = map[string]string{
	"campaignd_build_info": "Build of the running campaignd: version and Go version labels; always 1.",

	"campaignd_http_requests_total":           "HTTP requests served, by route (method and path pattern) and status.",
	"campaignd_http_request_duration_seconds": "Time to serve an HTTP request, from its headers to its reply, by route and status.",
	"campaignd_http_errors_total":             "HTTP requests answered with a Stream error envelope (any 4xx or 5xx).",
	"campaignd_http_accept_errors_total":      "Errors accepting connections (such as out of file descriptors), each retried with backoff.",
	"campaignd_http_conns_rejected_total":     "Connections refused with a 503 because -http.maxConcurrentConns were open.",
	"campaignd_http_rate_limited_total":       "Requests refused with 429 by the rate limit of their endpoint.",

	"campaignd_campaigns":                         "Campaigns stored, by status.",
	"campaignd_campaign_messages_sent_total":      "Messages sent by campaign fan-outs (committed chunks).",
	"campaignd_campaign_channels_created_total":   "Channels created by campaign fan-outs.",
	"campaignd_campaign_recipients_skipped_total": "Campaign recipients skipped (deleted users, targets that are no user, invalid channel ids).",
	"campaignd_campaign_chunks_committed_total":   "Fan-out chunks committed (one batch and one fsync each).",
	"campaignd_campaign_progress_ratio":           "Share of a running campaign's recipients processed, 0 to 1.",
	"campaignd_campaign_recipients":               "Recipients of a running campaign (its frozen audience).",
	"campaignd_campaign_recipients_done":          "Recipients of a running campaign processed so far (sent or skipped).",
	"campaignd_campaign_messages_sent":            "Messages a running campaign sent so far.",

	"campaignd_campaign_month_sent":     "Campaign messages sent this calendar month (UTC), counted against the monthly capacity.",
	"campaignd_campaign_month_capacity": "Campaign messages allowed per calendar month (-campaign.monthlyCapacity); 0 = unlimited.",

	"campaignd_users_upserted_total":      "Users written by POST /users.",
	"campaignd_users_updated_total":       "Users changed by PATCH /users.",
	"campaignd_users_deleted_total":       "Users deleted (soft or hard).",
	"campaignd_users_imported_total":      "Users stored by POST /users/import.",
	"campaignd_users_import_failed_total": "Lines of POST /users/import refused.",

	"campaignd_outbox_delivered_total":              "Events (webhook) or records (Kafka) a delivery sink accepted.",
	"campaignd_outbox_failed_total":                 "Failed delivery attempts of a sink (a produce call, a POST).",
	"campaignd_outbox_retries_total":                "Delivery attempts that repeated a failed one.",
	"campaignd_outbox_corrupt_events_total":         "Outbox entries a sink skipped because they could not be decoded.",
	"campaignd_outbox_dead_letters_total":           "Events a sink gave up on and dead-lettered.",
	"campaignd_outbox_lag_events":                   "Committed events a sink has not delivered yet.",
	"campaignd_webhook_dead_letters_total":          "Webhook events dead-lettered after their attempts or hold time.",
	"campaignd_webhook_dead_letters_replayed_total": "Webhook dead letters delivered again by a replay.",

	"campaignd_disk_free_bytes":             "Free space on the data directory's filesystem.",
	"campaignd_disk_space_low":              "1 while free space is below -storage.minFreeDiskSpaceBytes (writes refused, campaigns paused).",
	"campaignd_disk_ballast_bytes":          "Size of the emergency ballast file in place (0 once released).",
	"campaignd_disk_writes_refused_total":   "Writes refused with 507 for low disk space.",
	"campaignd_disk_ballast_released_total": "Times the emergency ballast was released.",

	"campaignd_storage_wal_bytes_in_total":          "Batch bytes committed to the store.",
	"campaignd_storage_wal_written_bytes_total":     "Bytes written to the WAL (framing included).",
	"campaignd_storage_wal_fsyncs_total":            "WAL fsyncs (concurrent sync commits share one).",
	"campaignd_storage_wal_fsync_seconds_total":     "Time spent in WAL fsyncs.",
	"campaignd_storage_wal_files":                   "Live WAL files (one per memtable not yet flushed).",
	"campaignd_storage_wal_size_bytes":              "Data in the live WAL files.",
	"campaignd_storage_flushes_total":               "Memtable flushes.",
	"campaignd_storage_flushed_bytes_total":         "Sstable bytes written by flushes.",
	"campaignd_storage_flush_seconds_total":         "Time spent flushing memtables.",
	"campaignd_storage_flushes_in_progress":         "Memtable flushes running (0 or 1).",
	"campaignd_storage_compactions_total":           "Finished compactions (every kind).",
	"campaignd_storage_compactions_failed_total":    "Compactions that hit an error.",
	"campaignd_storage_compacted_bytes_total":       "Sstable bytes written by compactions.",
	"campaignd_storage_compaction_read_bytes_total": "Bytes read by compactions.",
	"campaignd_storage_compaction_seconds_total":    "Time spent compacting (running compactions included).",
	"campaignd_storage_compactions_in_progress":     "Compactions running.",
	"campaignd_storage_compaction_debt_bytes":       "Estimated bytes to compact before the LSM is in shape.",
	"campaignd_storage_level_files":                 "Sstables per LSM level.",
	"campaignd_storage_level_bytes":                 "Size of the sstables per LSM level.",
	"campaignd_storage_l0_files":                    "Sstables in L0.",
	"campaignd_storage_l0_sublevels":                "L0 sublevels (L0 read amplification; compactions start at 4, writes stop at 24).",
	"campaignd_storage_read_amplification":          "Sublevels a read may visit.",
	"campaignd_storage_write_stalls_total":          "Times Pebble stopped writes, by reason (memtables, l0, other).",
	"campaignd_storage_write_stall_seconds_total":   "Time during which writes were stopped.",
	"campaignd_storage_write_stalled":               "1 while writes are stopped.",
	"campaignd_storage_disk_usage_bytes":            "Bytes of every file of the store.",
	"campaignd_storage_obsolete_bytes":              "Sstables and WALs no longer needed, not yet deleted or recycled.",
	"campaignd_storage_block_cache_hits_total":      "Block cache hits.",
	"campaignd_storage_block_cache_misses_total":    "Block cache misses (reads from sstable files).",
	"campaignd_storage_block_cache_size_bytes":      "Bytes in the block cache.",
	"campaignd_storage_block_cache_blocks":          "Blocks in the block cache.",
	"campaignd_storage_memtable_size_bytes":         "Memory of the mutable memtable and those waiting for a flush.",
	"campaignd_storage_memtables":                   "Memtables (1 when none waits for a flush).",
	"campaignd_storage_memtable_zombie_size_bytes":  "Flushed memtables still held by readers or kept for reuse.",
	"campaignd_storage_tombstones":                  "Deletion tombstones not yet compacted away (approximate).",
	"campaignd_storage_table_iterators":             "Open sstable iterators.",
	"campaignd_storage_snapshots":                   "Open store snapshots.",
	"campaignd_storage_disk_slow_total":             "Disk writes or syncs slower than 5 s.",
	"campaignd_storage_background_errors_total":     "Errors of flushes and compactions.",
}

// runtimeHelp describes the go_* and process_* families VictoriaMetrics/metrics writes (Go
// runtime and /proc statistics) from their names, which say what they count.
func runtimeHelp(name string) (string, bool) {
	var what string
	switch {
	case strings.HasPrefix(name, "go_"):
		what = "Go runtime: "
	case strings.HasPrefix(name, "process_"):
		what = "Process: "
	default:
		return "", false
	}
	words := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(name, "go_"), "process_"), "_", " ")
	return what + words + ".", true
}
