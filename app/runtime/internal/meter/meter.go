// Package meter injects deterministic gas metering into a WebAssembly module.
//
// wazero has no instruction metering, and a blockchain needs every node to
// stop a contract at exactly the same instruction when its gas runs out.
// Instrument therefore rewrites the module itself: the metering is ordinary
// wasm code, so any conforming engine runs it identically, and the rewrite
// is a pure function of the input bytes and the Rules (no maps, no clocks).
//
// # What is injected
//
// A defined global (mut i64), initialised to 0, is appended after every
// existing global (so no existing global index moves) and exported as
// GasGlobalExport. The host sets it to the gas limit before calling into the
// instance and reads it afterwards; used gas is limit minus remaining.
//
// Each function body is cut into straight-line segments. A segment starts at
// a charge point and runs up to and including the next instruction that can
// leave straight-line flow: loop, if, else, end, br, br_if, br_table, return,
// unreachable, return_call, return_call_indirect. The charge points are:
//
//   - the function entry (after the local declarations);
//   - the start of a loop body (after loop), so every iteration pays;
//   - the start of an if's then-branch (after if) and else-branch (after else);
//   - after every end that closes a block, loop or if (a branch target);
//   - after br_if (its fall-through path).
//
// After br, br_table, return, unreachable and return_call* the code up to
// the next end or else is dead, so it is copied but not charged. block and
// call do not end a segment: entering a block is plain fall-through, and a
// call returns to the next instruction, so the caller's segment simply
// continues (the callee pays for its own body at its entry). Instructions
// after a call are thus charged before the call runs; if the callee runs out
// of gas they were paid for without running, which is still deterministic.
//
// At each charge point with segment cost c > 0 the pass inserts
//
//	global.get G; i64.const c; i64.sub; global.set G
//	global.get G; i64.const 0; i64.lt_s; if (empty) unreachable end
//
// which leaves the operand stack unchanged and closes its own if, so the
// branch depths of the original code stay valid. When gas drops below zero
// the instance traps with unreachable; the host tells an out-of-gas trap
// from a contract's own trap by the global being negative.
//
// A second global, exported as DepthGlobalExport, counts the frames in
// progress of functions that make calls: each such function counts itself
// at entry and traps when there would be more than Rules.MaxCallDepth (see
// depth.go), so recursion stops at the same frame on every machine instead
// of wherever the native stack ends.
//
// The memory's declared maximum is lowered to Rules.MemoryLimitPages (set
// to it when absent), so the cap is part of the module rather than an
// engine setting.
//
// Every mutable global the module defines is exported as
// GlobalExportPrefix followed by its index (see below).
//
// With Rules.CanonicalNaN, every float instruction whose result may be a
// NaN with machine-dependent bits is followed by free code that replaces a
// NaN by the canonical quiet NaN, using one or two scratch locals added to
// the function (see nan.go), so float results are the same bits on every
// machine.
//
// # Instance state
//
// A call must start from a state the host can restore: memory and globals.
// The host snapshots an instance's memory and its mutable globals (exported
// under GlobalExportPrefix) and writes them back before every call, so a
// call sees the same state on every node however instances are reused. Any
// other state a call could change would survive the reset, so the
// instructions that change it are refused: table.set, table.fill,
// table.copy, table.init and table.grow (tables), elem.drop and data.drop
// (which segments are still available), and so are imported mutable
// globals, whose value lives outside the instance. Tables and segments
// therefore keep what instantiation put in them. Go's wasip1 output uses
// none of these. This is a consensus rule, like the Rules.
//
// # Cost model
//
// Every original instruction costs Rules.Default, including block, end and
// the branch instructions. Calls (call, call_indirect, return_call,
// return_call_indirect) cost Rules.Call; memory.init, memory.copy and
// memory.fill cost Rules.Bulk;
// memory.grow and ref.func, which wazero runs in Go, cost Rules.MemoryGrow
// and Rules.RefFunc. Profile 1 prices them 1, 10, 10, 60 and 300: at 60
// and 300 a loop of memory.grow (about 25 ns) or ref.func (110-140 ns,
// BenchmarkSlowOps) buys no more time per gas than the cheapest loop of
// ordinary instructions (about 0.45 ns per gas, BenchmarkBulk/tightest).
// The bulk instructions also pay for their length when they run: one gas
// per started Rules.BulkBytesPerGas bytes. That charge is made by a
// helper function the pass appends and calls right before each bulk
// instruction (see bulk.go), so a module out of gas stops before the
// instruction does its work. The injected instructions themselves are free.
// The Rules are consensus rules: every node must use the same.
//
// # Supported input
//
// WebAssembly 1.0 plus sign extension, non-trapping float-to-int, bulk
// memory, reference types (single-byte reference types only), multi-value
// block types and the tail-call opcodes; this covers Go's wasip1 output.
// SIMD, threads, exception handling, GC, multiple memories and anything
// unknown are refused with an error, as are the instructions that change
// instance state outside memory and globals (see Instance state), modules
// that already export GasGlobalExport, DepthGlobalExport or a name starting
// with GlobalExportPrefix, and modules whose code names a global index
// that does not exist (after the rewrite it would name the gas global).
// Imported memories are refused (the cap applies to the module's own
// memory), and so is a memory that starts above the cap. A table may declare
// at most 2^20 elements: wazero allocates tables in full at instantiation.
//
// Instrument also screens out modules that would make wazero v1.12.0
// allocate by a forged count or panic (see screen.go and
// module.parseFunctions): declared counts must fit the bytes that follow
// them, a function may have at most 50000 locals, and function type indices
// must be in range. Like the Rules, these are consensus rules.
//
// # Using the result
//
// The gas global starts at 0, so a module with a start section traps with
// out-of-gas during instantiation: instantiate without start functions, set
// the gas, then call the initialisation export (for Go, "_initialize").
// After any trap (out of gas, call depth or the module's own) the instance
// is in an arbitrary state (a Go runtime stopped mid-function, the depth
// global above its limit). Gas used depends on the instance's state too (a
// Go module's allocator and collector state), so the host starts every call
// from one snapshot: the exported mutable globals (GlobalExportPrefix) and
// the memory pages the write marks name (WrittenGlobalExport,
// WrittenPagesGlobalExport) are all it has to set back, and a memory that
// grew means a new instance.
package meter

