// Package wire is Stream Chat's server-side JSON as campaignd speaks it: the request decoders,
// the reply and event encoders, and the envelopes around them. It is pure: every function works
// on values the engine loaded (engine types, storage records) and does no I/O. httpd routes a
// request, decodes it here, calls the engine and encodes the result here; the engine renders its
// event bodies and template objects through the engine.Encoder this package implements.
//
// The format is Stream's legacy one (type Legacy, files legacy_*.go): the one the stream-chat
// SDKs (npm stream-chat 9.x in server-side mode) send and read on the unversioned paths. What a
// reader of this repository needs of it follows; the shapes are those campaignd produces.
//
// # Requests and authentication
//
// Every request carries the app's key as the api_key query parameter and, in the Authorization
// header, a JWT signed with HS256 and the app's secret, without a "Bearer " prefix (one is
// tolerated). The server-side SDK's token is {"server": true}; a token with a user_id claim is
// a user token, refused on server-side endpoints (403 code 17); exp, nbf and iat are checked when
// present (codes 40, 41, 42); a bad signature is code 43, a missing key code 2, any other token
// problem code 5. Bodies are JSON; keys whose value is null count as absent; stopCampaign arrives
// with no body and a form content type. Ids in paths are percent-encoded with
// encodeURIComponent. GET /users carries its query as URL-encoded JSON in payload=.
//
// # Envelopes
//
// Every success body is a JSON object with, besides its payload keys, "duration": "<ms>ms"
// (AppendReply); POST and PUT answer 201, GET and DELETE 200, PATCH /users 200. Every error body
// is (AppendError):
//
//	{"code": <Stream code>, "message": "<Operation> failed with error: \"<what to fix>\"",
//	 "exception_fields": {"<field>": "<message>"}, "StatusCode": <HTTP status>,
//	 "duration": "<ms>ms", "more_info": MoreInfo, "details": []}
//
// never a JSON null (the SDK reads body.code). The SDK builds its error from code and message.
// The codes (HTTPStatus maps them to their status): 4 input (400), 2, 5, 40–43 authentication
// (401), 17 not allowed (403), 16 does not exist (404), 22 payload too big (413), 9 rate limit
// (429), 20 message too long (400), 23 request timeout (408), 24 headers too large (431), -1
// internal (500).
//
// # Shapes
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
// {"users": [...]}, a channel state always has "messages" and "members".
//
//   - UserResponse (AppendUser): id, role, name?, image?, created_at, updated_at, last_active?,
//     deactivated_at?, deleted_at?, banned, online (false), shadow_banned, invisible, language,
//     teams, blocked_user_ids, custom fields. FullUserResponse (AppendFullUser, the replies of the
//     user endpoints) adds devices, mutes, channel_mutes and zero unread counters. A user that is
//     gone (deleted since a message or member referred to it) is {"id"} (AppendGoneUser).
//
//   - SegmentResponse (AppendSegment): id, type ("user" or "channel"), name, description, filter
//     ({} without one), all_users, all_sender_channels, size, locked (a running campaign uses
//     it), task_id?, created_at, updated_at, deleted_at?. SegmentTargetResponse (AppendTarget):
//     segment_id, target_id, created_at.
//
//   - CampaignResponse (AppendCampaign): id, name, description, status (draft, scheduled,
//     in_progress, completed, stopped), sender_id, sender? (a UserResponse, absent once the sender
//     is deleted), sender_mode and sender_visibility (null when not set), segment_ids, segments
//     (the SegmentResponses that still exist), user_ids, users (a page of the audience:
//     UserResponses), message_template {text, attachments, custom, poll_id?, searchable?},
//     channel_template? {type, id?, team?, members, members_template [{user_id, channel_role?,
//     custom}], custom}, create_channels, show_channels, skip_push, skip_webhook, scheduled_for?,
//     stop_at?, created_at, updated_at, and stats {progress (0 to 1), stats_channels_created,
//     stats_messages_sent, stats_users_sent, stats_users_read (0), stats_started_at?,
//     stats_completed_at?}. Extensions campaignd adds: stats.stats_targets_skipped (audience
//     members that got no message), max_messages_per_second (the throttle) and stop_reason (on a
//     stopped campaign: manual, stop_at, monthly_capacity or error).
//
// Segments and campaigns answer {"segment": ...} and {"campaign": ..., "users": {"next"?,
// "prev"?}} (the cursors of the campaign's users page; stopCampaign's reply has no "users"); the
// queries answer {"segments" | "campaigns" | "targets": [...], "next"?, "prev"?}. A query body is
// {"filter"?, "sort"?, "limit"?, "next"?, "prev"?} (the OpenAPI's capitalised "Filter" and "Sort"
// are accepted too); POST /campaigns/query adds "user_limit". Cursors are opaque strings to send
// back unchanged. Requests may send null for an absent field and "id": null on create.
//
// The campaign events (AppendCampaignEvent; campaign.started, campaign.stopped and
// campaign.completed) are {"type", "created_at", "campaign": CampaignResponse without users}.
//
// The user endpoints: POST /users {"users": {"<id>": user}} (at most 100, each key its user's
// id) and PATCH /users {"users": [{"id", "set": {...}, "unset": [...]}]} both answer
// {"users": {"<id>": FullUserResponse}}; GET /users answers {"users": [FullUserResponse]};
// DELETE /users/{id} answers {"user", "task_id"}. POST /users/import (an extension) takes NDJSON,
// one user object per line, and answers {"imported", "failed", "errors": [{"line", "reason"}],
// "errors_truncated"}.
package wire
