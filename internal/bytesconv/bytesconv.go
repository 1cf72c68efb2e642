// Package bytesconv converts byte slices to strings without copying, for hot paths that look
// strings up or parse them from bytes they own.
package bytesconv

import "unsafe"

// UnsafeString returns b as a string without copying.
//
// NB: the string aliases b: b must not change while the string (or anything keeping it) is used.
func UnsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
