package filter

// Doc is how a record exposes its fields to Match and Compare.
//
// Field returns the value of the field called name, and whether the record
// has it. name is a schema field's Source (see Field) or, for custom fields,
// the key exactly as written in the filter (possibly a dotted path).
//
// Contract for implementations:
//   - For a schema field, return a Value of the schema's Kind with the matching
//     member set (KindString → Str, KindTime → Time, ...). Return ok=false when
//     the record lacks it (e.g. a zero last_active), so $exists and $ne behave.
//   - For any other name, return the custom field: typically
//     CustomValue(rec.Custom, name), where rec.Custom is the record's raw JSON
//     object of custom keys. A typed Value is accepted for custom fields too.
//   - Field must not allocate in the common case and must be safe to call
//     concurrently if the same record is matched concurrently. The returned
//     Value may alias the record's memory; the matcher never retains it.
type Doc interface {
	Field(name string) (Value, bool)
}

// Value is one field's value, returned by Doc.Field. Only the member that
// matches Kind is read. It is passed by value and holds no pointers the matcher
// keeps, so returning it does not allocate.
type Value struct {
	Kind Kind
	Bool bool
	// Str is the value of a KindString field.
	Str string
	// Num is the value of a KindNumber field.
	Num float64
	// Time is the value of a KindTime field, in unix nanoseconds.
	Time int64
	// List is the value of a KindStringList field.
	List []string
	// Raw is the value of a KindAny field: exactly one JSON value
	// (`"x"`, `12.5`, `true`, `null`, `[..]`, `{..}`), without surrounding spaces.
	Raw []byte
}

// StringValue returns a KindString Value.
func StringValue(s string) Value { return Value{Kind: KindString, Str: s} }

// NumberValue returns a KindNumber Value.
func NumberValue(n float64) Value { return Value{Kind: KindNumber, Num: n} }

// BoolValue returns a KindBool Value.
func BoolValue(b bool) Value { return Value{Kind: KindBool, Bool: b} }

// TimeValue returns a KindTime Value of unixNanos.
func TimeValue(unixNanos int64) Value { return Value{Kind: KindTime, Time: unixNanos} }

// ListValue returns a KindStringList Value; it aliases list.
func ListValue(list []string) Value { return Value{Kind: KindStringList, List: list} }

// RawValue returns a KindAny Value; it aliases raw, which must be one JSON value.
func RawValue(raw []byte) Value { return Value{Kind: KindAny, Raw: raw} }

// CustomValue looks up path in obj, a record's raw JSON object of custom
// fields, and returns it as a KindAny Value. See LookupJSON for path syntax and
// cost. The Value aliases obj. It does not allocate.
func CustomValue(obj []byte, path string) (Value, bool) {
	raw, ok := LookupJSON(obj, path)
	if !ok {
		return Value{}, false
	}
	return Value{Kind: KindAny, Raw: raw}, true
}
