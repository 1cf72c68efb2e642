package engine

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/valyala/fasttemplate"

	"github.com/campaignd/campaignd/engine/filter"
)

// Template scopes: the objects a campaign template may read.
const (
	ScopeSender   = 1 << iota // {{ sender.x }}: the campaign's sender
	ScopeReceiver             // {{ receiver.x }}: the receiving user (user audiences only)
	ScopeChannel              // {{ channel.x }}: the channel the message goes to
)

// MaxTemplateLength is the longest template source accepted, in bytes.
const MaxTemplateLength = 64 << 10

// Template is a campaign template ("Hello {{ receiver.name }}!") compiled once per campaign.
//
// Tags are {{ scope.path }} with optional spaces inside the braces; scope is sender, receiver or
// channel, and path names a field of that object's wire JSON (id, name, role, ...) or, dotted, a
// value inside a custom field ({{ receiver.address.city }}). A missing value or a JSON null renders
// as nothing; a string renders unescaped; numbers, booleans, objects and arrays render as JSON.
//
// The source is normalised (spaces trimmed from tags) and parsed once by fasttemplate; Append never
// parses again. A Template is immutable and safe for concurrent use.
type Template struct {
	src     string
	ft      *fasttemplate.Template // nil when the source has no tags
	refs    map[string]tagRef      // normalised tag -> what it reads
	scope   int                    // union of the scopes used
	literal int                    // characters outside the tags
}

type tagRef struct {
	scope int
	path  string
}

// TemplateVars holds the objects a render reads, each the raw wire JSON object of the entity
// (custom fields flattened at top level), or nil when unavailable.
type TemplateVars struct {
	Sender   []byte
	Receiver []byte
	Channel  []byte
}

// CompileTemplate compiles src. field names the request field for error messages; allowed is the
// set of scopes src may use. Mistakes come back as a code-4 *Error naming field and the fix.
func CompileTemplate(field, src string, allowed int) (*Template, error) {
	if len(src) > MaxTemplateLength {
		return nil, InputError(field, "%s is %d bytes long; the maximum is %d", field, len(src), MaxTemplateLength)
	}
	t := &Template{src: src}
	var norm strings.Builder
	rest := src
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			norm.WriteString(rest)
			t.literal += utf8.RuneCountInString(rest)
			break
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, InputError(field, "%s has a %q at byte %d without a closing %q; close every tag, e.g. {{ receiver.name }}",
				field, "{{", len(src)-len(rest)+i, "}}")
		}
		inner := strings.TrimSpace(rest[i+2 : i+2+j])
		ref, err := parseTag(field, inner, allowed)
		if err != nil {
			return nil, err
		}
		if t.refs == nil {
			t.refs = make(map[string]tagRef)
		}
		t.refs[inner] = ref
		t.scope |= ref.scope
		norm.WriteString(rest[:i])
		t.literal += utf8.RuneCountInString(rest[:i])
		norm.WriteString("{{")
		norm.WriteString(inner)
		norm.WriteString("}}")
		rest = rest[i+2+j+2:]
	}
	if t.refs != nil {
		ft, err := fasttemplate.NewTemplate(norm.String(), "{{", "}}")
		if err != nil {
			// NB: cannot happen: every tag was closed above.
			return nil, InputError(field, "%s cannot be compiled: %s", field, err)
		}
		t.ft = ft
	}
	return t, nil
}

func parseTag(field, inner string, allowed int) (tagRef, error) {
	if inner == "" {
		return tagRef{}, InputError(field, "%s has an empty tag {{ }}; write {{ receiver.name }}, {{ sender.id }} or {{ channel.id }}", field)
	}
	root, path, _ := strings.Cut(inner, ".")
	var scope int
	switch root {
	case "sender":
		scope = ScopeSender
	case "receiver":
		scope = ScopeReceiver
	case "channel":
		scope = ScopeChannel
	default:
		return tagRef{}, InputError(field, "%s uses the unknown variable %q; templates can read sender.<field>, receiver.<field> and channel.<field>", field, inner)
	}
	if path == "" || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") || strings.Contains(path, "..") ||
		strings.ContainsAny(path, " \t\r\n{}") {
		return tagRef{}, InputError(field, "%s has the tag {{ %s }}; name a field of %s, e.g. {{ %s.id }} or {{ %s.name }}", field, inner, root, root, root)
	}
	if scope&allowed == 0 {
		switch scope {
		case ScopeReceiver:
			return tagRef{}, InputError(field, "%s uses {{ %s }}, but receiver is only available when the campaign targets users (user segments or user_ids); remove it or target users", field, inner)
		case ScopeChannel:
			return tagRef{}, InputError(field, "%s uses {{ %s }}, but channel is not available here; use sender or receiver fields", field, inner)
		default:
			return tagRef{}, InputError(field, "%s uses {{ %s }}, which is not available here", field, inner)
		}
	}
	return tagRef{scope: scope, path: path}, nil
}

