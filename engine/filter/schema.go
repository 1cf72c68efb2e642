package filter

import (
	"fmt"
	"math/bits"
	"sort"
	"strings"
)

// Kind is the type of a field as the matcher sees it.
type Kind uint8

const (
	// KindInvalid is the zero Kind; a Value of this kind is treated as missing.
	KindInvalid Kind = iota
	// KindString fields carry Value.Str.
	KindString
	// KindBool fields carry Value.Bool.
	KindBool
	// KindNumber fields carry Value.Num.
	KindNumber
	// KindTime fields carry Value.Time (unix nanoseconds, UTC).
	// Filter operands are RFC 3339 strings, with or without fractional seconds.
	KindTime
	// KindStringList fields carry Value.List (e.g. user teams, channel members).
	KindStringList
	// KindAny fields carry Value.Raw: one JSON value (custom fields).
	KindAny
)

var kindNames = [...]string{"invalid", "string", "bool", "number", "time", "string list", "any"}

// String returns a human name of k, used in error messages.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Op is a filter operator. Op values are single bits, so an Op may also hold
// a set of operators (see Field.Ops).
type Op uint32

const (
	OpEq Op = 1 << iota
	OpNe
	OpGt
	OpGte
	OpLt
	OpLte
	OpIn
	OpNin
	OpExists
	OpContains
	OpAutocomplete
	OpAnd
	OpOr
	OpNor
)

var opNames = [...]string{"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$contains", "$autocomplete", "$and", "$or", "$nor"}

// Has reports whether the set o holds every operator in x.
func (o Op) Has(x Op) bool { return o&x == x }

// String returns the wire name of a single operator ("$eq"), or the names of
// every operator in a set joined by ", ".
func (o Op) String() string {
	if o == 0 {
		return "(none)"
	}
	if bits.OnesCount32(uint32(o)) == 1 {
		i := bits.TrailingZeros32(uint32(o))
		if i < len(opNames) {
			return opNames[i]
		}
		return fmt.Sprintf("Op(%#x)", uint32(o))
	}
	var sb strings.Builder
	for i := range opNames {
		if o&(1<<i) != 0 {
			if sb.Len() > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(opNames[i])
		}
	}
	return sb.String()
}

func parseOp(name string) (Op, bool) {
	for i, n := range opNames {
		if n == name {
			return Op(1) << i, true
		}
	}
	return 0, false
}

// Operator sets usable in Field.Ops.
const (
	// OpsCompare is equality, ordering and set membership.
	OpsCompare = OpEq | OpNe | OpGt | OpGte | OpLt | OpLte | OpIn | OpNin | OpExists
	// OpsString is every operator that applies to a string.
	OpsString = OpsCompare | OpContains | OpAutocomplete
	// OpsBool is every operator that applies to a bool.
	OpsBool = OpEq | OpNe | OpIn | OpNin | OpExists
	// OpsList is every operator that applies to a list of strings.
	OpsList = OpEq | OpNe | OpIn | OpNin | OpContains | OpExists
	// OpsAny is every field operator; custom fields allow all of them.
	OpsAny = OpsString
	// opsLogical are the operators that take an array of filters.
	opsLogical = OpAnd | OpOr | OpNor
)

// DefaultOps returns the operators a field of kind k allows when Field.Ops is zero.
func DefaultOps(k Kind) Op {
	switch k {
	case KindString, KindAny:
		return OpsString
	case KindBool:
		return OpsBool
	case KindNumber, KindTime:
		return OpsCompare
	case KindStringList:
		return OpsList
	default:
		return 0
	}
}

// Field describes one filterable (and sortable) field of an entity.
type Field struct {
	// Name is the key used in filters and sorts.
	Name string
	// Kind is the field's type.
	Kind Kind
	// Ops is the set of operators allowed on the field; zero means DefaultOps(Kind).
	Ops Op
	// Source is the name passed to Doc.Field; empty means Name. It makes aliases:
	// users' "team" is {Name: "team", Kind: KindStringList, Source: "teams"}.
	Source string
}

// Schema describes the fields of one entity for Compile and ParseSort.
// A Schema is immutable once built with NewSchema and safe for concurrent use.
type Schema struct {
	// Entity names the entity in error messages ("users", "channels").
	Entity string
	// AllowCustom allows keys that are not schema fields; they are custom
	// fields of KindAny whose values are arbitrary JSON.
	AllowCustom bool

	fields []Field
	byName map[string]int
}

