package filter

import (
	"cmp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Match reports whether d satisfies the filter. It calls d.Field once per
// field condition and does not allocate unless a custom string value holds
// JSON escapes. A nil Filter matches everything.
func (f *Filter) Match(d Doc) bool {
	if f == nil {
		return true
	}
	return f.root.match(d)
}

// IsEmpty reports whether the filter has no conditions and so matches every record.
func (f *Filter) IsEmpty() bool {
	return f == nil || f.root.op == OpAnd && len(f.root.kids) == 0
}

func (n *node) match(d Doc) bool {
	switch n.op {
	case OpAnd:
		for i := range n.kids {
			if !n.kids[i].match(d) {
				return false
			}
		}
		return true
	case OpOr:
		for i := range n.kids {
			if n.kids[i].match(d) {
				return true
			}
		}
		return false
	case OpNor:
		for i := range n.kids {
			if n.kids[i].match(d) {
				return false
			}
		}
		return true
	}
	v, ok := d.Field(n.source)
	if ok && v.Kind == KindInvalid {
		ok = false
	}
	switch n.op {
	case OpExists:
		return ok == n.arg.b
	case OpEq:
		if !ok {
			return n.arg.kind == kindNull
		}
		return n.eq(&v)
	case OpNe:
		if !ok {
			return n.arg.kind != kindNull
		}
		return !n.eq(&v)
	case OpIn:
		return ok && n.in(&v)
	case OpNin:
		return !ok || !n.in(&v)
	case OpContains:
		return ok && n.contains(&v)
	case OpAutocomplete:
		return ok && n.autocomplete(&v)
	case OpGt, OpGte, OpLt, OpLte:
		return ok && n.order(&v)
	}
	return false
}

// eq reports whether v equals n.arg: for a list, whether the list holds it
// (or, for an array operand, whether the list has exactly those elements in
// any order); for a custom JSON array, whether an element equals it (or, for
// an array operand, whether the arrays are equal element by element).
func (n *node) eq(v *Value) bool {
	o := &n.arg
	switch v.Kind {
	case KindStringList:
		if o.kind == kindArray {
			return sameSet(v.List, o.list)
		}
		return o.kind == KindString && listHas(v.List, o.str)
	case KindAny:
		if len(v.Raw) > 0 && v.Raw[0] == '[' {
			if o.kind == kindArray {
				return rawArrayEqual(v.Raw, o.list)
			}
			return rawArrayHas(v.Raw, o)
		}
		c, ok := rawCompare(v.Raw, o)
		return ok && c == 0
	}
	c, ok := compare(v, o)
	return ok && c == 0
}

// in reports whether v equals any of n.args (any element of v, for lists).
func (n *node) in(v *Value) bool {
	switch v.Kind {
	case KindString:
		if n.set != nil {
			_, ok := n.set[v.Str]
			return ok
		}
		for i := range n.args {
			if a := &n.args[i]; a.kind == KindString && a.str == v.Str {
				return true
			}
		}
		return false
	case KindStringList:
		for _, s := range v.List {
			if n.inString(s) {
				return true
			}
		}
		return false
	case KindAny:
		if len(v.Raw) > 0 && v.Raw[0] == '[' {
			it, _ := newArrayIter(v.Raw)
			for e, ok := it.next(); ok; e, ok = it.next() {
				if n.inRaw(e) {
					return true
				}
			}
			return false
		}
		return n.inRaw(v.Raw)
	}
	for i := range n.args {
		if c, ok := compare(v, &n.args[i]); ok && c == 0 {
			return true
		}
	}
	return false
}

func (n *node) inString(s string) bool {
	if n.set != nil {
		_, ok := n.set[s]
		return ok
	}
	for i := range n.args {
		if a := &n.args[i]; a.kind == KindString && a.str == s {
			return true
		}
	}
	return false
}

func (n *node) inRaw(raw []byte) bool {
	if n.set != nil && len(raw) > 0 && raw[0] == '"' {
		s, ok := rawString(raw)
		return ok && n.inString(s)
	}
	for i := range n.args {
		if c, ok := rawCompare(raw, &n.args[i]); ok && c == 0 {
			return true
		}
	}
	return false
}

// order applies $gt/$gte/$lt/$lte; on lists and arrays, to any element.
func (n *node) order(v *Value) bool {
	switch v.Kind {
	case KindStringList:
		for _, s := range v.List {
			if n.arg.kind == KindString && n.holds(strings.Compare(s, n.arg.str)) {
				return true
			}
		}
		return false
	case KindAny:
		if len(v.Raw) > 0 && v.Raw[0] == '[' {
			it, _ := newArrayIter(v.Raw)
			for e, ok := it.next(); ok; e, ok = it.next() {
				if c, ok := rawCompare(e, &n.arg); ok && n.holds(c) {
					return true
				}
			}
			return false
		}
		c, ok := rawCompare(v.Raw, &n.arg)
		return ok && n.holds(c)
	}
	c, ok := compare(v, &n.arg)
	return ok && n.holds(c)
}

// holds reports whether comparison result c (value vs operand) satisfies n.op.
func (n *node) holds(c int) bool {
	switch n.op {
	case OpGt:
		return c > 0
	case OpGte:
		return c >= 0
	case OpLt:
		return c < 0
	case OpLte:
		return c <= 0
	}
	return false
}

// contains applies $contains: substring of a string, element of a list or array.
func (n *node) contains(v *Value) bool {
	o := &n.arg
	switch v.Kind {
	case KindString:
		return o.kind == KindString && strings.Contains(v.Str, o.str)
	case KindStringList:
		return o.kind == KindString && listHas(v.List, o.str)
	case KindAny:
		if len(v.Raw) == 0 {
			return false
		}
		switch v.Raw[0] {
		case '"':
			s, ok := rawString(v.Raw)
			return ok && o.kind == KindString && strings.Contains(s, o.str)
		case '[':
			return rawArrayHas(v.Raw, o)
		}
	}
	return false
}

// autocomplete applies $autocomplete: the (lowercased) operand is a prefix of
// a word of the value, ignoring case. A word starts at the beginning of the
// value or after any rune that is not a letter or digit.
func (n *node) autocomplete(v *Value) bool {
	switch v.Kind {
	case KindString:
		return wordPrefix(v.Str, n.arg.str)
	case KindStringList:
		for _, s := range v.List {
			if wordPrefix(s, n.arg.str) {
				return true
			}
		}
	case KindAny:
		if len(v.Raw) > 0 && v.Raw[0] == '"' {
			s, ok := rawString(v.Raw)
			return ok && wordPrefix(s, n.arg.str)
		}
	}
	return false
}

func wordPrefix(s, q string) bool {
	if hasPrefixFold(s, q) {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		word := false
		if c < utf8.RuneSelf {
			word = isASCIIWord(c)
			i++
		} else {
			r, w := utf8.DecodeRuneInString(s[i:])
			word = unicode.IsLetter(r) || unicode.IsDigit(r)
			i += w
		}
		if !word && hasPrefixFold(s[i:], q) {
			return true
		}
	}
	return false
}

func isASCIIWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// hasPrefixFold reports whether s starts with q ignoring case; q is lowercase.
func hasPrefixFold(s, q string) bool {
	for q != "" {
		if s == "" {
			return false
		}
		if s[0] < utf8.RuneSelf && q[0] < utf8.RuneSelf {
			c := s[0]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != q[0] {
				return false
			}
			s, q = s[1:], q[1:]
			continue
		}
		r1, n1 := utf8.DecodeRuneInString(s)
		r2, n2 := utf8.DecodeRuneInString(q)
		if unicode.ToLower(r1) != r2 {
			return false
		}
		s, q = s[n1:], q[n2:]
	}
	return true
}

// compare compares a typed value with an operand of the same kind.
func compare(v *Value, o *operand) (int, bool) {
	switch v.Kind {
	case KindString:
		if o.kind == KindString {
			return strings.Compare(v.Str, o.str), true
		}
	case KindNumber:
		if o.kind == KindNumber {
			return cmp.Compare(v.Num, o.num), true
		}
	case KindBool:
		if o.kind == KindBool {
			return cmpBool(v.Bool, o.b), true
		}
	case KindTime:
		if o.kind == KindTime {
			return cmp.Compare(v.Time, o.t), true
		}
	case KindAny:
		return rawCompare(v.Raw, o)
	}
	return 0, false
}

// rawCompare compares the JSON scalar raw with o. Only like types compare:
// strings with strings, numbers with numbers, bools with bools, null with null.
func rawCompare(raw []byte, o *operand) (int, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	switch c := raw[0]; {
	case c == '"':
		if o.kind != KindString {
			return 0, false
		}
		s, ok := rawString(raw)
		return strings.Compare(s, o.str), ok
	case c == '-' || c >= '0' && c <= '9':
		if o.kind != KindNumber {
			return 0, false
		}
		x, ok := rawNumber(raw)
		return cmp.Compare(x, o.num), ok
	case c == 't' || c == 'f':
		if o.kind != KindBool {
			return 0, false
		}
		return cmpBool(c == 't', o.b), true
	case c == 'n':
		return 0, o.kind == kindNull
	}
	return 0, false
}

func rawArrayHas(raw []byte, o *operand) bool {
	it, ok := newArrayIter(raw)
	if !ok {
		return false
	}
	for e, ok := it.next(); ok; e, ok = it.next() {
		if c, ok := rawCompare(e, o); ok && c == 0 {
			return true
		}
	}
	return false
}

func rawArrayEqual(raw []byte, list []operand) bool {
	it, ok := newArrayIter(raw)
	if !ok {
		return false
	}
	i := 0
	for e, ok := it.next(); ok; e, ok = it.next() {
		if i >= len(list) {
			return false
		}
		if c, ok := rawCompare(e, &list[i]); !ok || c != 0 {
			return false
		}
		i++
	}
	return i == len(list)
}

func listHas(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sameSet reports whether list and ops hold the same strings, in any order.
func sameSet(list []string, ops []operand) bool {
	for _, s := range list {
		found := false
		for i := range ops {
			if ops[i].kind == KindString && ops[i].str == s {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for i := range ops {
		if !listHas(list, ops[i].str) {
			return false
		}
	}
	return true
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// IDs returns the only values field can hold in a matching record, when the
// filter says so: when the filter's top-level conjunction (its keys and any
// nested $and) holds `field: x`, `field: {"$eq": x}` or `field: {"$in": [...]}`
// on a string field. Several such conditions intersect. The result is a new
// slice, deduplicated, in filter order; it may be empty (nothing can match).
// Callers use it to fetch records by key instead of scanning, and must still
// call Match on each fetched record. ok is false when the filter does not pin
// field down.
func (f *Filter) IDs(field string) (ids []string, ok bool) {
	if f == nil {
		return nil, false
	}
	var cur []string
	found := false
	var walk func(n *node)
	walk = func(n *node) {
		if n.op == OpAnd {
			for i := range n.kids {
				walk(&n.kids[i])
			}
			return
		}
		if n.name != field || n.kind != KindString {
			return
		}
		var vals []string
		switch {
		case n.op == OpEq && n.arg.kind == KindString:
			vals = []string{n.arg.str}
		case n.op == OpIn:
			vals = make([]string, 0, len(n.args))
			for i := range n.args {
				vals = append(vals, n.args[i].str)
			}
		default:
			return
		}
		if !found {
			found = true
			seen := make(map[string]struct{}, len(vals))
			cur = make([]string, 0, len(vals))
			for _, v := range vals {
				if _, dup := seen[v]; !dup {
					seen[v] = struct{}{}
					cur = append(cur, v)
				}
			}
			return
		}
		keep := make(map[string]struct{}, len(vals))
		for _, v := range vals {
			keep[v] = struct{}{}
		}
		out := cur[:0]
		for _, v := range cur {
			if _, ok := keep[v]; ok {
				out = append(out, v)
			}
		}
		cur = out
	}
	walk(&f.root)
	return cur, found
}
