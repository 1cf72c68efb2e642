package filter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/valyala/fastjson"
)

// Limits of what Compile accepts.
const (
	// MaxSize is the longest filter, in bytes of JSON.
	MaxSize = 256 << 10
	// MaxDepth is the deepest nesting of $and/$or/$nor.
	MaxDepth = 16
	// MaxConditions is the most field conditions in one filter ($in lists count once).
	MaxConditions = 1000
	// MaxInValues is the longest $in/$nin/$eq array.
	MaxInValues = 10000
)

// Error is a filter or sort the caller must fix. Error() names the field and
// says what to change; Field and Op are empty when not applicable.
type Error struct {
	Field  string
	Op     string
	Reason string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Field == "" {
		return "filter: " + e.Reason
	}
	return fmt.Sprintf("filter: field %q: %s", e.Field, e.Reason)
}

// Filter is a compiled filter. It is immutable and safe for concurrent use by
// any number of goroutines. A nil *Filter matches everything.
type Filter struct {
	root node
}

// kindNull and kindArray are operand kinds beyond the field kinds.
const (
	kindNull  Kind = 100
	kindArray Kind = 101
)

// operand is one compiled filter value.
type operand struct {
	kind Kind // KindString, KindNumber, KindBool, KindTime, kindNull or kindArray
	b    bool
	str  string
	num  float64
	t    int64
	list []operand // kindArray
}

// node is one compiled condition: a logical op over kids, or a field op.
type node struct {
	op   Op
	kids []node // OpAnd, OpOr, OpNor

	name   string // the field's filter key
	source string // the name passed to Doc.Field
	kind   Kind   // the field's schema kind
	arg    operand
	args   []operand           // $in, $nin
	set    map[string]struct{} // $in/$nin over many strings
}

// setThreshold is the $in size from which string operands are looked up in a map.
const setThreshold = 8

// Compile compiles the JSON filter raw against schema s. An empty raw, `null`
// or `{}` compiles to a filter that matches everything. Mistakes in the filter
// are returned as *Error. Compile does not retain raw.
func Compile(raw []byte, s *Schema) (*Filter, error) {
	if len(raw) > MaxSize {
		return nil, &Error{Reason: fmt.Sprintf("filter is %d bytes long; the limit is %d", len(raw), MaxSize)}
	}
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return &Filter{root: node{op: OpAnd}}, nil
	}
	if !json.Valid(t) {
		return nil, &Error{Reason: "filter is not valid JSON"}
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(t)
	if err != nil {
		return nil, &Error{Reason: fmt.Sprintf("cannot parse filter: %s", err)}
	}
	o, err := v.Object()
	if err != nil {
		return nil, &Error{Reason: fmt.Sprintf("filter must be a JSON object, not %s", describe(v))}
	}
	c := compiler{s: s}
	root, err := c.object(o, 1)
	if err != nil {
		return nil, err
	}
	if root.op != OpAnd {
		root = node{op: OpAnd, kids: []node{root}}
	}
	return &Filter{root: root}, nil
}

type compiler struct {
	s          *Schema
	conditions int
}

type member struct {
	key string
	v   *fastjson.Value
}

func members(o *fastjson.Object) []member {
	ms := make([]member, 0, o.Len())
	o.Visit(func(k []byte, v *fastjson.Value) {
		ms = append(ms, member{key: string(k), v: v})
	})
	return ms
}

// object compiles a filter object: its keys are ANDed.
func (c *compiler) object(o *fastjson.Object, depth int) (node, error) {
	if depth > MaxDepth {
		return node{}, &Error{Reason: fmt.Sprintf("filter nests deeper than %d levels; flatten $and/$or/$nor", MaxDepth)}
	}
	and := node{op: OpAnd}
	for _, m := range members(o) {
		var n node
		var err error
		if strings.HasPrefix(m.key, "$") {
			n, err = c.logical(m.key, m.v, depth)
		} else {
			n, err = c.field(m.key, m.v)
		}
		if err != nil {
			return node{}, err
		}
		and.addAnd(n)
	}
	if len(and.kids) == 1 {
		return and.kids[0], nil
	}
	return and, nil
}

// addAnd appends n to the AND node a, flattening nested ANDs.
func (a *node) addAnd(n node) {
	if n.op == OpAnd {
		a.kids = append(a.kids, n.kids...)
		return
	}
	a.kids = append(a.kids, n)
}

