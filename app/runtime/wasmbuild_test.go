package runtime_test

import "encoding/binary"

// A tiny WebAssembly module builder for hostile-module tests: wat2wasm is not available
// here, and the modules these tests need are a handful of sections around the exports a
// vchain runtime must have (see app/runtime/validate.go).

// wasm value types and opcodes used below.
const (
	tI32 = 0x7f
	tI64 = 0x7e

	opUnreachable = 0x00
	opLoop        = 0x03
	opBr          = 0x0c
	opEnd         = 0x0b
	opCall        = 0x10
	opDrop        = 0x1a
	opLocalGet    = 0x20
	opI32Const    = 0x41
	opI64Const    = 0x42
	opMemoryGrow  = 0x40
	opBlockEmpty  = 0x40
)

type funcType struct{ params, results []byte }

// wfunc is a defined function: its type index, its locals (count, type) and its body
// (instructions, without the final end, which the builder adds).
type wfunc struct {
	typ    uint32
	locals [][2]uint32
	body   []byte
}

type wimport struct {
	module, name string
	typ          uint32
}

type wexport struct {
	name  string
	kind  byte // 0 func, 2 memory
	index uint32
}

// wmodule describes a module; bytes() encodes it.
type wmodule struct {
	types   []funcType
	imports []wimport
	funcs   []wfunc
	table   *[2]uint32 // min, max (max 0: none)
	memory  *[2]uint32 // min, max (max 0: none)
	exports []wexport
	start   *uint32
	// raw sections appended after the code section, as (id, payload).
	extra [][2][]byte
}

func uleb(v uint64) []byte { return binary.AppendUvarint(nil, v) }

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func vecBytes(b []byte) []byte { return append(uleb(uint64(len(b))), b...) }

func name(s string) []byte { return vecBytes([]byte(s)) }

func limits(l [2]uint32) []byte {
	if l[1] == 0 {
		return append([]byte{0}, uleb(uint64(l[0]))...)
	}
	return append(append([]byte{1}, uleb(uint64(l[0]))...), uleb(uint64(l[1]))...)
}

func (m wmodule) bytes() []byte {
	out := []byte{0x00, 'a', 's', 'm', 1, 0, 0, 0}
	section := func(id byte, count int, payload []byte) {
		p := append(uleb(uint64(count)), payload...)
		out = append(append(append(out, id), uleb(uint64(len(p)))...), p...)
	}
	var p []byte
	for _, t := range m.types {
		p = append(p, 0x60)
		p = append(p, vecBytes(t.params)...)
		p = append(p, vecBytes(t.results)...)
	}
	section(1, len(m.types), p)
	if len(m.imports) > 0 {
		p = nil
		for _, im := range m.imports {
			p = append(append(append(p, name(im.module)...), name(im.name)...), 0x00)
			p = append(p, uleb(uint64(im.typ))...)
		}
		section(2, len(m.imports), p)
	}
	p = nil
	for _, f := range m.funcs {
		p = append(p, uleb(uint64(f.typ))...)
	}
	section(3, len(m.funcs), p)
	if m.table != nil {
		section(4, 1, append([]byte{0x70}, limits(*m.table)...))
	}
	if m.memory != nil {
		section(5, 1, limits(*m.memory))
	}
	p = nil
	for _, e := range m.exports {
		p = append(append(append(p, name(e.name)...), e.kind), uleb(uint64(e.index))...)
	}
	section(7, len(m.exports), p)
	if m.start != nil {
		s := uleb(uint64(*m.start))
		out = append(append(append(out, 8), uleb(uint64(len(s)))...), s...)
	}
	p = nil
	for _, f := range m.funcs {
		var body []byte
		body = append(body, uleb(uint64(len(f.locals)))...)
		for _, l := range f.locals {
			body = append(append(body, uleb(uint64(l[0]))...), byte(l[1]))
		}
		body = append(append(body, f.body...), opEnd)
		p = append(p, vecBytes(body)...)
	}
	section(10, len(m.funcs), p)
	for _, s := range m.extra {
		out = append(append(append(out, s[0][0]), uleb(uint64(len(s[1])))...), s[1]...)
	}
	return out
}

// Type indices of abiModule.
const (
	typVoid  = 0 // () -> ()
	typAlloc = 1 // (i32) -> (i32)
	typExec  = 2 // (i32, i32) -> (i64)
)

// abiModule returns a minimal valid vchain runtime module: one page of memory,
// _initialize does nothing, vchain_alloc returns 1024, and vchain_execute runs exec
// (default: return the packed pointer 0, length 0, an empty response). Function indices:
// imports first, then 0 _initialize, 1 vchain_alloc, 2 vchain_execute, then extra.
func abiModule(exec []byte, extra ...wfunc) wmodule {
	if exec == nil {
		exec = []byte{opI64Const, 0}
	}
	m := wmodule{
		types: []funcType{{}, {[]byte{tI32}, []byte{tI32}}, {[]byte{tI32, tI32}, []byte{tI64}}},
		funcs: append([]wfunc{
			{typ: typVoid},
			{typ: typAlloc, body: append([]byte{opI32Const}, sleb(1024)...)},
			{typ: typExec, body: exec},
		}, extra...),
		memory: &[2]uint32{1, 0},
		exports: []wexport{
			{"memory", 2, 0}, {"_initialize", 0, 0}, {"vchain_alloc", 0, 1}, {"vchain_execute", 0, 2},
		},
	}
	return m
}
