package meter

import (
	"fmt"

	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/contracts/abi/migration"
)

// wasiModule is the import module name of WASI preview 1, as Go's wasip1
// port and wazero's imports/wasi_snapshot_preview1 spell it.
const wasiModule = "wasi_snapshot_preview1"

// importSpan is a range of guest memory an imported function may write: the
// bytes [p, p+n) where p is its parameter ptr and n is its parameter
// length, or the constant size when length is -1. Both parameters are i32
// (pointers and sizes of wasm32).
type importSpan struct {
	ptr    int
	length int
	size   uint32
}

type importKey struct{ module, name string }

// fixed is a span of a constant size.
func fixed(ptr int, size uint32) importSpan { return importSpan{ptr: ptr, length: -1, size: size} }

// sized is a span whose length is another parameter.
func sized(ptr, length int) importSpan { return importSpan{ptr: ptr, length: length} }

// importWrites says, for each import the pass knows, every range of guest
// memory it may write, from its own arguments; an empty list means it
// writes none. An import not listed may write anywhere: every call to it
// marks all 64 bits of both globals. Sizes and signatures are those of wazero v1.12's
// imports/wasi_snapshot_preview1 (which Go's runtime and syscall packages
// import with the same signatures) and of app/runtime's host functions
// (contracts/abi):
//
//   - clock_time_get(id i32, precision i64, result.timestamp i32): a u64.
//   - random_get(buf, buf_len i32): the whole buffer.
//   - fd_write(fd, iovs, iovs_len, result.nwritten i32): a u32 (iovs and
//     the buffers they point to are only read).
//   - args_sizes_get, environ_sizes_get(result.count, result.buf_len i32):
//     a u32 each.
//   - fd_fdstat_get(fd, result.stat i32): the 24-byte fdstat.
//   - fd_prestat_get(fd, result.prestat i32): the 8-byte prestat.
//   - fd_prestat_dir_name(fd, path, path_len i32): at most path_len bytes.
//   - vchain state_get(key_ptr, key_len, buf_ptr, buf_cap i32): the value,
//     only when it fits in buf_cap; caller(buf_ptr, buf_cap i32): the
//     address, likewise; state_next(key_ptr, key_len, buf_ptr, buf_cap i32):
//     the next key, likewise.
//
// proc_exit, sched_yield, fd_close, fd_fdstat_set_flags and the other
// vchain functions only read memory. args_get, environ_get, poll_oneoff,
// fd_read and the rest of WASI are left unlisted on purpose: their writes
// follow pointers stored in memory, which cannot be bounded from the
// arguments, and a contract calls them only during _initialize (before the
// snapshot) or on paths that are rare enough for a full comparison.
//
// It is a variable only so that a test can drop an entry and show that the
// host's contract then breaks.
var importWrites = map[importKey][]importSpan{
	{wasiModule, "clock_time_get"}:      {fixed(2, 8)},
	{wasiModule, "random_get"}:          {sized(0, 1)},
	{wasiModule, "fd_write"}:            {fixed(3, 4)},
	{wasiModule, "args_sizes_get"}:      {fixed(0, 4), fixed(1, 4)},
	{wasiModule, "environ_sizes_get"}:   {fixed(0, 4), fixed(1, 4)},
	{wasiModule, "fd_fdstat_get"}:       {fixed(1, 24)},
	{wasiModule, "fd_prestat_get"}:      {fixed(1, 8)},
	{wasiModule, "fd_prestat_dir_name"}: {sized(1, 2)},
	{wasiModule, "proc_exit"}:           {},
	{wasiModule, "sched_yield"}:         {},
	{wasiModule, "fd_close"}:            {},
	{wasiModule, "fd_fdstat_set_flags"}: {},

	{abi.ImportModule, abi.ImportStateGet}:        {sized(2, 3)},
	{abi.ImportModule, abi.ImportCaller}:          {sized(0, 1)},
	{abi.ImportModule, abi.ImportStateSet}:        {},
	{abi.ImportModule, abi.ImportStateDelete}:     {},
	{abi.ImportModule, abi.ImportEmitEvent}:       {},
	{abi.ImportModule, abi.ImportBlockHeight}:     {},
	{abi.ImportModule, abi.ImportAbort}:           {},
	{abi.ImportModule, migration.ImportStateNext}: {sized(2, 3)},
}

// importMarks is what a call to an imported function marks.
type importMarks struct {
	all   bool         // every bit: the import may write anywhere
	spans []importSpan // else these ranges (none: it writes nothing)
	// saved is how many arguments, the last ones, are taken off the stack
	// to compute the spans: all from the lowest parameter a span names.
	saved int
	lo    int // the first of them: parameter len(params)-saved
}

// writes reports whether a call to the import may write memory.
func (im importMarks) writes() bool { return im.all || len(im.spans) > 0 }