func (c *compiler) logical(key string, v *fastjson.Value, depth int) (node, error) {
	op, ok := parseOp(key)
	if !ok {
		return node{}, &Error{Op: key, Reason: fmt.Sprintf("unknown operator %q; at the top of a filter use $and, $or, $nor or a field name", key)}
	}
	if op&opsLogical == 0 {
		return node{}, &Error{Op: key, Reason: fmt.Sprintf(`operator %s must be applied to a field: {"field": {%q: value}}`, op, key)}
	}
	arr, err := v.Array()
	if err != nil || len(arr) == 0 {
		return node{}, &Error{Op: key, Reason: fmt.Sprintf("%s needs a non-empty array of filters, not %s", op, describe(v))}
	}
	n := node{op: op}
	for _, e := range arr {
		o, err := e.Object()
		if err != nil {
			return node{}, &Error{Op: key, Reason: fmt.Sprintf("%s needs an array of filter objects; got %s", op, describe(e))}
		}
		k, err := c.object(o, depth+1)
		if err != nil {
			return node{}, err
		}
		if op == OpAnd {
			n.addAnd(k)
		} else {
			n.kids = append(n.kids, k)
		}
	}
	if op == OpAnd && len(n.kids) == 1 {
		return n.kids[0], nil
	}
	return n, nil
}

func (c *compiler) field(key string, v *fastjson.Value) (node, error) {
	f, ok := c.s.Field(key)
	if !ok {
		return node{}, &Error{Field: key, Reason: fmt.Sprintf("unknown field; %s can be filtered by %s", c.s.Entity, c.s.fieldNames())}
	}
	if v.Type() != fastjson.TypeObject {
		return c.leaf(f, "$eq", OpEq, v)
	}
	o, _ := v.Object()
	ms := members(o)
	if len(ms) == 0 {
		return node{}, &Error{Field: key, Reason: `empty object; use a value or an operator such as {"$eq": value}`}
	}
	ops := 0
	for _, m := range ms {
		if strings.HasPrefix(m.key, "$") {
			ops++
		}
	}
	if ops == 0 {
		return node{}, &Error{Field: key, Reason: fmt.Sprintf(`objects cannot be compared; match a nested key with a dotted path such as "%s.%s"`, key, ms[0].key)}
	}
	if ops != len(ms) {
		return node{}, &Error{Field: key, Reason: `mixes operators and plain keys; use either {"$op": value, ...} or a dotted path`}
	}
	and := node{op: OpAnd}
	for _, m := range ms {
		op, ok := parseOp(m.key)
		if !ok {
			return node{}, &Error{Field: key, Op: m.key, Reason: fmt.Sprintf("unknown operator %q; use one of %s", m.key, f.Ops)}
		}
		n, err := c.leaf(f, m.key, op, m.v)
		if err != nil {
			return node{}, err
		}
		and.kids = append(and.kids, n)
	}
	if len(and.kids) == 1 {
		return and.kids[0], nil
	}
	return and, nil
}