import (
	"fmt"
	"math"
	"strconv"
)

// GasGlobalExport is the export name of the injected mutable i64 global holding remaining gas.
// The host sets it before a call and reads it after; a negative value after
// a trap means the contract ran out of gas rather than trapped on its own.
const GasGlobalExport = "vchain_gas"

// DepthGlobalExport is the export name of the injected mutable i32 global
// counting the frames in progress of functions that make calls (see
// depth.go). It is 0 between calls; after a trap
// it is above Rules.MaxCallDepth exactly when the trap is the injected call
// depth check.
const DepthGlobalExport = "vchain_depth"

// GlobalExportPrefix starts the export name of each mutable global the
// module defines: the global with index i (in the module's global index
// space, imports first) is exported as GlobalExportPrefix followed by i in
// decimal, e.g. "vchain_global_3". A call must start from a state the host
// can restore, and with tables, segments and imported globals frozen (see
// the package documentation) that state is the memory and these globals:
// the host snapshots them and writes them back before every call.
// Immutable globals cannot change and are not exported; the metering
// globals have their own names. A module that already exports a name with
// this prefix is refused.
const GlobalExportPrefix = "vchain_global_"

func globalExportName(idx uint32) string {
	return GlobalExportPrefix + strconv.FormatUint(uint64(idx), 10)
}

// RestorableGlobals returns the export names Instrument gives the mutable globals
// of wasm (the original module), in index order: the globals the host must save
// and restore besides memory.
func RestorableGlobals(wasm []byte) ([]string, error) {
	m, err := parseModule(wasm)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(m.mutableGlobals))
	for i, g := range m.mutableGlobals {
		names[i] = globalExportName(g)
	}
	return names, nil
}