// NewSchema returns a schema of the given fields. It panics on a duplicate or
// invalid field, which is a programming error.
func NewSchema(entity string, allowCustom bool, fields ...Field) *Schema {
	s := &Schema{
		Entity:      entity,
		AllowCustom: allowCustom,
		fields:      make([]Field, len(fields)),
		byName:      make(map[string]int, len(fields)),
	}
	copy(s.fields, fields)
	for i := range s.fields {
		f := &s.fields[i]
		if f.Name == "" || strings.HasPrefix(f.Name, "$") || f.Kind == KindInvalid || f.Kind > KindAny {
			panic(fmt.Sprintf("BUG: filter: invalid schema field %+v", *f))
		}
		if _, ok := s.byName[f.Name]; ok {
			panic(fmt.Sprintf("BUG: filter: duplicate schema field %q", f.Name))
		}
		if f.Ops == 0 {
			f.Ops = DefaultOps(f.Kind)
		}
		f.Ops &^= opsLogical
		if f.Source == "" {
			f.Source = f.Name
		}
		s.byName[f.Name] = i
	}
	return s
}

// Field returns the schema field called name. For a name that is not a schema
// field it returns a custom field of KindAny when AllowCustom is set, else false.
func (s *Schema) Field(name string) (Field, bool) {
	if i, ok := s.byName[name]; ok {
		return s.fields[i], true
	}
	if s.AllowCustom && name != "" && name[0] != '$' {
		return Field{Name: name, Kind: KindAny, Ops: OpsAny, Source: name}, true
	}
	return Field{}, false
}

// Fields returns the schema's own fields (not custom ones). The caller must
// not modify the returned slice.
func (s *Schema) Fields() []Field { return s.fields }

// fieldNames lists the schema fields, sorted, for error messages.
func (s *Schema) fieldNames() string {
	names := make([]string, len(s.fields))
	for i := range s.fields {
		names[i] = s.fields[i].Name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Ready schemas of campaignd's entities. Record types implement Doc so that
// every field here is answered; see each record's Field method.
var (
	// UserSchema is for queryUsers and user segments. Custom fields allowed.
	// "team" is an alias: it matches users whose "teams" list holds the value.
	UserSchema = NewSchema("users", true,
		Field{Name: "id", Kind: KindString},
		Field{Name: "name", Kind: KindString},
		Field{Name: "role", Kind: KindString},
		Field{Name: "teams", Kind: KindStringList},
		Field{Name: "team", Kind: KindStringList, Source: "teams"},
		Field{Name: "banned", Kind: KindBool},
		Field{Name: "shadow_banned", Kind: KindBool},
		Field{Name: "created_at", Kind: KindTime},
		Field{Name: "updated_at", Kind: KindTime},
		Field{Name: "last_active", Kind: KindTime},
	)

	// ChannelSchema is for queryChannels and channel segments. Custom fields
	// allowed. "members" is the channel's member user ids: {"members":{"$in":[..]}}
	// matches channels with any of them, {"members":{"$eq":[..]}} channels whose
	// member set is exactly that, {"members":"x"} channels x is a member of.
	ChannelSchema = NewSchema("channels", true,
		Field{Name: "cid", Kind: KindString},
		Field{Name: "id", Kind: KindString},
		Field{Name: "type", Kind: KindString},
		Field{Name: "members", Kind: KindStringList},
		Field{Name: "created_by_id", Kind: KindString},
		Field{Name: "team", Kind: KindString},
		Field{Name: "last_message_at", Kind: KindTime},
		Field{Name: "created_at", Kind: KindTime},
		Field{Name: "updated_at", Kind: KindTime},
	)

	// SegmentSchema is for querySegments. No custom fields.
	SegmentSchema = NewSchema("segments", false,
		Field{Name: "id", Kind: KindString, Ops: OpEq | OpNe | OpIn | OpNin | OpExists},
		Field{Name: "name", Kind: KindString, Ops: OpEq | OpNe | OpIn | OpNin | OpExists | OpAutocomplete | OpContains},
		Field{Name: "type", Kind: KindString, Ops: OpEq | OpNe | OpIn | OpNin | OpExists},
		Field{Name: "all_users", Kind: KindBool},
		Field{Name: "created_at", Kind: KindTime},
		Field{Name: "updated_at", Kind: KindTime},
	)

	// SegmentTargetSchema is for querySegmentTargets. No custom fields.
	SegmentTargetSchema = NewSchema("segment targets", false,
		Field{Name: "target_id", Kind: KindString, Ops: OpsCompare},
		Field{Name: "created_at", Kind: KindTime},
	)

	// CampaignSchema is for queryCampaigns. No custom fields. "segments" is the
	// list of the campaign's segment ids.
	CampaignSchema = NewSchema("campaigns", false,
		Field{Name: "id", Kind: KindString, Ops: OpsCompare},
		Field{Name: "name", Kind: KindString, Ops: OpsCompare | OpAutocomplete | OpContains},
		Field{Name: "sender_id", Kind: KindString, Ops: OpsCompare},
		Field{Name: "status", Kind: KindString, Ops: OpsCompare},
		Field{Name: "created_at", Kind: KindTime},
		Field{Name: "updated_at", Kind: KindTime},
		Field{Name: "segments", Kind: KindStringList, Ops: OpContains | OpEq | OpIn | OpNin | OpExists},
	)
)
