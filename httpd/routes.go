package httpd

// routes registers every endpoint. Literal segments win over placeholders because match checks
// routes in this order. Operation names follow Stream's ("UpdateUsers failed with error: ...").
// Routes that add data are marked grows (get-or-create is not: reading a channel goes on while
// disk space is low, and the engine refuses only the creation).
func (s *Server) routes() {
	r := &s.rt
	// Users and the NDJSON bulk import extension.
	r.add("POST", "/users", "UpdateUsers", true, s.upsertUsers).grows = true
	r.add("PATCH", "/users", "UpdateUsersPartial", true, s.partialUpdateUsers).grows = true
	r.add("GET", "/users", "QueryUsers", false, s.queryUsers)
	imp := r.add("POST", "/users/import", "ImportUsers", true, s.importUsers)
	imp.stream, imp.grows = true, true
	r.add("DELETE", "/users/{id}", "DeleteUser", true, s.deleteUser)

	// Channels and messages.
	r.add("POST", "/channels", "QueryChannels", true, s.queryChannels)
	r.add("POST", "/channels/read", "MarkChannelsRead", true, s.markChannelsRead)
	r.add("POST", "/channels/{type}/query", "GetOrCreateChannel", true, s.queryDistinctChannel)
	r.add("POST", "/channels/{type}/{id}/query", "GetOrCreateChannel", true, s.queryChannel)
	r.add("POST", "/channels/{type}/{id}/message", "SendMessage", true, s.sendMessage).grows = true
	r.add("POST", "/channels/{type}/{id}/read", "MarkRead", true, s.markRead)
	r.add("GET", "/unread", "UnreadCounts", true, s.unreadCounts)

	// Segments.
	r.add("POST", "/segments", "CreateSegment", true, s.createSegment).grows = true
	r.add("POST", "/segments/query", "QuerySegments", true, s.querySegments)
	r.add("GET", "/segments/{id}", "GetSegment", true, s.getSegment)
	r.add("PUT", "/segments/{id}", "UpdateSegment", true, s.updateSegment).grows = true
	r.add("DELETE", "/segments/{id}", "DeleteSegment", true, s.deleteSegment)
	r.add("POST", "/segments/{id}/addtargets", "AddSegmentTargets", true, s.addSegmentTargets).grows = true
	r.add("POST", "/segments/{id}/deletetargets", "DeleteSegmentTargets", true, s.deleteSegmentTargets)
	r.add("GET", "/segments/{id}/target/{targetId}", "SegmentTargetExists", true, s.segmentTargetExists)
	r.add("POST", "/segments/{id}/targets/query", "QuerySegmentTargets", true, s.querySegmentTargets)

	// Campaigns.
	r.add("POST", "/campaigns", "CreateCampaign", true, s.createCampaign).grows = true
	r.add("POST", "/campaigns/query", "QueryCampaigns", true, s.queryCampaigns)
	r.add("GET", "/campaigns/{id}", "GetCampaign", true, s.getCampaign)
	r.add("PUT", "/campaigns/{id}", "UpdateCampaign", true, s.updateCampaign).grows = true
	r.add("DELETE", "/campaigns/{id}", "DeleteCampaign", true, s.deleteCampaign)
	r.add("POST", "/campaigns/{id}/start", "StartCampaign", true, s.startCampaign).grows = true
	r.add("POST", "/campaigns/{id}/stop", "StopCampaign", true, s.stopCampaign)

	// Rate limits (Stream's GET /rate_limits, httpd/ratelimit.go).
	r.add("GET", "/rate_limits", "GetRateLimits", true, s.getRateLimits)

	// The month's campaign messages and capacity (extension, httpd/usage.go).
	r.add("GET", "/campaignd/usage", "GetCampaignUsage", true, s.getCampaignUsage)

	// Delivery dead letters (extension, httpd/deadletters.go).
	r.add("GET", "/campaignd/deadletters", "ListDeadLetters", true, s.listDeadLetters)
	r.add("POST", "/campaignd/deadletters/replay", "ReplayDeadLetters", true, s.replayDeadLetters)

	// Snapshots of the store (extension, httpd/snapshot.go).
	r.add("POST", "/campaignd/snapshot", "CreateSnapshot", true, s.createSnapshot)
	r.add("GET", "/campaignd/snapshots", "ListSnapshots", true, s.listSnapshots)
	r.add("DELETE", "/campaignd/snapshots/{name}", "DeleteSnapshot", true, s.deleteSnapshot)
}
