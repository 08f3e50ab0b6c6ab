// Command writemod is a module the write tracking tests build for wasip1:
// each export writes a large heap buffer with one kind of instruction only
// (Go's clear is memory.fill, copy is memory.copy), so a call reaches
// regions of memory that no store of the same call writes.
package main

// buf spans several 64 KiB regions; it is allocated once, at
// initialisation, so the calls below write nothing else of note.
var buf = make([]byte, 5<<16+123)

// set stores v into every byte of buf, one store at a time.
//
//go:wasmexport set
func set(v int32) {
	for i := range buf {
		buf[i] = byte(v) + byte(i)
	}
}

// zero clears buf: memory.fill.
//
//go:wasmexport zero
func zero() { clear(buf) }

// move copies buf[n:] to buf[0:]: memory.copy.
//
//go:wasmexport move
func move(n int32) { copy(buf, buf[n:]) }

func main() {}