// Instrument returns a copy of the module with gas metering injected under
// rules. Sections other than memory, global, export and code (and type and
// function, which get the bulk instruction helpers when the code uses bulk
// instructions) are copied byte for byte, and inside function bodies every
// original instruction is copied verbatim with charges, helper calls and
// NaN fixes inserted between them (and NaN scratch locals declared after
// the function's own). The input is never modified. Invalid rules, or a
// malformed or unsupported module, yield an error, never a panic.
func Instrument(wasm []byte, rules Rules) ([]byte, error) {
	if err := rules.validate(); err != nil {
		return nil, err
	}
	m, err := parseModule(wasm)
	if err != nil {
		return nil, err
	}
	gas := m.gasIndex()
	if gas >= math.MaxUint32-1 {
		return nil, fmt.Errorf("meter: too many globals to add the gas and depth globals")
	}
	depth := gas + 1

	// Global section: old entries plus the gas global, (mut i64) (i64.const
	// 0), and the depth global, (mut i32) (i32.const 0): no frame is in
	// progress.
	newGlobal := []byte{0x7e, 0x01, 0x42, 0x00, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b}
	var globals []byte
	if m.globalIdx >= 0 {
		old := m.sections[m.globalIdx].payload
		_, p, _ := readU32(old, 0) // validated by parseModule
		globals = make([]byte, 0, len(old)+len(newGlobal)+5)
		globals = appendU32(globals, m.definedGlobals+2)
		globals = append(globals, old[p:]...)
	} else {
		globals = appendU32(nil, 2)
	}
	globals = append(globals, newGlobal...)

	// Export section: old entries plus the gas and depth globals, then the
	// module's mutable globals for the host to save and restore.
	type exp struct {
		name string
		idx  uint32
	}
	added := make([]exp, 0, 2+len(m.mutableGlobals))
	added = append(added, exp{GasGlobalExport, gas}, exp{DepthGlobalExport, depth})
	for _, g := range m.mutableGlobals {
		added = append(added, exp{globalExportName(g), g})
	}
	var exports []byte
	if m.exportIdx >= 0 {
		old := m.sections[m.exportIdx].payload
		n, p, _ := readU32(old, 0) // validated by parseModule
		if uint64(n)+uint64(len(added)) > math.MaxUint32 {
			return nil, fmt.Errorf("meter: too many exports to add the metering and mutable globals")
		}
		exports = make([]byte, 0, len(old)+len(added)*24)
		exports = appendU32(exports, n+uint32(len(added)))
		exports = append(exports, old[p:]...)
	} else {
		exports = appendU32(nil, uint32(len(added)))
	}
	for _, g := range added {
		exports = appendU32(exports, uint32(len(g.name)))
		exports = append(exports, g.name...)
		exports = append(exports, kindGlobal)
		exports = appendU32(exports, g.idx)
	}

	var memory []byte
	if m.memoryIdx >= 0 {
		if memory, err = capMemory(m.sections[m.memoryIdx], rules.MemoryLimitPages); err != nil {
			return nil, err
		}
	}

	// Code section, then the type and function sections if the code needs
	// the bulk instruction helpers.
	var code, types, funcs []byte
	if m.codeIdx >= 0 {
		helpers, err := m.helperBase()
		if err != nil {
			return nil, err
		}
		r := newRewriter(gas, helpers, rules)
		if code, err = instrumentCode(m, m.sections[m.codeIdx], r); err != nil {
			return nil, err
		}
		if r.usedBulk || len(r.types) > 0 {
			if types, funcs, err = helperSections(m, r.usedBulk, r.types); err != nil {
				return nil, err
			}
		}
	} else if m.definedFuncs != 0 {
		return nil, fmt.Errorf("meter: function section declares %d functions but there is no code section", m.definedFuncs)
	}

	replaced := map[int][]byte{m.codeIdx: code, m.memoryIdx: memory}
	if types != nil {
		replaced[m.typeIdx] = types
	}
	if funcs != nil {
		replaced[m.funcIdx] = funcs
	}
	out := make([]byte, 0, len(wasm)+len(code)-codeLen(m)+len(globals)+len(exports)+len(types)+len(funcs)+len(memory)+32)
	out = m.assemble(out, globals, exports, replaced)
	return trackWrites(out)
}

// assemble appends m's sections to out after the header: the global and export
// sections replaced by globals and exports (created where the module has none),
// each section whose index is a key of replaced by that payload, and every other
// section copied byte for byte, size prefix included, so even a non-canonical size
// encoding survives unchanged.
func (m *module) assemble(out, globals, exports []byte, replaced map[int][]byte) []byte {
	out = append(out, wasmHeader...)
	globalAt, exportAt := -1, -1
	if m.globalIdx < 0 {
		globalAt = m.insertAt(secGlobal)
	}
	if m.exportIdx < 0 {
		exportAt = m.insertAt(secExport)
	}
	for i := 0; i <= len(m.sections); i++ {
		if i == globalAt {
			out = appendSection(out, secGlobal, globals)
		}
		if i == exportAt {
			out = appendSection(out, secExport, exports)
		}
		if i == len(m.sections) {
			break
		}
		s := m.sections[i]
		switch payload, ok := replaced[i]; {
		case i == m.globalIdx:
			out = appendSection(out, secGlobal, globals)
		case i == m.exportIdx:
			out = appendSection(out, secExport, exports)
		case ok:
			out = appendSection(out, s.id, payload)
		default:
			out = append(out, s.raw...)
		}
	}
	return out
}

