// Package bitmap owns roaring bitmaps of interned ordinals and their storage in Pebble as one key
// per 2^16-id container, so that adding ids rewrites only the containers they touch.
package bitmap
