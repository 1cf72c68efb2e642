package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Record codecs are append-style: Marshal(dst []byte) []byte appends a version byte and the fields.
// Decoding uses Decoder, which records the first error and then returns zero values, so that a
// record's Unmarshal reads straight through and checks Err once at the end.

// ErrCorrupt is returned when a stored record cannot be decoded.
var ErrCorrupt = errors.New("storage: corrupt record")

// AppendUvarint appends v as a uvarint.
func AppendUvarint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }

// AppendVarint appends v as a zig-zag varint.
func AppendVarint(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }

// AppendString appends s with a uvarint length prefix.
func AppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// AppendBytes appends b with a uvarint length prefix.
func AppendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// AppendBool appends b as one byte.
func AppendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// AppendStrings appends a count followed by each string.
func AppendStrings(dst []byte, ss []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = AppendString(dst, s)
	}
	return dst
}

// AppendFloat64 appends f as 8 bytes.
func AppendFloat64(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

// Decoder reads values written by the Append functions. The zero Decoder over b is ready to use.
type Decoder struct {
	B   []byte
	Err error
}

func (d *Decoder) fail() {
	if d.Err == nil {
		d.Err = ErrCorrupt
	}
	d.B = nil
}

// Version reads a record's version byte and reports an error naming what (e.g. "user") when the
// input is empty or the version is not want.
func (d *Decoder) Version(want byte, what string) error {
	v := d.Byte()
	if d.Err != nil {
		return fmt.Errorf("cannot decode %s: %w", what, d.Err)
	}
	if v != want {
		return fmt.Errorf("cannot decode %s: unknown version %d: %w", what, v, ErrCorrupt)
	}
	return nil
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if len(d.B) < 1 {
		d.fail()
		return 0
	}
	c := d.B[0]
	d.B = d.B[1:]
	return c
}

// Bool reads a bool.
func (d *Decoder) Bool() bool { return d.Byte() != 0 }

// Uvarint reads a uvarint.
func (d *Decoder) Uvarint() uint64 {
	v, n := binary.Uvarint(d.B)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Varint reads a zig-zag varint (AppendVarint: binary.AppendVarint).
func (d *Decoder) Varint() int64 {
	u := d.Uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// Bytes reads a length-prefixed byte slice. The result aliases the decoder's input.
func (d *Decoder) Bytes() []byte {
	n := d.Uvarint()
	if d.Err != nil || uint64(len(d.B)) < n {
		d.fail()
		return nil
	}
	b := d.B[:n:n]
	d.B = d.B[n:]
	return b
}

// String reads a length-prefixed string (copied).
func (d *Decoder) String() string { return string(d.Bytes()) }

// Strings reads a count-prefixed list of strings.
func (d *Decoder) Strings() []string {
	n := d.Uvarint()
	if d.Err != nil || n > uint64(len(d.B)) {
		d.fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.String()
	}
	return ss
}

// Float64 reads 8 bytes as a float64.
func (d *Decoder) Float64() float64 {
	if len(d.B) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.B)
	d.B = d.B[8:]
	return math.Float64frombits(v)
}
