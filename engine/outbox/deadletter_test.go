package outbox

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/campaignd/campaignd/storage"
)

func TestDeadLetterCodec(t *testing.T) {
	f := func(d DeadLetter) {
		t.Helper()
		var got DeadLetter
		if err := got.unmarshal(d.marshal(nil)); err != nil {
			t.Fatalf("cannot decode %+v: %s", d, err)
		}
		if !got.DeadAt.Equal(d.DeadAt) {
			t.Fatalf("unexpected dead_at; got %s; want %s", got.DeadAt, d.DeadAt)
		}
		got.DeadAt = d.DeadAt
		if len(got.Event.JSON) == 0 && len(d.Event.JSON) == 0 {
			got.Event.JSON = d.Event.JSON
		}
		if !reflect.DeepEqual(got, d) {
			t.Fatalf("unexpected round trip; got %+v; want %+v", got, d)
		}
	}
	f(DeadLetter{DeadAt: time.Unix(0, 0)})
	f(DeadLetter{Attempts: 7, LastError: "HTTP 404", DeadAt: time.Date(2026, 11, 25, 10, 0, 0, 123, time.UTC),
		Event: storage.OutboxEvent{ID: "e", Type: "message.new", Key: "k", Receivers: []string{"u"}, JSON: []byte(`{"x":1}`)}})

	var d DeadLetter
	if err := d.unmarshal([]byte{9}); err == nil {
		t.Fatalf("expected an error for an unknown version")
	}
	full := (&DeadLetter{Attempts: 1, LastError: "x", Event: storage.OutboxEvent{ID: "e", JSON: []byte("{}")}}).marshal(nil)
	for i := range len(full) {
		if err := d.unmarshal(full[:i]); err == nil {
			t.Fatalf("expected an error decoding %d of %d bytes", i, len(full))
		}
	}
}

func FuzzDeadLetterCodec(f *testing.F) {
	f.Add((&DeadLetter{Attempts: 3, LastError: "HTTP 500", DeadAt: time.Unix(1, 2),
		Event: storage.OutboxEvent{ID: "e", Type: "t", JSON: []byte("{}")}}).marshal(nil))
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, src []byte) {
		var d DeadLetter
		if err := d.unmarshal(src); err != nil {
			return
		}
		b := d.marshal(nil)
		var again DeadLetter
		if err := again.unmarshal(b); err != nil {
			t.Fatalf("cannot decode a re-encoded dead letter %+v: %s", d, err)
		}
		if !bytes.Equal(again.marshal(nil), b) {
			t.Fatalf("encoding is not stable for %+v", d)
		}
	})
}