// appendSection appends a section the pass rewrote or created.
func appendSection(out []byte, id byte, payload []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(payload)))
	return append(out, payload...)
}

func codeLen(m *module) int {
	if m.codeIdx < 0 {
		return 0
	}
	return len(m.sections[m.codeIdx].payload)
}

// instrumentCode rewrites every function body of the code section with r
// and returns the new section payload, with the bulk instruction helpers'
// bodies appended when the code uses them.
func instrumentCode(m *module, s section, r *rewriter) ([]byte, error) {
	b := s.payload
	n, pos, err := readU32(b, 0)
	if err != nil {
		return nil, fmt.Errorf("meter: code section at offset %d: function count: %w", s.offset, err)
	}
	if n != m.definedFuncs {
		return nil, fmt.Errorf("meter: code section has %d bodies but the function section declares %d", n, m.definedFuncs)
	}
	// Go's output grows by roughly a third; over-reserve a little to avoid
	// regrowing. The body count is not known until the bodies are done (the
	// helpers come only with bulk instructions), so the first maxU32Len
	// bytes are kept for it.
	type fn struct {
		body []byte
		base int // module offset of body[0]
	}
	bodies := make([]fn, 0, n)
	for i := uint32(0); i < n; i++ {
		fidx := uint64(m.importedFuncs) + uint64(i)
		size, p, err := readU32(b, pos)
		if err != nil {
			return nil, fmt.Errorf("meter: function %d: body size at offset %d: %w", fidx, s.offset+pos, err)
		}
		if uint64(p)+uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("meter: function %d: body size %d at offset %d exceeds the %d bytes left in the code section", fidx, size, s.offset+pos, len(b)-p)
		}
		bodies = append(bodies, fn{b[p : p+int(size)], s.offset + p})
		pos = p + int(size)
	}
	if pos != len(b) {
		return nil, fmt.Errorf("meter: code section at offset %d: section size mismatch: %d bytes left after %d bodies", s.offset, len(b)-pos, n)
	}
	// Which functions count their frame (see depth.go): those that make
	// a call.
	// And which need NaN scratch locals (see nan.go).
	frames := make([]*depthFrame, len(bodies))
	nans := make([]*nanLocals, len(bodies))
	for i, f := range bodies {
		fidx := uint64(m.importedFuncs) + uint64(i)
		info, err := r.d.scan(f.body, f.base)
		if err != nil {
			return nil, fmt.Errorf("meter: function %d: %w", fidx, err)
		}
		if !info.leaf {
			if frames[i], err = r.wrapper(m, m.funcTypes[i]); err != nil {
				return nil, fmt.Errorf("meter: function %d: %w", fidx, err)
			}
		}
		if nans[i], err = newNanLocals(info.nan, m.params[m.funcTypes[i]], info.locals); err != nil {
			return nil, fmt.Errorf("meter: function %d: %w", fidx, err)
		}
	}
	out := make([]byte, maxU32Len, len(b)+len(b)/2+16)
	for i, f := range bodies {
		if err := r.function(f.body, f.base, frames[i], nans[i]); err != nil {
			return nil, fmt.Errorf("meter: function %d: %w", uint64(m.importedFuncs)+uint64(i), err)
		}
		out = appendU32(out, uint32(len(r.fn)))
		out = append(out, r.fn...)
	}
	if r.usedBulk {
		for k := bulkBytes; int(k) <= bulkHelpers; k++ {
			out = append(out, helperBody(k, r.d.gasIdx, r.d.rules)...)
		}
		n += uint32(bulkHelpers) // helperBase checked that it fits
	}
	if uint64(len(out)) > math.MaxUint32 {
		return nil, fmt.Errorf("meter: instrumented code section exceeds 4 GiB")
	}
	// The canonical encoding of the count goes right before the bodies.
	count := appendU32(nil, n)
	start := maxU32Len - len(count)
	copy(out[start:], count)
	return out[start:], nil
}
