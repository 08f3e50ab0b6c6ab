//go:build wasip1

package sdk

import "unsafe"

// pinned keeps every buffer handed to the host reachable, so the Go garbage collector
// neither frees nor reuses it while the host holds its address. Buffers are released at
// the end of each execution. The host allocates one buffer per call: a slice with room
// for a few, made before the snapshot, costs a call no allocation (a map cost 8,000 gas).
var pinned = make([][]byte, 0, 4)

// pinnedAt returns the pinned buffer that starts at guest address ptr.
func pinnedAt(ptr uint32) ([]byte, bool) {
	for _, b := range pinned {
		if ptrOf(b[:cap(b)]) == ptr {
			return b, true
		}
	}
	return nil, false
}

// unpin releases every pinned buffer.
func unpin() {
	clear(pinned)
	pinned = pinned[:0]
}

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
	pinned = append(pinned, buf)
	return p
}

// Buffer returns the buffer vchain_alloc handed out at guest address ptr, if its length is
// n: how an export other than vchain_execute (contracts/sdk/migrate) reads its request.
func Buffer(ptr, n uint32) ([]byte, bool) {
	b, ok := pinnedAt(ptr)
	if !ok || uint32(len(b)) != n {
		return nil, false
	}
	return b, true
}
