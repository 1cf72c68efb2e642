package storage

import (
	"fmt"
	"syscall"
	"unsafe"
)

// Memory outside the Go heap (anonymous mmap) for large pointer-free tables: the garbage collector
// neither scans it nor counts it towards its heap goal, so a table of 10 million ids does not let
// the heap grow by as much again in garbage before each collection.

// offheapBytes returns n zeroed bytes outside the Go heap. Free them with offheapFree.
func offheapBytes(n int) []byte {
	if n == 0 {
		return nil
	}
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic(fmt.Sprintf("FATAL: cannot map %d bytes of memory: %s", n, err))
	}
	return b
}

// offheapFree returns b, from offheapBytes, to the system. Nothing may refer to it afterwards.
func offheapFree(b []byte) {
	if len(b) == 0 {
		return
	}
	if err := syscall.Munmap(b); err != nil {
		panic(fmt.Sprintf("BUG: cannot unmap %d bytes: %s", len(b), err))
	}
}

// offheapUint32s returns n zeroed uint32s outside the Go heap, and the bytes to free.
func offheapUint32s(n int) ([]uint32, []byte) {
	b := offheapBytes(n * 4)
	if n == 0 {
		return nil, nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), n), b
}
