package filter

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/valyala/fastjson"
)

// MaxSortFields is the most sort entries ParseSort accepts.
const MaxSortFields = 5

// SortField is one parsed sort entry.
type SortField struct {
	// Field is the key as the caller wrote it.
	Field string
	// Source is the name passed to Doc.Field.
	Source string
	// Kind is the field's kind (KindAny for custom fields).
	Kind Kind
	// Direction is 1 (ascending) or -1 (descending).
	Direction int
}

// ParseSort parses a sort parameter against schema s. It accepts
// `[{"field":"x","direction":-1}, ...]` (direction defaults to 1; a "type" key
// is ignored), `{"x":-1, "y":1}` (keys in order) and `[{"x":-1}, ...]`.
// Empty raw, `null`, `[]` and `{}` give no sort fields. Fields of kind
// KindStringList cannot be sorted by. Mistakes are returned as *Error.
func ParseSort(raw []byte, s *Schema) ([]SortField, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	if len(t) > MaxSize || !json.Valid(t) {
		return nil, &Error{Reason: "sort is not valid JSON"}
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(t)
	if err != nil {
		return nil, &Error{Reason: fmt.Sprintf("cannot parse sort: %s", err)}
	}
	var out []SortField
	add := func(name string, dir *fastjson.Value) error {
		if len(out) == MaxSortFields {
			return &Error{Reason: fmt.Sprintf("sort has more than %d fields", MaxSortFields)}
		}
		f, ok := s.Field(name)
		if !ok {
			return &Error{Field: name, Reason: fmt.Sprintf("cannot sort by unknown field; %s can be sorted by %s", s.Entity, sortableNames(s))}
		}
		if f.Kind == KindStringList {
			return &Error{Field: name, Reason: "cannot sort by a list field"}
		}
		d := 1
		if dir != nil {
			x, err := dir.Int()
			if err != nil || x != 1 && x != -1 {
				return &Error{Field: name, Reason: fmt.Sprintf("sort direction must be 1 or -1, not %s", describe(dir))}
			}
			d = x
		}
		for i := range out {
			if out[i].Field == name {
				return &Error{Field: name, Reason: "sort names the field twice"}
			}
		}
		out = append(out, SortField{Field: name, Source: f.Source, Kind: f.Kind, Direction: d})
		return nil
	}
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		for _, m := range members(o) {
			if err := add(m.key, m.v); err != nil {
				return nil, err
			}
		}
	case fastjson.TypeArray:
		arr, _ := v.Array()
		for _, e := range arr {
			o, err := e.Object()
			if err != nil {
				return nil, &Error{Reason: fmt.Sprintf(`sort entries must be objects like {"field":"created_at","direction":-1}, not %s`, describe(e))}
			}
			if fv := o.Get("field"); fv != nil {
				name, err := fv.StringBytes()
				if err != nil || len(name) == 0 {
					return nil, &Error{Reason: fmt.Sprintf(`sort "field" must be a non-empty string, not %s`, describe(fv))}
				}
				if err := add(string(name), o.Get("direction")); err != nil {
					return nil, err
				}
				continue
			}
			for _, m := range members(o) {
				if err := add(m.key, m.v); err != nil {
					return nil, err
				}
			}
		}
	default:
		return nil, &Error{Reason: fmt.Sprintf(`sort must be an array like [{"field":"created_at","direction":-1}] or an object like {"created_at":-1}, not %s`, describe(v))}
	}
	return out, nil
}

func sortableNames(s *Schema) string {
	var names []string
	for _, f := range s.Fields() {
		if f.Kind != KindStringList {
			names = append(names, f.Name)
		}
	}
	if s.AllowCustom {
		names = append(names, "custom fields")
	}
	return strings.Join(names, ", ")
}

// Compare orders a and b by sort: it returns -1 when a sorts before b, 1 when
// after, 0 when they tie on every field (callers break ties, e.g. by id).
// A missing field sorts before any value; custom values order
// null < numbers < strings < bools < arrays/objects, like types by value.
func Compare(a, b Doc, sort []SortField) int {
	for i := range sort {
		sf := &sort[i]
		va, oka := a.Field(sf.Source)
		vb, okb := b.Field(sf.Source)
		oka = oka && va.Kind != KindInvalid
		okb = okb && vb.Kind != KindInvalid
		var c int
		switch {
		case !oka && !okb:
			c = 0
		case !oka:
			c = -1
		case !okb:
			c = 1
		default:
			c = compareValues(&va, &vb)
		}
		if c != 0 {
			return c * sf.Direction
		}
	}
	return 0
}

func compareValues(a, b *Value) int {
	ra, rb := valueRank(a), valueRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch a.Kind {
	case KindString:
		if b.Kind == KindString {
			return strings.Compare(a.Str, b.Str)
		}
	case KindNumber:
		if b.Kind == KindNumber {
			return cmp.Compare(a.Num, b.Num)
		}
	case KindBool:
		if b.Kind == KindBool {
			return cmpBool(a.Bool, b.Bool)
		}
	case KindTime:
		if b.Kind == KindTime {
			return cmp.Compare(a.Time, b.Time)
		}
	}
	// Mixed typed/raw values of the same rank, or raw values.
	switch ra {
	case rankNumber:
		x, _ := numberOf(a)
		y, _ := numberOf(b)
		return cmp.Compare(x, y)
	case rankString:
		return strings.Compare(stringOf(a), stringOf(b))
	case rankBool:
		return cmpBool(boolOf(a), boolOf(b))
	}
	return bytes.Compare(a.Raw, b.Raw)
}

const (
	rankNull = iota
	rankNumber
	rankString
	rankBool
	rankTime
	rankOther
)

func valueRank(v *Value) int {
	switch v.Kind {
	case KindString:
		return rankString
	case KindNumber:
		return rankNumber
	case KindBool:
		return rankBool
	case KindTime:
		return rankTime
	case KindAny:
		if len(v.Raw) == 0 {
			return rankNull
		}
		switch c := v.Raw[0]; {
		case c == 'n':
			return rankNull
		case c == '"':
			return rankString
		case c == '-' || c >= '0' && c <= '9':
			return rankNumber
		case c == 't' || c == 'f':
			return rankBool
		}
	}
	return rankOther
}

func numberOf(v *Value) (float64, bool) {
	if v.Kind == KindNumber {
		return v.Num, true
	}
	return rawNumber(v.Raw)
}

func stringOf(v *Value) string {
	if v.Kind == KindString {
		return v.Str
	}
	s, _ := rawString(v.Raw)
	return s
}

func boolOf(v *Value) bool {
	if v.Kind == KindBool {
		return v.Bool
	}
	return len(v.Raw) > 0 && v.Raw[0] == 't'
}
