package engine

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTemplateRender(t *testing.T) {
	vars := &TemplateVars{
		Sender:   []byte(`{"id":"admin","name":"The Admin","role":"admin"}`),
		Receiver: []byte(`{"id":"u1","name":"Jo \"J\" \u00e9\ud83d\ude00","age":42,"vip":true,"address":{"city":"Paris","zip":null},"tags":["a","b"]}`),
		Channel:  []byte(`{"id":"c1","type":"messaging","cid":"messaging:c1","color":"red"}`),
	}
	f := func(src, want string) {
		t.Helper()
		tpl, err := CompileTemplate("message_template.text", src, ScopeSender|ScopeReceiver|ScopeChannel)
		if err != nil {
			t.Fatalf("cannot compile %q: %s", src, err)
		}
		if got := tpl.Render(vars); got != want {
			t.Fatalf("unexpected render of %q; got %q; want %q", src, got, want)
		}
		if got := string(tpl.Append([]byte("x"), vars)); got != "x"+want {
			t.Fatalf("unexpected Append of %q; got %q; want %q", src, got, "x"+want)
		}
	}
	f("", "")
	f("no tags", "no tags")
	f("Hello {{receiver.name}}!", `Hello Jo "J" é😀!`)
	f("Hello {{ receiver.name }}!", `Hello Jo "J" é😀!`)
	f("{{  sender.name\t}} says hi to {{receiver.id}}", "The Admin says hi to u1")
	f("{{receiver.id}}-{{sender.id}}", "u1-admin")
	f("age {{ receiver.age }} vip {{ receiver.vip }}", "age 42 vip true")
	f("city {{ receiver.address.city }}", "city Paris")
	f("zip [{{ receiver.address.zip }}]", "zip []")
	f("missing [{{ receiver.nope }}] [{{ receiver.address.nope }}] [{{ receiver.name.x }}]", "missing [] [] []")
	f("tags {{ receiver.tags }}", `tags ["a","b"]`)
	f("{{ channel.id }} {{ channel.color }} {{channel.cid}}", "c1 red messaging:c1")
	f("same {{receiver.id}} {{ receiver.id }}", "same u1 u1")
	f("braces } }} {", "braces } }} {")
	f("{{sender.id}}}", "admin}")

	// Missing objects render empty.
	tpl, err := CompileTemplate("f", "[{{ receiver.name }}]", ScopeReceiver)
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.Render(&TemplateVars{}); got != "[]" {
		t.Fatalf("unexpected render without receiver; got %q; want %q", got, "[]")
	}
	if !tpl.Uses(ScopeReceiver) || tpl.Uses(ScopeSender|ScopeChannel) {
		t.Fatalf("unexpected scopes %d", tpl.scope)
	}
}

func TestTemplateCompileErrors(t *testing.T) {
	f := func(src string, allowed int, wantSubstr string) {
		t.Helper()
		_, err := CompileTemplate("message_template.text", src, allowed)
		if err == nil {
			t.Fatalf("expected an error for %q", src)
		}
		e, ok := AsError(err)
		if !ok || e.Code != CodeInput || e.Fields["message_template.text"] == "" {
			t.Fatalf("unexpected error for %q: %#v", src, err)
		}
		if !strings.Contains(e.Msg, wantSubstr) {
			t.Fatalf("unexpected message for %q; got %q; want it to contain %q", src, e.Msg, wantSubstr)
		}
	}
	all := ScopeSender | ScopeReceiver | ScopeChannel
	f("Hello {{ receiver.name", all, "without a closing")
	f("Hello {{ }}", all, "empty tag")
	f("Hello {{ user.name }}", all, "unknown variable")
	f("Hello {{ custom }}", all, "unknown variable")
	f("Hello {{ receiver }}", all, "name a field")
	f("Hello {{ receiver. }}", all, "name a field")
	f("Hello {{ receiver..x }}", all, "name a field")
	f("Hello {{ receiver.first name }}", all, "name a field")
	f("Hello {{ receiver.name }}", ScopeSender|ScopeChannel, "only available when the campaign targets users")
	f("{{ channel.id }}", ScopeSender|ScopeReceiver, "channel is not available")
	f(strings.Repeat("x", MaxTemplateLength+1), all, "maximum")
}

func TestTemplateRenderAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	tpl, err := CompileTemplate("f", "Hi {{ receiver.name }}, {{sender.name}} here ({{ receiver.address.city }})", ScopeSender|ScopeReceiver)
	if err != nil {
		t.Fatal(err)
	}
	vars := &TemplateVars{
		Sender:   []byte(`{"id":"admin","name":"The Admin"}`),
		Receiver: []byte(`{"id":"u1","name":"Jo","address":{"city":"Paris"}}`),
	}
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(1000, func() {
		buf = tpl.Append(buf[:0], vars)
	})
	if allocs != 0 {
		t.Fatalf("unexpected allocations per render; got %v; want 0", allocs)
	}
	if string(buf) != "Hi Jo, The Admin here (Paris)" {
		t.Fatalf("unexpected render %q", buf)
	}
}

