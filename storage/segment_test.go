package storage

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleSegments() []Segment {
	return []Segment{
		{ID: "s1", Type: SegmentTypeUser},
		{ID: "s2", Type: SegmentTypeUser, Name: "People in the USA", Description: "d", Filter: []byte(`{"country":"USA"}`),
			Size: 1234, Computing: true, Generation: 7, CreatedAt: 1700000000000000000, UpdatedAt: 1700000000000001000},
		{ID: "s3", Type: SegmentTypeUser, AllUsers: true, TaskID: "t", DeletedAt: 1700000000000002000},
		{ID: "é/ü", Type: SegmentTypeChannel, AllSenderChannels: true, Size: 1 << 40},
	}
}

func TestSegmentCodecRoundTrip(t *testing.T) {
	for _, s := range sampleSegments() {
		b := s.Marshal([]byte("junk"))[4:]
		var got Segment
		if err := got.Unmarshal(b); err != nil {
			t.Fatalf("cannot decode %q: %s", s.ID, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("unexpected segment;\ngot  %+v\nwant %+v", got, s)
		}
		// Decoding copies: scribbling over the source leaves the record intact.
		for i := range b {
			b[i] = 0xff
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("decoded segment aliases its source")
		}
	}
}

func TestSegmentCodecCorrupt(t *testing.T) {
	good := sampleSegments()[1].Marshal(nil)
	f := func(name string, b []byte) {
		t.Helper()
		var s Segment
		if err := s.Unmarshal(b); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: unexpected error; got %v; want ErrCorrupt", name, err)
		}
	}
	f("empty", nil)
	f("version", append([]byte{9}, good[1:]...))
	f("flags", append([]byte{segmentVersion, 0x80}, good[2:]...))
	f("truncated", good[:len(good)-1])
	f("trailing", append(append([]byte(nil), good...), 0))
}

func TestSegmentKeys(t *testing.T) {
	// A segment's keys never share a prefix with another segment whose id extends it.
	a, b := segmentTargetPrefix(nil, "a"), segmentTargetPrefix(nil, "ab")
	if bytes.HasPrefix(b, a) || bytes.HasPrefix(segmentTargetKey(nil, "ab", "x"), a) {
		t.Fatalf("target prefix of %q covers %q", "a", "ab")
	}
	if k := segmentTargetKey(nil, "a", "t1"); !bytes.HasPrefix(k, a) || string(k[len(a):]) != "t1" {
		t.Fatalf("unexpected target key %q", k)
	}
	if k := segmentLockKey(nil, "a", "c1"); !bytes.HasPrefix(k, segmentLockPrefix(nil, "a")) || k[0] != PrefixSegmentLock {
		t.Fatalf("unexpected lock key %q", k)
	}
	if k := SegmentBits("a").prefix; k[0] != PrefixSegmentBits || len(k) != 6 {
		t.Fatalf("unexpected bits prefix %q", k)
	}
	if v, err := decodeBE64(appendBE64(nil, -5)); err != nil || v != -5 {
		t.Fatalf("unexpected be64 round trip; got %d, %v", v, err)
	}
	if _, err := decodeBE64([]byte{1}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unexpected error for a short be64; got %v", err)
	}
}

func FuzzSegmentCodec(f *testing.F) {
	for _, s := range sampleSegments() {
		f.Add(s.Marshal(nil))
	}
	f.Add([]byte{segmentVersion, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Segment
		if err := s.Unmarshal(b); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		var v Segment
		if err := v.Unmarshal(s.Marshal(nil)); err != nil {
			t.Fatalf("cannot decode re-encoded segment: %s", err)
		}
		if !reflect.DeepEqual(s, v) {
			t.Fatalf("unexpected segment;\ngot  %+v\nwant %+v", v, s)
		}
	})
}
