// Package filter compiles Stream-style JSON filters once and matches them
// against records many times. It is the one filter implementation behind
// queryUsers, queryChannels, querySegments, querySegmentTargets,
// queryCampaigns and dynamic (filter) segments, which match it against up to
// a million users, so Match is allocation-free in the common cases.
//
// # Filters
//
//	{"name": "x"}                            implicit $eq
//	{"age": {"$gte": 18, "$lt": 65}}         several operators on one field: AND
//	{"role": "admin", "banned": false}       several keys: AND
//	{"$or": [{"team": "red"}, {"$nor": [{"banned": true}]}]}
//
// Field operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $contains
// $autocomplete; logical operators $and $or $nor take non-empty arrays of
// filters and nest up to MaxDepth levels. Semantics:
//
//   - Like types compare: strings by bytes, numbers as numbers, bools
//     (false < true), times (KindTime fields, RFC 3339 operands) as instants.
//     A value of another type never matches $eq/$gt/... (and so matches $ne).
//   - Lists (KindStringList) and custom JSON arrays match $eq, $in, $gt... when
//     any element does; {"members": {"$eq": ["a","b"]}} on a list field means
//     "exactly these members, any order"; on a custom array, "this array".
//   - $ne and $nin match records without the field; $exists:false matches only
//     them; {"f": null} matches a missing field or a JSON null.
//   - $contains: substring of a string (case-sensitive), element of a list.
//   - $autocomplete: case-insensitive prefix of any word of the value; words
//     start at the beginning and after any rune that is not a letter or digit.
//   - Nested custom values are reached by dotted paths ("address.city");
//     an object operand is an error.
//
// # Schemas
//
// A Schema lists an entity's fields (name, Kind, allowed operators, and an
// optional Source for aliases such as users' "team" → "teams"). When
// AllowCustom is set, any other key is a custom field of KindAny. Ready
// schemas: UserSchema, ChannelSchema, SegmentSchema, SegmentTargetSchema,
// CampaignSchema. Compile rejects unknown fields, operators a field does not
// allow, and values of the wrong type, with an *Error naming the field and
// the fix.
//
// # Records
//
// A record implements Doc: Field(name) returns a Value whose member matches
// the field's Kind. Custom fields are stored as one raw JSON object per
// record; CustomValue / LookupJSON find a key (or dotted path) in it by
// scanning the bytes, without decoding or allocating, and the matcher compares
// the raw JSON value directly. A typical implementation:
//
//	func (u *User) Field(name string) (filter.Value, bool) {
//		switch name {
//		case "id":
//			return filter.StringValue(u.ID), true
//		case "teams":
//			return filter.ListValue(u.Teams), len(u.Teams) > 0
//		case "created_at":
//			return filter.TimeValue(u.CreatedAt), true
//		...
//		}
//		return filter.CustomValue(u.Custom, name)
//	}
//
// # Using a compiled filter
//
// Filter is immutable and safe for concurrent use. IsEmpty reports a filter
// that matches everything (callers skip matching); IDs(field) returns the
// exact set of values field may take when the filter's top-level conjunction
// pins it with $eq/$in, so callers fetch by key instead of scanning (they still
// call Match). ParseSort and Compare implement the sort parameter in both of
// its wire forms.
package filter
