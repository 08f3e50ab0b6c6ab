// Command writemod is a module the write tracking tests build for wasip1:
// each export writes a large heap buffer with one kind of instruction only
// (Go's clear is memory.fill, copy is memory.copy, crypto/rand's Read is
// WASI's random_get), so a call reaches regions of memory that no store of
// the same call writes; say and now reach the other WASI functions that
// write memory (fd_write's count, clock_time_get's time).
package main

import (
	"crypto/rand"
	"strings"
	"time"
)

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

// rnd fills buf with random bytes: random_get writes it directly.
//
//go:wasmexport rnd
func rnd() { rand.Read(buf) }

// say prints n bytes to stderr: fd_write, which writes the count it wrote.
//
//go:wasmexport say
func say(n int32) { println(strings.Repeat("x", int(n))) }

// now returns the wall clock: clock_time_get.
//
//go:wasmexport now
func now() int64 { return time.Now().UnixNano() }

func main() {}