func FuzzCompileTemplate(f *testing.F) {
	for _, s := range []string{"", "Hello {{ receiver.name }}!", "{{receiver.id}}-{{sender.id}}", "{{", "}}{{ channel.a.b }}",
		"{{ x }}", "{{{ sender.id }}}", "{{sender.name}}{{sender.name}}"} {
		f.Add(s)
	}
	vars := &TemplateVars{
		Sender:   []byte(`{"id":"admin","name":"A\u0041\ud83d"}`),
		Receiver: []byte(`{"id":"u1","a":{"b":[1,2]}}`),
		Channel:  []byte(`{"id":"c","a":{"b":"\\"}}`),
	}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := CompileTemplate("f", src, ScopeSender|ScopeReceiver|ScopeChannel)
		if err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("non-client error for %q: %s", src, err)
			}
			return
		}
		out := tpl.Render(vars)
		if !strings.Contains(src, "{{") && out != src {
			t.Fatalf("a template without tags must render as is; got %q; want %q", out, src)
		}
		if n := utf8.RuneCountInString(out); n < tpl.LiteralLength() {
			t.Fatalf("render %q has %d characters, fewer than the literal length %d", out, n, tpl.LiteralLength())
		}
		for _, max := range []int{0, 3, 20} {
			got, ok := tpl.AppendLimit([]byte("x"), vars, max)
			if want := utf8.RuneCountInString(out) <= max; ok != want {
				t.Fatalf("AppendLimit(%d) of %q reported %v; the render has %d characters", max, src, ok, utf8.RuneCountInString(out))
			}
			if want := "x"; ok {
				want += out
				if string(got) != want {
					t.Fatalf("AppendLimit(%d) of %q; got %q; want %q", max, src, got, want)
				}
			} else if string(got) != want {
				t.Fatalf("a refused AppendLimit(%d) of %q left %q; want %q", max, src, got, want)
			}
		}
	})
}

// TestTemplateAppendLimit: a render longer than the limit is refused with bounded work and memory,
// whatever the template and the data (a 17 KB template of receiver tags over a 100 KB name
// rendered 100 MB texts before); a render within it is Append's.
func TestTemplateAppendLimit(t *testing.T) {
	name := strings.Repeat("n", 100<<10)
	vars := &TemplateVars{Receiver: []byte(`{"id":"u1","name":"` + name + `","e":"éé"}`)}
	f := func(src string, max int, wantOK bool) {
		t.Helper()
		tpl, err := CompileTemplate("message_template.text", src, ScopeSender|ScopeReceiver|ScopeChannel)
		if err != nil {
			t.Fatalf("cannot compile %q: %s", src, err)
		}
		dst := make([]byte, 2, 64)
		got, ok := tpl.AppendLimit(dst, vars, max)
		if ok != wantOK {
			t.Fatalf("unexpected ok for %.40q, max %d; got %v; want %v", src, max, ok, wantOK)
		}
		if !ok {
			if len(got) != 2 {
				t.Fatalf("a refused render left %d bytes; want the 2 given", len(got))
			}
			// Work and memory: the buffer grew to hold at most 4×max bytes plus one tag's value
			// (twice that with append's growth), not the whole render.
			if cap(got) > 2*(4*max+len(name)) && cap(got) > 64 {
				t.Fatalf("a refused render of %.40q grew the buffer to %d bytes", src, cap(got))
			}
			return
		}
		if want := string(tpl.Append(dst[:2], vars)); string(got) != want {
			t.Fatalf("AppendLimit differs from Append; got %.60q; want %.60q", got, want)
		}
	}
	f("hello", 5, true)
	f("hello", 4, false)
	f("{{receiver.e}}!", 3, true) // 3 characters, 5 bytes
	f("{{receiver.e}}!", 2, false)
	f("ééééé", 5, true)
	f("{{receiver.id}}", 0, false)
	f("{{receiver.nope}}", 0, true)
	f("Hi {{receiver.name}}", 5000, false)
	f(strings.Repeat("{{receiver.name}}", 1000), 5000, false) // 17 KB template, 100 MB render
	f(strings.Repeat("{{ receiver.id }}", 1000), 2000, true)
	f(strings.Repeat("{{ receiver.id }}", 1000), 1999, false)
}

func TestTemplateLiteralLength(t *testing.T) {
	f := func(src string, want int) {
		t.Helper()
		tpl, err := CompileTemplate("message_template.text", src, ScopeSender|ScopeReceiver|ScopeChannel)
		if err != nil {
			t.Fatalf("cannot compile %q: %s", src, err)
		}
		if got := tpl.LiteralLength(); got != want {
			t.Fatalf("unexpected literal length of %q; got %d; want %d", src, got, want)
		}
	}
	f("", 0)
	f("héllo", 5)
	f("{{receiver.name}}", 0)
	f("Hi {{ receiver.name }}, from {{sender.id}}!", 11)
	f("} {{ receiver.id }} {", 4)
}
