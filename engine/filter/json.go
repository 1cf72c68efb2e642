package filter

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/campaignd/campaignd/internal/bytesconv"
)

// LookupJSON returns the raw JSON value stored under path in obj, a JSON
// object such as a record's custom fields. The result aliases obj and has no
// surrounding spaces.
//
// path is first looked up as one key; if there is no such key and path holds
// dots, the part before the first dot must name a nested object in which the
// rest is looked up the same way: "address.city" finds {"address":{"city":"Oslo"}}
// and {"address.city":"Oslo"}, but not {"a.b":{"c":1}} for "a.b.c" (each level
// is at most two scans). Keys may contain JSON escapes. When a key repeats,
// the first one wins.
//
// LookupJSON scans obj without building anything and does not allocate unless
// a key in obj holds escapes longer than 128 bytes. obj is expected to be valid
// JSON (records validate custom data when written); on malformed input the
// result is unspecified but LookupJSON never panics.
func LookupJSON(obj []byte, path string) ([]byte, bool) {
	for {
		n := strings.IndexByte(path, '.')
		if n < 0 {
			return lookupKey(obj, path)
		}
		raw, sub, ok := lookupKeyOrPrefix(obj, path, path[:n])
		if ok {
			return raw, true
		}
		if len(sub) == 0 || sub[0] != '{' {
			return nil, false
		}
		obj, path = sub, path[n+1:]
	}
}

// ObjectMembers returns the members of the raw JSON object obj ("{...}", as records keep custom
// data) without its braces and leading spaces, or nil when it has none (empty, "{}", "{ }" or not
// an object). The result aliases obj.
func ObjectMembers(obj []byte) []byte {
	if len(obj) <= 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return nil
	}
	inner := obj[1 : len(obj)-1]
	if i := skipWS(inner, 0); i < len(inner) {
		return inner[i:]
	}
	return nil
}

// EachMember calls fn for each member of the raw JSON object obj, in order, with its decoded key
// and the member's raw bytes (`"key":value`, spaces inside kept). It stops at the end of obj or at
// the first malformed member. NB: key aliases obj when it holds no escapes: fn must not keep it.
func EachMember(obj []byte, fn func(key string, member []byte)) {
	b := obj
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return
	}
	i++
	for {
		i = skipWS(b, i)
		if i >= len(b) || b[i] != '"' {
			return
		}
		start := i
		ke, _ := scanString(b, i)
		if ke < 0 {
			return
		}
		key, ok := rawString(b[i:ke])
		if !ok {
			return
		}
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return
		}
		ve := skipValue(b, skipWS(b, i+1))
		if ve < 0 {
			return
		}
		fn(key, b[start:ve])
		i = skipWS(b, ve)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i++
	}
}

// lookupKey returns the value of key in the JSON object obj.
func lookupKey(b []byte, key string) ([]byte, bool) {
	raw, _, ok := lookupKeyOrPrefix(b, key, "")
	return raw, ok
}

// lookupKeyOrPrefix scans the JSON object b once for key. When key is absent
// it returns, as sub, the value of the first key equal to prefix (if prefix is
// not empty), so dotted paths need one scan per level.
func lookupKeyOrPrefix(b []byte, key, prefix string) (raw, sub []byte, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, nil, false
	}
	i++
	for {
		i = skipWS(b, i)
		if i >= len(b) || b[i] != '"' {
			return nil, sub, false
		}
		ke, esc := scanString(b, i)
		if ke < 0 {
			return nil, nil, false
		}
		keyRaw := b[i+1 : ke-1]
		var match, matchPrefix bool
		if !esc {
			match = string(keyRaw) == key
			matchPrefix = prefix != "" && sub == nil && string(keyRaw) == prefix
		} else {
			match = unescapedEqual(keyRaw, key)
			matchPrefix = prefix != "" && sub == nil && unescapedEqual(keyRaw, prefix)
		}
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return nil, nil, false
		}
		i = skipWS(b, i+1)
		vs := i
		ve := skipValue(b, i)
		if ve < 0 {
			return nil, nil, false
		}
		if match {
			return b[vs:ve], nil, true
		}
		if matchPrefix {
			sub = b[vs:ve]
		}
		i = skipWS(b, ve)
		if i >= len(b) || b[i] != ',' {
			return nil, sub, false
		}
		i++
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString returns the index just past the JSON string starting at b[i]
// (which must be '"') and whether it holds escapes; -1 if it is unterminated.
// NB: a byte loop beats bytes.IndexByte here: keys and values are short.
func scanString(b []byte, i int) (int, bool) {
	esc := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc
		}
	}
	return -1, esc
}

// skipValue returns the index just past the JSON value starting at b[i], or -1.
// It does not validate containers beyond bracket balance.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; c {
	case '"':
		e, _ := scanString(b, i)
		return e
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				e, _ := scanString(b, i)
				if e < 0 {
					return -1
				}
				i = e
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default:
		j := i
		for j < len(b) && isLiteralByte(b[j]) {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

func isLiteralByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '+' || c == '.'
}

// unescapedEqual reports whether the JSON string content raw (with escapes)
// decodes to s.
func unescapedEqual(raw []byte, s string) bool {
	var tmp [128]byte
	dec, ok := appendUnescaped(tmp[:0], raw)
	return ok && string(dec) == s
}

// AppendUnescaped appends the decoded content of a JSON string to dst; raw is the content between the
// quotes, escapes included. It reports false for a malformed escape. It does not allocate beyond dst.
func AppendUnescaped(dst, raw []byte) ([]byte, bool) { return appendUnescaped(dst, raw) }

// appendUnescaped appends the decoded JSON string content raw to dst.
func appendUnescaped(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(raw) {
			return dst, false
		}
		switch raw[i] {
		case '"', '\\', '/':
			dst = append(dst, raw[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(raw, i+1)
			if !ok {
				return dst, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					r2, ok = hex4(raw, i+3)
				}
				if ok {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, false
		}
	}
	return dst, true
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// rawString decodes the JSON string raw. NB: when raw holds no escapes the
// result aliases raw (no copy); callers use it only for the comparison at hand
// and never keep it.
func rawString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	c := raw[1 : len(raw)-1]
	for _, x := range c {
		if x == '\\' {
			dec, ok := appendUnescaped(make([]byte, 0, len(c)), c)
			return string(dec), ok
		}
	}
	return bytesconv.UnsafeString(c), true
}

// rawNumber parses the JSON number raw.
func rawNumber(raw []byte) (float64, bool) {
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(bytesconv.UnsafeString(raw), 64)
	return f, err == nil
}

// arrayIter walks the elements of a raw JSON array without allocating.
type arrayIter struct {
	b []byte
	i int
}

func newArrayIter(raw []byte) (arrayIter, bool) {
	if len(raw) == 0 || raw[0] != '[' {
		return arrayIter{}, false
	}
	return arrayIter{b: raw, i: 1}, true
}

// next returns the next element, or false at the end (or on malformed input).
func (it *arrayIter) next() ([]byte, bool) {
	b := it.b
	i := skipWS(b, it.i)
	if i >= len(b) || b[i] == ']' {
		it.i = len(b)
		return nil, false
	}
	e := skipValue(b, i)
	if e < 0 {
		it.i = len(b)
		return nil, false
	}
	j := skipWS(b, e)
	if j < len(b) && b[j] == ',' {
		j++
	}
	it.i = j
	return b[i:e], true
}