func (c *compiler) leaf(f Field, opName string, op Op, v *fastjson.Value) (node, error) {
	errf := func(format string, args ...any) error {
		return &Error{Field: f.Name, Op: opName, Reason: fmt.Sprintf(format, args...)}
	}
	if op&opsLogical != 0 {
		return node{}, errf(`%s cannot be used inside a field; write {%q: [{%q: ...}, ...]}`, op, opName, f.Name)
	}
	if !f.Ops.Has(op) {
		return node{}, errf("operator %s is not supported on this field; use one of %s", op, f.Ops)
	}
	c.conditions++
	if c.conditions > MaxConditions {
		return node{}, errf("filter has more than %d conditions", MaxConditions)
	}
	n := node{op: op, name: f.Name, source: f.Source, kind: f.Kind}
	var err error
	switch op {
	case OpExists:
		switch v.Type() {
		case fastjson.TypeTrue:
			n.arg = operand{kind: KindBool, b: true}
		case fastjson.TypeFalse:
			n.arg = operand{kind: KindBool}
		default:
			return node{}, errf("%s needs true or false, not %s", op, describe(v))
		}
	case OpIn, OpNin:
		arr, aerr := v.Array()
		if aerr != nil {
			return node{}, errf("%s needs an array of %s values, not %s", op, elemKind(f.Kind), describe(v))
		}
		if len(arr) > MaxInValues {
			return node{}, errf("%s has %d values; the limit is %d", op, len(arr), MaxInValues)
		}
		n.args = make([]operand, len(arr))
		strs := 0
		for i, e := range arr {
			if n.args[i], err = scalar(f, op, e); err != nil {
				return node{}, err
			}
			if n.args[i].kind == KindString {
				strs++
			}
		}
		if strs > setThreshold {
			n.set = make(map[string]struct{}, strs)
			for i := range n.args {
				if n.args[i].kind == KindString {
					n.set[n.args[i].str] = struct{}{}
				}
			}
		}
	case OpEq, OpNe:
		switch {
		case v.Type() == fastjson.TypeNull:
			n.arg = operand{kind: kindNull}
		case v.Type() == fastjson.TypeArray && (f.Kind == KindStringList || f.Kind == KindAny):
			arr, _ := v.Array()
			if len(arr) > MaxInValues {
				return node{}, errf("%s has %d values; the limit is %d", op, len(arr), MaxInValues)
			}
			n.arg = operand{kind: kindArray, list: make([]operand, len(arr))}
			for i, e := range arr {
				if n.arg.list[i], err = scalar(f, op, e); err != nil {
					return node{}, err
				}
			}
		default:
			if n.arg, err = scalar(f, op, v); err != nil {
				return node{}, err
			}
		}
	case OpContains:
		if n.arg, err = scalar(f, op, v); err != nil {
			return node{}, err
		}
		if (f.Kind == KindString || f.Kind == KindTime) && n.arg.kind != KindString {
			return node{}, errf("%s needs a string, not %s", op, describe(v))
		}
	case OpAutocomplete:
		if v.Type() != fastjson.TypeString {
			return node{}, errf("%s needs a string, not %s", op, describe(v))
		}
		sb, _ := v.StringBytes()
		q := strings.ToLower(strings.TrimSpace(string(sb)))
		if q == "" {
			return node{}, errf("%s needs a non-empty string", op)
		}
		n.arg = operand{kind: KindString, str: q}
	default: // $gt $gte $lt $lte
		if n.arg, err = scalar(f, op, v); err != nil {
			return node{}, err
		}
	}
	return n, nil
}

func elemKind(k Kind) string {
	switch k {
	case KindStringList:
		return "string"
	case KindTime:
		return "RFC 3339 time string"
	case KindAny:
		return "string, number or bool"
	default:
		return k.String()
	}
}

func article(noun string) string {
	if strings.HasPrefix(noun, "RFC") {
		return "an"
	}
	return "a"
}

// scalar compiles one value for field f; its type must suit f's kind.
func scalar(f Field, op Op, v *fastjson.Value) (operand, error) {
	wrong := func() (operand, error) {
		return operand{}, &Error{Field: f.Name, Op: op.String(), Reason: fmt.Sprintf("%s needs %s %s value, not %s", op, article(elemKind(f.Kind)), elemKind(f.Kind), describe(v))}
	}
	switch f.Kind {
	case KindString, KindStringList:
		sb, err := v.StringBytes()
		if err != nil {
			return wrong()
		}
		return operand{kind: KindString, str: string(sb)}, nil
	case KindBool:
		switch v.Type() {
		case fastjson.TypeTrue:
			return operand{kind: KindBool, b: true}, nil
		case fastjson.TypeFalse:
			return operand{kind: KindBool}, nil
		}
		return wrong()
	case KindNumber:
		x, err := v.Float64()
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return wrong()
		}
		return operand{kind: KindNumber, num: x}, nil
	case KindTime:
		sb, err := v.StringBytes()
		if err != nil {
			return wrong()
		}
		t, err := ParseTime(string(sb))
		if err != nil {
			return operand{}, &Error{Field: f.Name, Op: op.String(), Reason: timeReason(string(sb), err)}
		}
		return operand{kind: KindTime, t: t}, nil
	default: // KindAny
		switch v.Type() {
		case fastjson.TypeString:
			sb, _ := v.StringBytes()
			return operand{kind: KindString, str: string(sb)}, nil
		case fastjson.TypeNumber:
			x, err := v.Float64()
			if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
				return wrong()
			}
			return operand{kind: KindNumber, num: x}, nil
		case fastjson.TypeTrue:
			return operand{kind: KindBool, b: true}, nil
		case fastjson.TypeFalse:
			return operand{kind: KindBool}, nil
		}
		return wrong()
	}
}

// describe renders v for an error message: its type and a short excerpt.
func describe(v *fastjson.Value) string {
	var t string
	switch v.Type() {
	case fastjson.TypeNull:
		return "null"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		t = "bool"
	case fastjson.TypeString:
		t = "string"
	case fastjson.TypeNumber:
		t = "number"
	case fastjson.TypeArray:
		t = "array"
	case fastjson.TypeObject:
		t = "object"
	}
	s := v.String()
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return t + " " + s
}
