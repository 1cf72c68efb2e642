package httpd

// routes registers every endpoint. Literal segments win over placeholders because match checks
// routes in this order. Operation names follow Stream's ("UpdateUsers failed with error: ...").
func (s *Server) routes() {
	r := &s.rt
	// Users and the NDJSON bulk import extension.
	r.add("POST", "/users", "UpdateUsers", true, s.upsertUsers)
	r.add("PATCH", "/users", "UpdateUsersPartial", true, s.partialUpdateUsers)
	r.add("GET", "/users", "QueryUsers", false, s.queryUsers)
	r.add("POST", "/users/import", "ImportUsers", true, s.importUsers).stream = true
	r.add("DELETE", "/users/{id}", "DeleteUser", true, s.deleteUser)

	// Channels and messages.
	r.add("POST", "/channels", "QueryChannels", true, s.queryChannels)
	r.add("POST", "/channels/{type}/query", "GetOrCreateChannel", true, s.queryDistinctChannel)
	r.add("POST", "/channels/{type}/{id}/query", "GetOrCreateChannel", true, s.queryChannel)
	r.add("POST", "/channels/{type}/{id}/message", "SendMessage", true, s.sendMessage)

	// Segments.
	r.add("POST", "/segments", "CreateSegment", true, s.createSegment)
	r.add("POST", "/segments/query", "QuerySegments", true, s.querySegments)
	r.add("GET", "/segments/{id}", "GetSegment", true, s.getSegment)
	r.add("PUT", "/segments/{id}", "UpdateSegment", true, s.updateSegment)
	r.add("DELETE", "/segments/{id}", "DeleteSegment", true, s.deleteSegment)
	r.add("POST", "/segments/{id}/addtargets", "AddSegmentTargets", true, s.addSegmentTargets)
	r.add("POST", "/segments/{id}/deletetargets", "DeleteSegmentTargets", true, s.deleteSegmentTargets)
	r.add("GET", "/segments/{id}/target/{targetId}", "SegmentTargetExists", true, s.segmentTargetExists)
	r.add("POST", "/segments/{id}/targets/query", "QuerySegmentTargets", true, s.querySegmentTargets)

	// Campaigns.
	r.add("POST", "/campaigns", "CreateCampaign", true, s.createCampaign)
	r.add("POST", "/campaigns/query", "QueryCampaigns", true, s.queryCampaigns)
	r.add("GET", "/campaigns/{id}", "GetCampaign", true, s.getCampaign)
	r.add("PUT", "/campaigns/{id}", "UpdateCampaign", true, s.updateCampaign)
	r.add("DELETE", "/campaigns/{id}", "DeleteCampaign", true, s.deleteCampaign)
	r.add("POST", "/campaigns/{id}/start", "StartCampaign", true, s.startCampaign)
	r.add("POST", "/campaigns/{id}/stop", "StopCampaign", true, s.stopCampaign)

	// Delivery dead letters (extension, httpd/deadletters.go).
	r.add("GET", "/campaignd/deadletters", "ListDeadLetters", true, s.listDeadLetters)
	r.add("POST", "/campaignd/deadletters/replay", "ReplayDeadLetters", true, s.replayDeadLetters)
}