// LiteralLength returns the number of characters outside the tags: the shortest render.
func (t *Template) LiteralLength() int { return t.literal }

// Uses reports whether the template reads any of the given scopes.
func (t *Template) Uses(scope int) bool { return t.scope&scope != 0 }

// Append renders the template with v and appends the result to dst. It does not allocate when dst
// has room.
func (t *Template) Append(dst []byte, v *TemplateVars) []byte {
	if t.ft == nil {
		return append(dst, t.src...)
	}
	w := getRenderWriter()
	w.b, w.t, w.v = dst, t, v
	_, _ = t.ft.ExecuteFunc(w, w.tagFn)
	dst = w.b
	putRenderWriter(w)
	return dst
}

// AppendLimit is Append for a render that must not exceed maxChars characters (runes): it returns
// dst with the text appended and true, or, as soon as the text is known to be longer, dst as given
// and false. The work and memory of a render that is too long are bounded by about 4×maxChars
// bytes (plus one tag's value), whatever the template and the data.
func (t *Template) AppendLimit(dst []byte, v *TemplateVars, maxChars int) ([]byte, bool) {
	start := len(dst)
	if t.ft == nil {
		if utf8.RuneCountInString(t.src) > maxChars {
			return dst, false
		}
		return append(dst, t.src...), true
	}
	w := getRenderWriter()
	// NB: a character is 1 to 4 bytes (an invalid byte counts as one character), so past
	// 4×maxChars bytes the text surely has more than maxChars characters.
	w.b, w.t, w.v, w.limit = dst, t, v, start+4*maxChars
	_, err := t.ft.ExecuteFunc(w, w.tagFn)
	dst = w.b
	putRenderWriter(w)
	if err != nil || utf8.RuneCount(dst[start:]) > maxChars {
		return dst[:start], false
	}
	return dst, true
}

// Render is Append into a new string.
func (t *Template) Render(v *TemplateVars) string {
	if t.ft == nil {
		return t.src
	}
	return string(t.Append(nil, v))
}

// renderWriter is the io.Writer and tag function of one render; pooled so that passing it as an
// interface and a func value does not allocate.
type renderWriter struct {
	b     []byte
	t     *Template
	v     *TemplateVars
	limit int // len(b) past which the render stops with errRenderTooLong; < 0 = none
	tagFn fasttemplate.TagFunc
}

// errRenderTooLong stops a render that passed its limit.
var errRenderTooLong = errors.New("engine: rendered text is too long")

var renderWriterPool sync.Pool

func getRenderWriter() *renderWriter {
	if v := renderWriterPool.Get(); v != nil {
		return v.(*renderWriter)
	}
	w := &renderWriter{limit: -1}
	w.tagFn = w.tag
	return w
}

func putRenderWriter(w *renderWriter) {
	w.b, w.t, w.v, w.limit = nil, nil, nil, -1
	renderWriterPool.Put(w)
}

func (w *renderWriter) Write(p []byte) (int, error) {
	if w.limit >= 0 && len(w.b)+len(p) > w.limit {
		return 0, errRenderTooLong
	}
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *renderWriter) tag(_ io.Writer, tag string) (int, error) {
	ref, ok := w.t.refs[tag]
	if !ok {
		panic(fmt.Sprintf("BUG: template tag %q was not compiled", tag))
	}
	var obj []byte
	switch ref.scope {
	case ScopeSender:
		obj = w.v.Sender
	case ScopeReceiver:
		obj = w.v.Receiver
	case ScopeChannel:
		obj = w.v.Channel
	}
	if len(obj) == 0 {
		return 0, nil
	}
	raw, ok := filter.LookupJSON(obj, ref.path)
	if !ok || len(raw) == 0 {
		return 0, nil
	}
	n := len(w.b)
	switch raw[0] {
	case '"':
		w.b = appendJSONUnescaped(w.b, raw)
	case 'n':
		// null renders as nothing.
	default:
		w.b = append(w.b, raw...)
	}
	if w.limit >= 0 && len(w.b) > w.limit {
		return len(w.b) - n, errRenderTooLong
	}
	return len(w.b) - n, nil
}

// appendJSONUnescaped appends the contents of the JSON string literal raw (quotes included),
// decoding escapes. A malformed escape (never stored: custom fields are validated JSON) is copied as is.
func appendJSONUnescaped(dst, raw []byte) []byte {
	if len(raw) < 2 {
		return dst
	}
	n := len(dst)
	if out, ok := filter.AppendUnescaped(dst, raw[1:len(raw)-1]); ok {
		return out
	}
	return append(dst[:n], raw[1:len(raw)-1]...)
}