// importedFuncMarks returns what a call to each imported function marks,
// from the import section and the parameter types of each function type.
// An import listed in importWrites whose type does not have the listed
// parameters as i32 is treated as unknown: wazero would refuse to link it
// to the real function anyway, but the pass must not depend on that.
func importedFuncMarks(s section, paramTypes [][]byte) ([]importMarks, error) {
	b := s.payload
	n, pos, err := readU32(b, 0)
	if err != nil {
		return nil, fmt.Errorf("import count: %w", err)
	}
	var marks []importMarks
	for i := uint32(0); i < n; i++ {
		var ms, me, fs, fe int
		if ms, me, err = readName(b, pos); err != nil {
			return nil, fmt.Errorf("import %d: module name: %w", i, err)
		}
		if fs, fe, err = readName(b, me); err != nil {
			return nil, fmt.Errorf("import %d: field name: %w", i, err)
		}
		pos = fe
		if pos >= len(b) {
			return nil, fmt.Errorf("import %d: kind: %w", i, errEOF)
		}
		kind := b[pos]
		pos++
		switch kind {
		case kindFunc:
			var t uint32
			if t, pos, err = readU32(b, pos); err == nil && t >= uint32(len(paramTypes)) {
				err = fmt.Errorf("type index %d out of range (%d types)", t, len(paramTypes))
			}
			if err != nil {
				return nil, fmt.Errorf("import %d: %w", i, err)
			}
			spans, known := importWrites[importKey{string(b[ms:me]), string(b[fs:fe])}]
			marks = append(marks, marksFor(spans, known, paramTypes[t]))
		case kindTable:
			pos, err = skipLimits(b, pos+1) // parseImports checked the bounds
		case kindGlobal:
			pos += 2
		case kindTag:
			_, pos, err = readU32(b, pos+1)
		default:
			err = fmt.Errorf("unsupported kind 0x%02x", kind)
		}
		if err != nil {
			return nil, fmt.Errorf("import %d: %w", i, err)
		}
	}
	return marks, nil
}

// marksFor checks a table entry against the import's parameter types.
func marksFor(spans []importSpan, known bool, params []byte) importMarks {
	if !known {
		return importMarks{all: true}
	}
	if len(spans) == 0 {
		return importMarks{}
	}
	lo := len(params)
	for _, sp := range spans {
		lo = min(lo, sp.ptr)
		if sp.length >= 0 {
			lo = min(lo, sp.length)
		}
	}
	for _, sp := range spans {
		if sp.ptr >= len(params) || sp.length >= len(params) {
			return importMarks{all: true}
		}
	}
	// Every saved argument goes through an i32 scratch local.
	for _, vt := range params[lo:] {
		if vt != 0x7f {
			return importMarks{all: true}
		}
	}
	return importMarks{spans: spans, saved: len(params) - lo, lo: lo}
}

// refsWritingImport reports whether an element segment or a global
// initializer of the module names, by index or ref.func, an imported
// function that may write memory. Only then can call_indirect reach such a
// function: tables are filled by active element segments alone (table.set,
// table.init, table.fill and table.grow are refused), and a ref.func in
// code must name a function an element segment, a global or an export
// declares, and exports of such imports are refused (see refuseExport).
func (m *writeModule) refsWritingImport() (bool, error) {
	hit := false
	ref := func(f uint32) {
		if f < uint32(len(m.imports)) && m.imports[f].writes() {
			hit = true
		}
	}
	d := decoder{gasIdx: m.gasIndex()}
	for _, s := range m.sections {
		if s.id != secElement && s.id != secGlobal {
			continue
		}
		b := s.payload
		n, pos, err := readU32(b, 0)
		if err != nil {
			return false, err
		}
		for i := uint32(0); i < n; i++ {
			if s.id == secGlobal {
				if pos+2 > len(b) {
					return false, fmt.Errorf("global %d: %w", i, errEOF)
				}
				pos, err = d.constRefs(b, pos+2, s.offset, ref)
			} else {
				pos, err = d.elementRefs(b, pos, s.offset, ref)
			}
			if err != nil {
				return false, fmt.Errorf("section id %d at offset %d: entry %d: %w", s.id, s.offset, i, err)
			}
		}
	}
	return hit, nil
}

// constRefs skips a constant expression at b[pos], calling ref with the
// function index of each ref.func in it.
func (d *decoder) constRefs(b []byte, pos, base int, ref func(uint32)) (int, error) {
	d.stack = d.stack[:0]
	for {
		if pos >= len(b) {
			return pos, errEOF
		}
		at := pos
		var t term
		var err error
		if pos, t, _, err = d.step(b, pos, base); err != nil {
			return pos, err
		}
		if b[at] == 0xd2 { // ref.func
			f, _, _ := readU32(b, at+1)
			ref(f)
		}
		if t == termFinal {
			return pos, nil
		}
	}
}

// elementRefs skips an element segment at b[pos] (all eight encodings, as
// elementSegment), calling ref with each function index it holds.
func (d *decoder) elementRefs(b []byte, pos, base int, ref func(uint32)) (int, error) {
	flags, pos, err := readU32(b, pos)
	if err != nil {
		return pos, err
	}
	if flags > 7 {
		return pos, fmt.Errorf("unknown flags %d", flags)
	}
	active := flags&1 == 0
	if active && flags&2 != 0 {
		if _, pos, err = readU32(b, pos); err != nil {
			return pos, err
		}
	}
	if active {
		if pos, err = d.constExpr(b, pos, base); err != nil {
			return pos, err
		}
	}
	if flags&3 != 0 {
		if pos >= len(b) {
			return pos, errEOF
		}
		pos++
	}
	var count uint32
	if count, pos, err = readU32(b, pos); err != nil {
		return pos, err
	}
	for j := uint32(0); j < count; j++ {
		if flags&4 != 0 {
			pos, err = d.constRefs(b, pos, base, ref)
		} else {
			var f uint32
			if f, pos, err = readU32(b, pos); err == nil {
				ref(f)
			}
		}
		if err != nil {
			return pos, err
		}
	}
	return pos, nil
}
