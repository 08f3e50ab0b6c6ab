//go:build wasip1

package sdk

import "unsafe"

// pinned keeps every buffer handed to the host reachable, so the Go garbage collector
// neither frees nor reuses it while the host holds its address. Buffers are released at
// the end of each execution.
var pinned = map[uint32][]byte{}

// lastResponse stays alive after vchain_execute returns, until the host has read it.
var lastResponse []byte

// ptrOf returns the guest address of b's first byte (of a one-byte buffer when b is empty,
// so every pointer is valid).
func ptrOf(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

//go:wasmexport vchain_alloc
func alloc(size uint32) uint32 {
	buf := make([]byte, size+1)[:size]
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(buf[:1]))))
	pinned[p] = buf
	return p
}
