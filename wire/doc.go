// Package wire is Stream Chat's server-side JSON as campaignd speaks it: the request decoders,
// the reply and event encoders, and the envelopes around them. It is pure: every function works
// on values the engine loaded (engine types, storage records) and does no I/O. httpd routes a
// request, decodes it here, calls the engine and encodes the result here; the engine renders its
// event bodies and template objects through the engine.Encoder this package implements.
//
// The format is Stream's legacy one (type Legacy, files legacy_*.go): the one the stream-chat
// SDKs (npm stream-chat 9.x in server-side mode) send and read on the unversioned paths. A later
// generation (Stream's /api/v2 shapes) gets a type of its own beside Legacy. What a reader of this
// repository needs of the legacy format follows; the shapes are those campaignd produces.
//
// # Requests and authentication
//
// Every request carries the app's key as the api_key query parameter and, in the Authorization
// header, a JWT signed with HS256 and the app's secret, without a "Bearer " prefix (one is
// tolerated). The server-side SDK's token is {"server": true}; a token with a user_id claim is
// a user token, refused on server-side endpoints (403 code 17); exp, nbf and iat are checked when
// present (codes 40, 41, 42); a bad signature is code 43, a missing or unknown key code 2, any
// other token problem code 5. Bodies are JSON; a key whose value is null counts as absent
// ("id": null on create is the SDK's way of sending no id), except that null clears a segment's
// filter and a campaign's raw JSON fields on update; stopCampaign arrives with no body and a form
// content type. Ids in paths are percent-encoded with encodeURIComponent. GET /users
// carries its query as URL-encoded JSON in payload=.
//
// # Envelopes
//
// Every success body is a JSON object with, besides its payload keys, "duration": "<ms>ms"
// (AppendReply); the calls that create, change or query answer 201, GET, DELETE and PATCH /users
// 200. Every error body is (AppendError):
//
//	{"code": <Stream code>, "message": "<Operation> failed with error: \"<what to fix>\"",
//	 "exception_fields": {"<field>": "<message>"}, "StatusCode": <HTTP status>,
//	 "duration": "<ms>ms", "more_info": MoreInfo, "details": []}
//
// never a JSON null (the SDK reads body.code and builds its error from code and message). The
// codes (HTTPStatus maps them to their status): 4 input (400), 2, 5, 40–43 authentication (401),
// 17 not allowed (403), 16 does not exist (404), 22 payload too big (413), 9 rate limit (429), 20
// message too long (400), 23 request timeout (408), 24 headers too large (431), -1 internal (500).
//
// # Common rules
//
// Times are RFC 3339 UTC strings with microseconds ("2026-01-02T03:04:05.123456Z",
// TimeLayout); requests may send any RFC 3339 time, kept to the microsecond (ParseTime).
//
// Custom data of users, channels, members and messages travels as top-level keys of their
// objects, in requests and replies (a nested "custom" object in a user request is unpacked). The
// exceptions are a campaign's message_template.custom, channel_template.custom and
// members_template[].custom, nested by design and unpacked into the message, channel and members
// a campaign creates.
//
// Arrays the SDK iterates are always present, empty when there is nothing: GET /users answers
// {"users": [...]}, a channel state always has "messages" and "members" (even for
// state:false). Paged replies carry "next" and "prev", opaque cursors to send back unchanged.
//
// # Users
//
//   - UserResponse (AppendUser): id, role, name?, image?, created_at, updated_at, last_active?,
//     deactivated_at?, deleted_at?, banned, online (false), shadow_banned, invisible, language,
//     teams, blocked_user_ids, custom fields. A user that is gone (deleted since a message or
//     member referred to it) is {"id"} (AppendGoneUser).
//   - FullUserResponse (AppendFullUser, in the replies of the user endpoints): a UserResponse
//     with devices, mutes, channel_mutes and zero unread counters.
//
// POST /users {"users": {"<id>": user}} (at most 100, each key its user's id) and PATCH /users
// {"users": [{"id", "set": {...}, "unset": [...]}]} answer {"users": {"<id>":
// FullUserResponse}}; GET /users answers {"users": [FullUserResponse]}; DELETE /users/{id}
// answers {"user", "task_id"}. POST /users/import (an extension) takes NDJSON, one user object
// per line, and answers {"imported", "failed", "errors": [{"line", "reason"}],
// "errors_truncated"}.
//
// # Channels and messages
//
//   - ChannelResponse (AppendChannel): id, type, cid ("type:id"), created_at, updated_at,
//     created_by? (UserResponse), frozen, disabled, member_count, message_count,
//     last_message_at?, team?, hidden (false), config ({}), own_capabilities ([]), custom fields.
//   - ChannelMemberResponse: user_id, user (UserResponse; the SDK drops members without one),
//     created_at, updated_at, channel_role (channel_member, channel_moderator or custom), role
//     (the legacy role: owner for the channel's creator, moderator, member), is_moderator, banned,
//     ban_expires?, shadow_banned, notifications_muted, archived_at?, pinned_at?, custom fields.
//   - ReadStateResponse (a channel state's "read", one per member listed): user, last_read (the
//     member's joining when it never read), unread_messages, last_read_message_id?.
//   - MessageResponse: id, text, html (the text as one escaped paragraph, "<p>…</p>\n", unless
//     the message has its own), type (regular, system, reply), user (the author), cid,
//     created_at, updated_at, attachments, latest_reactions, own_reactions, mentioned_users,
//     reaction_counts, reaction_scores, reaction_groups (null), reply_count, deleted_reply_count,
//     silent, pinned, pinned_at, pinned_by, pin_expires (null), shadowed, mentioned_channel,
//     mentioned_here, restricted_visibility, parent_id? and show_in_channel?, poll_id?, i18n
//     (null), custom fields (a campaign's messages carry campaign_id).
//
// Get-or-create (POST /channels/{type}/{id}/query, or POST /channels/{type}/query for the
// distinct channel of data.members, whose id is "!members-" and a hash of the sorted members)
// takes {"data": {"created_by_id" | "created_by": {"id"}, "members": [id | {"user_id",
// "channel_role"?, ...custom}], "team", "frozen", "disabled", ...custom}, "messages": {"limit",
// "id_lt", "id_lte", "id_gt", "id_gte"}, "members": {"limit", "offset"}}; the creator may come at
// the top level too, and creating a channel without one fails with Stream's wording ("either
// data.created_by or data.created_by_id must be provided when using server side auth."). It
// answers a ChannelStateResponse (AppendChannelState): {"channel", "messages" (oldest first),
// "members", "pinned_messages", "read", "threads", "watcher_count", "watchers"}. queryChannels
// (POST /channels {"filter_conditions", "sort", "limit", "offset", "message_limit",
// "member_limit"}) answers {"channels": [ChannelStateResponse]}. Send message (POST
// /channels/{type}/{id}/message {"message": {"text", "user_id" | "user": {"id"}, "id"?,
// "attachments"?, "parent_id"?, "mentioned_users"?, "silent"?, ...custom}, "skip_push"?})
// answers {"message": MessageResponse}; server-side a message must name its author.
//
// Mark read (POST /channels/{type}/{id}/read {"user_id" | "user": {"id"}, "message_id"?})
// answers {"event": message.read}; mark channels read (POST /channels/read {"user_id",
// "read_by_channel"?: {cid: message id}}) answers {}; GET /unread?user_id= answers
// {"total_unread_count", "channels": [{"channel_id" (the cid), "last_read", "unread_count"}],
// "channel_type": [{"channel_type", "channel_count", "unread_count"}],
// "total_unread_count_by_team"?, "threads": [], "total_unread_threads_count": 0}.
//
// # Segments and campaigns
//
//   - SegmentResponse (AppendSegment): id, type ("user" or "channel"), name, description, filter
//     ({} without one), all_users, all_sender_channels, size, locked (a running campaign uses
//     it), task_id?, created_at, updated_at, deleted_at?.
//   - SegmentTargetResponse (AppendTarget): segment_id, target_id, created_at.
//   - CampaignResponse (AppendCampaign): id, name, description, status (draft, scheduled,
//     in_progress, completed, stopped), sender_id, sender? (absent once the sender is deleted),
//     sender_mode and sender_visibility (null when not set), segment_ids, segments (the
//     SegmentResponses that still exist), user_ids, users (a page of the audience:
//     UserResponses), message_template {text, attachments, custom, poll_id?, searchable?},
//     channel_template? {type, id?, team?, members, members_template [{user_id, channel_role?,
//     custom}], custom}, create_channels, show_channels, skip_push, skip_webhook, scheduled_for?,
//     stop_at?, created_at, updated_at, and stats {progress (0 to 1), stats_channels_created,
//     stats_messages_sent, stats_users_sent, stats_users_read, stats_started_at?,
//     stats_completed_at?}. campaignd adds stats.stats_targets_skipped (audience members that got
//     no message), max_messages_per_second (the throttle) and stop_reason (on a stopped campaign:
//     manual, stop_at, monthly_capacity or error); unknown keys are harmless to the SDK.
//
// Segment endpoints answer {"segment": ...}, campaign endpoints {"campaign": ..., "users":
// {"next"?, "prev"?}} (the cursors of the campaign's users page; stopCampaign's reply has no
// "users"), the queries {"segments" | "campaigns" | "targets": [...], "next"?, "prev"?}. A query
// body is {"filter"?, "sort"?, "limit"?, "next"?, "prev"?} (the OpenAPI's "Filter" and "Sort"
// are accepted too); POST /campaigns/query adds "user_limit"; POST /campaigns/{id}/start takes
// {"scheduled_for"?, "stop_at"?}.
//
// # Events
//
// Every event is one JSON object: a webhook POSTs it as its body (X-Signature is the lowercase
// hex HMAC-SHA256 of the exact body with the API secret; X-Webhook-Id, the event id, is the same
// on every attempt), Kafka carries it as the record value. Events list at most 50 members, as
// Stream's do.
//
//   - channel.created (AppendChannelCreated): {"type", "cid", "channel_id", "channel_type",
//     "channel": ChannelResponse, "user": the creator, "members", "channel_member_count",
//     "team"?, "created_at"}.
//   - message.new (AppendMessageNew): {"type", "cid", "channel_id", "channel_type", "message_id",
//     "message": MessageResponse, "user": the author, "members", "watcher_count" (0),
//     "channel_member_count", "channel_message_count", "team"?, "created_at"}.
//   - campaign.started, campaign.stopped and campaign.completed (AppendCampaignEvent): {"type",
//     "created_at", "campaign": CampaignResponse without users}.
//   - the other channel and message events (AppendChannelEvent): {"type", "cid", "channel_id",
//     "channel_type", "channel"?, "user"?, "member"?, "message_id"? and "message"?,
//     "channel_member_count", "channel_message_count", "team"?, "created_at"} and per type:
//     message.read "last_read_message_id"?, "channel_last_message_at"?; channel.hidden
//     "clear_history"; message.deleted "hard_delete".
package wire
