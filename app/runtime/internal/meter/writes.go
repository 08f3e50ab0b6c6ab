package meter

import (
	"fmt"
	"math"
)

// # Write tracking
//
// The host resets an instance's linear memory to a snapshot before every
// call, so that gas does not depend on what earlier transactions left in
// memory. Comparing the whole memory (3.4 MB for a Go contract) costs more
// than a small call, and the kernel's dirty-page tracking is slower still,
// so the module itself records where it wrote: trackWrites, the last step
// of Instrument, appends two mutable i64 globals, initialised to 0: W,
// exported as WrittenGlobalExport, and P, exported as
// WrittenPagesGlobalExport. Before any instruction writes into the 4 KiB
// page q (bytes [q<<12, (q+1)<<12)) it sets bit q mod 64 of P and bit
// (q>>4) mod 64 of W, the bit of q's 64 KiB region r = q>>4. Either global
// alone aliases: P's bit q mod 64 stands for every 256 KiB, W's for every
// 4 MiB; the host takes page q as written only when both bits are set,
// which narrows a kv.set from ~6 regions (384 KiB) to ~16 pages.
//
// A store (i32.store, i64.store, f32.store, f64.store, i32.store8/16,
// i64.store8/16/32) at effective address ea = addr + offset marks page
// q = ea>>12, the one its first byte lands in, and is rewritten to
//
//	local.set $v; local.set $a
//	global.get P; i64.const 1
//	local.get $a; i64.extend_i32_u; [i64.const offset; i64.add]
//	i64.const 12; i64.shr_u; local.tee $q; i64.shl  ;; 1 << (q mod 64)
//	i64.or; global.set P
//	global.get W; i64.const 1
//	local.get $q; i64.const 4; i64.shr_u; i64.shl   ;; 1 << (r mod 64)
//	i64.or; global.set W
//	local.get $a; local.get $v; <the store, unchanged>
//
// (i64.shl takes its count mod 64.) The address is summed in i64, so the
// page is the one of the full 33-bit effective address, as the engine
// computes it. Its last byte may spill up to 7 bytes into page q+1, which
// is not marked: see the host's contract below. An out-of-bounds store
// traps after the marking, which is harmless (a bit too many only makes
// the host compare more).
//
// memory.copy (dst, src, n), memory.fill (dst, val, n) and memory.init
// (dst, seg_offset, n) mark every page from dst>>12 to (dst+n-1)>>12 in P
// and every region from dst>>16 to (dst+n-1)>>16 in W (nothing when n is
// 0), inline as well:
//
//	local.set $n; local.set $x; local.tee $a    ;; dst stays on the stack
//	local.get $n; if
//	  <mask of the pages into P>
//	  <mask of the regions into W>
//	end
//	local.get $x; local.get $n; <the instruction, unchanged>
//
// where the mask of units of 1<<s bytes into global G is
//
//	global.get G
//	i64.const 2; last - first; local.tee $c; i64.shl; i64.const 1; i64.sub
//	i64.const -1; local.get $c; i64.const 64; i64.lt_u; select
//	first; i64.rotl; i64.or; global.set G
//
// with first = dst>>s and last = (dst+n-1)>>s computed in i64 (no
// wrap-around: dst+n-1 < 2^33), so a span that ends beyond the memory is
// marked and then traps without writing anything, which is harmless. A span
// of c+1 units sets c+1 consecutive bits (mod 64) starting at first, and
// all 64 when it covers 64 units or more. The meter's charge for the
// length (bulk.go) is already in the code right before the instruction, so
// a module out of gas stops before marking.
//
// The scratch locals ($a, $n: i32; $v: one per stored value type, the i32
// one doubling as $x and the i64 one as $c; $q: i64) are appended to the
// function's local declarations, only those the body needs; a function may
// thus have up to 8 local declarations and 7 + 4 locals more than the
// maxLocals screen allows its input (with the argument locals below),
// which wazero accepts. Functions without stores, bulk memory instructions or marked
// calls,
// and every other section but global, export and code, are left byte for
// byte. Nothing is charged: the pass runs after the meter, on its output,
// and adds no instruction the meter could price, no call and no function,
// so gas and the call depth count are exactly those without it.
//
// What it costs at run time (BenchmarkWriteTracking, wazero's compiler,
// thread CPU time of interleaved chunks on a loaded 2-core machine): a v1
// kv.set of a 100-byte value about 18% (minima 18.3 -> 21.9 us; 9% with
// the regions alone), loopmod's spin(1000), whose map updates store a lot,
// about 23% (86 -> 105 us; 12% with the regions alone). The page marking
// pays for itself on the host's side: a kv.set's restore compares ~16
// pages instead of ~6 regions (384 KiB). The Go v1 module has about 64,000
// stores and 550 bulk memory instructions; the pass makes its code section
// 65% larger (3.89 -> 6.42 MB; 39%, 5.42 MB, with the regions alone).
//
// Imported functions write memory too, out of the pass's sight, so every
// call to an import (call or return_call) that may write first marks what
// it may write, from the call's own arguments (table importWrites, in
// writes_imports.go): the last arguments, from the lowest parameter a
// range names, go into i32 scratch locals, each range [p, p+n) is marked
// as a bulk span (pages and regions; nothing for n == 0), and they are
// pushed back:
//
//	local.set $a_k; ...; local.set $a_lo
//	[local.get $n; if] <masks of [p, p+n)> [end]    ;; per range
//	local.get $a_lo; ...; local.get $a_k; call f
//
// An import the table lists as writing nothing marks nothing; any other
// import, or a listed one whose signature does not match, sets all 64
// bits of both globals. So does every call_indirect and return_call_indirect when an
// element segment or global names an import that may write (Go's tables
// hold only Go functions: its indirect calls mark nothing); and a module
// exporting such an import is refused, since the host would call it
// directly. This too is free and outside the depth counting. The i32
// argument locals (as many as the largest call needs) follow the other
// scratch locals.
//
// # The host's contract
//
// Before a call the host sets both globals to 0 (it may keep them across
// calls that it does not reset in between). After the call, whether it
// returned or trapped, every byte of linear memory that the module's own
// code changed, and every byte an import wrote on behalf of the guest,
// lies in
//
//	[q<<12, (q+1)<<12 + 8) for some page q with
//	bit ((q>>4) mod 64) set in W (WrittenGlobalExport) AND
//	bit (q mod 64) set in P (WrittenPagesGlobalExport),
//
// provided each import writes only the ranges its importWrites entry names
// (an import not listed may write anything: its calls set every bit of
// both). So the host compares (or restores) each page q below the memory's
// current size whose two bits are set, with the 8 bytes that follow it;
// pages 64 apart share a bit of P and regions 64 apart (4 MiB) a bit of W,
// which only makes the host compare more. The region-level contract of W
// alone (every change lies in [r<<16, (r+1)<<16 + 8) for a region r with
// bit r mod 64 set) follows from it and still holds. A trap leaves the
// bits of every write made before it, and of the import call it traps in.
//
// What the module does not mark: the host's own direct writes into memory
// outside an import call made by the guest (run() writing the request
// before calling vchain_execute, or anything the host writes between
// calls), which the host must mark itself by ORing the pages into P and
// their regions into W (or record them on its own side); host functions that write beyond
// their importWrites entry (keep the table in step with app/runtime's
// host functions and the WASI module); and memory.grow, which writes
// nothing but adds zeroed pages beyond the snapshot's size, which the host
// must notice from the memory's size. Active data segments
// are written at instantiation, before any snapshot is taken.

// WrittenGlobalExport is the export name of the injected mutable i64 global
// whose bit r mod 64 is set when the module writes into the 64 KiB region r
// of its memory (see "The host's contract" in writes.go).
const WrittenGlobalExport = "vchain_written"

// WrittenPagesGlobalExport is the export name of the second injected
// mutable i64 global, whose bit q mod 64 is set when the module writes into
// the 4 KiB page q of its memory. The host takes page q as written only when
// this bit and bit (q>>4) mod 64 of WrittenGlobalExport are both set (see
// "The host's contract" in writes.go).
const WrittenPagesGlobalExport = "vchain_written_pages"

// Opcodes of the write tracking.
const (
	opStoreFirst = 0x36 // i32.store
	opStoreLast  = 0x3e // i64.store32
	opSelect     = 0x1b
	opLocalTee   = 0x22
	opI64Shl     = 0x86
	opI64ShrU    = 0x88
	opI64Rotl    = 0x89
	opI64Or      = 0x84
	opI64LtU     = 0x54
	opI64Extend  = 0xad // i64.extend_i32_u
	opPrefixFC   = 0xfc
	fcMemoryInit = 8
	fcMemoryCopy = 10
	fcMemoryFill = 11
)

// storeType is the value type a store opcode takes from the stack.
func storeType(op byte) byte {
	switch op {
	case 0x36, 0x3a, 0x3b:
		return 0x7f // i32
	case 0x37, 0x3c, 0x3d, 0x3e:
		return 0x7e // i64
	case 0x38:
		return 0x7d // f32
	default: // 0x39
		return 0x7c // f64
	}
}

// Scratch locals a function may need, in the order they are declared.
const (
	scratchAddr = iota // i32: the address, dst of a bulk instruction
	scratchLen         // i32: n of a bulk instruction
	scratchI32         // i32: stored value, src or val of a bulk instruction
	scratchI64         // i64: stored value, region count of a bulk instruction
	scratchF32
	scratchF64
	scratchPage // i64: the page index of a store
	numScratch
)

var scratchTypes = [numScratch]byte{0x7f, 0x7f, 0x7f, 0x7e, 0x7d, 0x7c, 0x7e}

// scratchFor is the scratch local holding a stored value of type t.
func scratchFor(t byte) int {
	switch t {
	case 0x7f:
		return scratchI32
	case 0x7e:
		return scratchI64
	case 0x7d:
		return scratchF32
	}
	return scratchF64
}

// writeModule is what trackWrites reads of its input. parseModule cannot
// be used: it refuses the names of the metering globals, which Instrument's
// output exports.
type writeModule struct {
	module
	paramTypes [][]byte      // parameter types of each type, one byte each
	imports    []importMarks // what a call to each imported function marks
}

func parseWriteModule(b []byte) (*writeModule, error) {
	secs, err := splitSections(b)
	if err != nil {
		return nil, err
	}
	m := &writeModule{module: module{sections: secs, globalIdx: -1, exportIdx: -1, codeIdx: -1, typeIdx: -1, funcIdx: -1, memoryIdx: -1}}
	for i, s := range secs {
		var err error
		switch s.id {
		case secType:
			m.typeIdx = i
			if m.paramTypes, err = typeParams(s); err == nil {
				m.types = uint32(len(m.paramTypes))
			}
		case secImport:
			if err = m.parseImports(s); err == nil {
				m.imports, err = importedFuncMarks(s, m.paramTypes)
			}
		case secFunction:
			m.funcIdx = i
			err = m.parseFunctions(s)
		case secGlobal:
			m.globalIdx = i
			err = m.parseGlobals(s)
		case secExport:
			m.exportIdx = i
		case secCode:
			m.codeIdx = i
		}
		if err != nil {
			return nil, fmt.Errorf("section id %d at offset %d: %w", s.id, s.offset, err)
		}
	}
	return m, nil
}

// typeParams returns the parameter types of each function type.
func typeParams(s section) ([][]byte, error) {
	b := s.payload
	n, pos, err := readU32(b, 0)
	if err != nil {
		return nil, err
	}
	if err := checkCount(n, b, pos); err != nil {
		return nil, err
	}
	params := make([][]byte, 0, n)
	for i := uint32(0); i < n; i++ {
		if pos >= len(b) || b[pos] != 0x60 {
			return nil, fmt.Errorf("type %d: not a function type", i)
		}
		pos++
		for j := 0; j < 2; j++ {
			var k uint32
			if k, pos, err = readU32(b, pos); err == nil {
				err = checkCount(k, b, pos)
			}
			if err != nil {
				return nil, fmt.Errorf("type %d: %w", i, err)
			}
			if j == 0 {
				params = append(params, b[pos:pos+int(k)])
			}
			pos += int(k) // one byte per value type (screenTypes)
		}
	}
	if pos != len(b) {
		return nil, fmt.Errorf("section size mismatch: %d bytes left after %d types", len(b)-pos, n)
	}
	return params, nil
}

// trackWrites is the pass Instrument ends with: addWriteTracking. It is a
// variable only so that the tests can run Instrument without it and show
// that gas is the same.
var trackWrites = addWriteTracking

// addWriteTracking returns a copy of wasm in which every write to linear memory
// by the module's code first marks its 4 KiB page and its 64 KiB region in
// two appended globals exported as WrittenPagesGlobalExport and
// WrittenGlobalExport (see the comment at the top of this file). It runs
// on Instrument's output; a module that already exports either name is
// refused.
func addWriteTracking(wasm []byte) ([]byte, error) {
	m, err := parseWriteModule(wasm)
	if err != nil {
		return nil, fmt.Errorf("meter: write tracking: %w", err)
	}
	w := m.gasIndex() // the first free global index; the page global follows
	if w >= math.MaxUint32-1 {
		return nil, fmt.Errorf("meter: write tracking: too many globals")
	}

	var globals []byte
	newGlobal := []byte{0x7e, 0x01, 0x42, 0x00, 0x0b} // (mut i64) (i64.const 0)
	newGlobals := cat(newGlobal, newGlobal)
	if m.globalIdx >= 0 {
		if globals, err = appendVector(m.sections[m.globalIdx].payload, 2, newGlobals); err != nil {
			return nil, fmt.Errorf("meter: write tracking: global section: %w", err)
		}
	} else {
		globals = cat(appendU32(nil, 2), newGlobals)
	}

	var entry []byte
	for i, name := range []string{WrittenGlobalExport, WrittenPagesGlobalExport} {
		entry = appendU32(entry, uint32(len(name)))
		entry = append(entry, name...)
		entry = appendU32(append(entry, kindGlobal), w+uint32(i))
	}
	var exports []byte
	if m.exportIdx >= 0 {
		old := m.sections[m.exportIdx].payload
		if err := refuseExport(old, m.imports); err != nil {
			return nil, fmt.Errorf("meter: write tracking: export section: %w", err)
		}
		if exports, err = appendVector(old, 2, entry); err != nil {
			return nil, fmt.Errorf("meter: write tracking: export section: %w", err)
		}
	} else {
		exports = cat(appendU32(nil, 2), entry)
	}

	var code []byte
	if m.codeIdx >= 0 {
		if code, err = m.trackCode(w); err != nil {
			return nil, fmt.Errorf("meter: write tracking: %w", err)
		}
	}

	var replaced map[int][]byte
	if code != nil {
		replaced = map[int][]byte{m.codeIdx: code}
	}
	out := make([]byte, 0, len(wasm)+len(code)-codeLen(&m.module)+len(entry)+len(newGlobals)+16)
	out = m.assemble(out, globals, exports, replaced)
	return out, nil
}

// refuseExport returns an error if the export section payload b has an
// export called WrittenGlobalExport or WrittenPagesGlobalExport, or exports an imported function that may write
// memory: the host calling it directly would write memory that no code of
// the module marks.
func refuseExport(b []byte, imports []importMarks) error {
	n, pos, err := readU32(b, 0)
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		var start, end int
		if start, end, err = readName(b, pos); err != nil {
			return fmt.Errorf("export %d: name: %w", i, err)
		}
		if name := string(b[start:end]); name == WrittenGlobalExport || name == WrittenPagesGlobalExport {
			return fmt.Errorf("export %d: name %q is reserved for the write tracking globals", i, name)
		}
		if end >= len(b) {
			return fmt.Errorf("export %d: kind: %w", i, errEOF)
		}
		var idx uint32
		if idx, pos, err = readU32(b, end+1); err != nil {
			return fmt.Errorf("export %d: index: %w", i, err)
		}
		if b[end] == kindFunc && idx < uint32(len(imports)) && imports[idx].writes() {
			return fmt.Errorf("export %d (%q) is imported function %d, which may write memory: the host would call it unmarked", i, b[start:end], idx)
		}
	}
	return nil
}

// trackCode returns the code section payload with every function's writes
// tracked in globals w (regions) and w+1 (pages), or nil when no function writes to memory (the
// section is then copied as it is).
func (m *writeModule) trackCode(w uint32) ([]byte, error) {
	s := m.sections[m.codeIdx]
	b := s.payload
	n, pos, err := readU32(b, 0)
	if err != nil {
		return nil, fmt.Errorf("code section at offset %d: function count: %w", s.offset, err)
	}
	if n != m.definedFuncs {
		return nil, fmt.Errorf("code section has %d bodies but the function section declares %d", n, m.definedFuncs)
	}
	indirect, err := m.refsWritingImport()
	if err != nil {
		return nil, err
	}
	t := &writeTracker{d: decoder{gasIdx: w}, w: w, imports: m.imports, indirect: indirect}
	out := make([]byte, 0, len(b)+len(b)/4)
	out = append(out, b[:pos]...) // the count, as it was encoded
	changed := false
	for i := uint32(0); i < n; i++ {
		fidx := uint64(m.importedFuncs) + uint64(i)
		start := pos
		size, p, err := readU32(b, pos)
		if err != nil {
			return nil, fmt.Errorf("function %d: body size at offset %d: %w", fidx, s.offset+pos, err)
		}
		if uint64(p)+uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("function %d: body size %d at offset %d exceeds the %d bytes left in the code section", fidx, size, s.offset+pos, len(b)-p)
		}
		pos = p + int(size)
		body, err := t.function(b[p:pos], s.offset+p, uint32(len(m.paramTypes[m.funcTypes[i]])))
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", fidx, err)
		}
		if body == nil {
			out = append(out, b[start:pos]...) // size prefix included
			continue
		}
		changed = true
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if pos != len(b) {
		return nil, fmt.Errorf("code section at offset %d: section size mismatch: %d bytes left after %d bodies", s.offset, len(b)-pos, n)
	}
	if !changed {
		return nil, nil
	}
	if uint64(len(out)) > math.MaxUint32 {
		return nil, fmt.Errorf("code section with write tracking exceeds 4 GiB")
	}
	return out, nil
}

// writeTracker rewrites function bodies; its buffers are reused.
type writeTracker struct {
	d       decoder
	w       uint32        // the written global's index; the page global is w+1
	imports []importMarks // what a call to each imported function marks
	// indirect: a table may hold an imported function that writes memory,
	// so every call_indirect marks all 64 bits of both globals.
	indirect bool
	sites    []int // offsets of the writing instructions of the current body
	local    [numScratch]uint32
	args     uint32 // first of the i32 locals saving a call's arguments
	fn       []byte
}

// function returns body with its writes tracked, or nil when it has none.
// base is the module offset of body[0]; params is the function's parameter
// count.
func (t *writeTracker) function(body []byte, base int, params uint32) ([]byte, error) {
	codeAt, err := skipLocalsUnbounded(body, base)
	if err != nil {
		return nil, err
	}
	t.d.stack = t.d.stack[:0]
	t.sites = t.sites[:0]
	var used [numScratch]bool
	saved := uint32(0) // i32 locals for the arguments of the calls marked
	for pos := codeAt; ; {
		if pos >= len(body) {
			return nil, fmt.Errorf("%w (%d blocks open)", errMissingEnd, len(t.d.stack))
		}
		at := pos
		var tm term
		if pos, tm, _, err = t.d.step(body, pos, base); err != nil {
			return nil, err
		}
		switch op := body[at]; {
		case op >= opStoreFirst && op <= opStoreLast:
			t.sites = append(t.sites, at)
			used[scratchAddr], used[scratchPage] = true, true
			used[scratchFor(storeType(op))] = true
		case op == opPrefixFC && isBulkMemory(body, at):
			t.sites = append(t.sites, at)
			used[scratchAddr], used[scratchLen], used[scratchI32], used[scratchI64] = true, true, true, true
		case op == opCallW || op == opReturnCall:
			f, _, _ := readU32(body, at+1) // checked by step
			if f < uint32(len(t.imports)) && t.imports[f].writes() {
				t.sites = append(t.sites, at)
				if im := t.imports[f]; !im.all {
					saved = max(saved, uint32(im.saved))
					used[scratchI64] = true
				}
			}
		case op == opCallIndirectW || op == opReturnCallIndirect:
			if t.indirect {
				t.sites = append(t.sites, at)
			}
		}
		if tm == termFinal {
			if pos != len(body) {
				return nil, fmt.Errorf("unbalanced end at offset %d: %d bytes follow the function's final end", base+pos-1, len(body)-pos)
			}
			break
		}
	}
	if len(t.sites) == 0 {
		return nil, nil
	}

	// Local declarations: the old ones, then one entry per scratch local
	// used, numbered after every parameter and declared local.
	decls, p, _ := readU32(body, 0) // checked by skipLocalsUnbounded
	next := uint64(params)
	for q := p; q < codeAt; {
		var k uint32
		k, q, _ = readU32(body, q)
		next += uint64(k)
		q++ // value type
	}
	added := uint32(0) // declarations
	for k := range used {
		if used[k] {
			added++
		}
	}
	if saved > 0 {
		added++
	}
	if next+uint64(added)+uint64(saved) > math.MaxUint32 {
		return nil, fmt.Errorf("too many locals to add the write tracking's")
	}
	t.fn = appendU32(t.fn[:0], decls+added) // decls <= len(body), far below 2^32-7
	t.fn = append(t.fn, body[p:codeAt]...)
	for k := range used {
		if used[k] {
			t.local[k] = uint32(next)
			next++
			t.fn = append(t.fn, 0x01, scratchTypes[k])
		}
	}
	if saved > 0 {
		t.args = uint32(next)
		t.fn = append(appendU32(t.fn, saved), 0x7f)
	}

	from := codeAt
	for _, at := range t.sites {
		t.fn = append(t.fn, body[from:at]...)
		switch op := body[at]; {
		case op == opPrefixFC:
			t.fn = t.markSpan(t.fn)
		case op >= opStoreFirst && op <= opStoreLast:
			_, q, _ := readU32(body, at+1) // alignment; checked by step
			offset, _, _ := readU32(body, q)
			t.fn = t.markStore(t.fn, storeType(op), offset)
		case op == opCallW || op == opReturnCall:
			f, _, _ := readU32(body, at+1)
			t.fn = t.markCall(t.fn, t.imports[f])
		default: // call_indirect, return_call_indirect
			t.fn = t.markAll(t.fn)
		}
		from = at
	}
	t.fn = append(t.fn, body[from:]...)
	return t.fn, nil
}

// isBulkMemory reports whether the 0xfc instruction at b[at] is
// memory.init, memory.copy or memory.fill (step has decoded it).
func isBulkMemory(b []byte, at int) bool {
	sub, _, err := readU32(b, at+1)
	return err == nil && (sub == fcMemoryInit || sub == fcMemoryCopy || sub == fcMemoryFill)
}

// skipLocalsUnbounded is skipLocals without the maxLocals screen: the
// input is Instrument's output, screened already, and trackWrites may run
// on a module whose functions the screen would refuse only because of the
// locals it added itself.
func skipLocalsUnbounded(body []byte, base int) (int, error) {
	n, pos, err := readU32(body, 0)
	if err != nil {
		return pos, fmt.Errorf("local declaration count at offset %d: %w", base, err)
	}
	for i := uint32(0); i < n; i++ {
		if _, pos, err = readU32(body, pos); err != nil {
			return pos, fmt.Errorf("local declaration %d at offset %d: %w", i, base+pos, err)
		}
		if pos >= len(body) {
			return pos, fmt.Errorf("local declaration %d: %w", i, errEOF)
		}
		if !isValType(body[pos]) {
			return pos, fmt.Errorf("local declaration %d at offset %d: unsupported value type 0x%02x", i, base+pos, body[pos])
		}
		pos++
	}
	return pos, nil
}

func (t *writeTracker) get(b []byte, k int) []byte {
	return appendU32(append(b, opLocalGetW), t.local[k])
}
func (t *writeTracker) set(b []byte, k int) []byte {
	return appendU32(append(b, opLocalSetW), t.local[k])
}
func (t *writeTracker) tee(b []byte, k int) []byte {
	return appendU32(append(b, opLocalTee), t.local[k])
}

// Opcodes shared with the test helpers' names, spelled apart so the two
// files stay independent.
const (
	opLocalGetW  = 0x20
	opLocalSetW  = 0x21
	opGlobalGetW = 0x23
	opGlobalSetW = 0x24
	opI64ConstW  = 0x42
	opI64AddW    = 0x7c
	opI64SubW    = 0x7d
	opIfW        = 0x04
	// opCallW and opCallIndirectW: call and call_indirect.
	opCallW         = 0x10
	opCallIndirectW = 0x11
)

// storePages says whether stores mark their page. It is a variable only so
// that a test can drop that marking and show that the host's contract then
// breaks.
var storePages = true

// markStore appends the code that marks the page and the region of a store
// of a value of type vt at offset from the address on the stack, leaving
// the stack as the store expects it.
func (t *writeTracker) markStore(b []byte, vt byte, offset uint32) []byte {
	v := scratchFor(vt)
	b = t.set(b, v)
	b = t.set(b, scratchAddr)
	if storePages {
		b = appendU32(append(b, opGlobalGetW), t.w+1)
		b = append(b, opI64ConstW, 1)
	}
	b = t.get(b, scratchAddr)
	b = append(b, opI64Extend)
	if offset != 0 {
		b = appendS64(append(b, opI64ConstW), int64(offset))
		b = append(b, opI64AddW)
	}
	b = append(b, opI64ConstW, 12, opI64ShrU)
	if !storePages {
		b = t.set(b, scratchPage)
	} else {
		b = t.tee(b, scratchPage)
		b = append(b, opI64Shl, opI64Or)
		b = appendU32(append(b, opGlobalSetW), t.w+1)
	}
	b = appendU32(append(b, opGlobalGetW), t.w)
	b = append(b, opI64ConstW, 1)
	b = t.get(b, scratchPage)
	b = append(b, opI64ConstW, 4, opI64ShrU, opI64Shl, opI64Or)
	b = appendU32(append(b, opGlobalSetW), t.w)
	b = t.get(b, scratchAddr)
	return t.get(b, v)
}

// markSpan appends the code that marks the regions of the n bytes from dst
// written by a bulk instruction whose operands (dst, x, n) are on the
// stack, leaving them there.
func (t *writeTracker) markSpan(b []byte) []byte {
	b = t.set(b, scratchLen)
	b = t.set(b, scratchI32)
	b = t.tee(b, scratchAddr)
	b = t.get(b, scratchLen)
	b = append(b, opIfW, 0x40)
	b = t.masks(b, t.local[scratchAddr], t.local[scratchLen], 0)
	b = append(b, opEnd)
	b = t.get(b, scratchI32)
	return t.get(b, scratchLen)
}

// masks appends the code that marks the pages and the regions of the n >= 1
// bytes from the i32 in local p, n being the i32 in local l, or size when
// size is not 0.
func (t *writeTracker) masks(b []byte, p, l, size uint32) []byte {
	b = t.mask(b, t.w+1, 12, p, l, size)
	return t.mask(b, t.w, 16, p, l, size)
}

// mask appends the code that ORs into global g the units of 1<<shift bytes
// (pages or regions) of the n >= 1 bytes from the i32 in local p, n being
// the i32 in local l, or size when size is not 0:
//
//	mask = c < 64 ? (2 << c) - 1 : -1, rotated left by first
//
// for the c+1 units from first to last.
func (t *writeTracker) mask(b []byte, g uint32, shift byte, p, l, size uint32) []byte {
	b = appendU32(append(b, opGlobalGetW), g)
	b = append(b, opI64ConstW, 2)
	b = t.first(t.last(b, shift, p, l, size), shift, p)
	b = append(b, opI64SubW)
	b = t.tee(b, scratchI64)
	b = append(b, opI64Shl, opI64ConstW, 1, opI64SubW, opI64ConstW, 0x7f) // i64.const -1
	b = t.get(b, scratchI64)
	b = append(b, opI64ConstW, 0xc0, 0x00, opI64LtU, opSelect) // i64.const 64
	b = t.first(b, shift, p)
	b = append(b, opI64Rotl, opI64Or)
	return appendU32(append(b, opGlobalSetW), g)
}

// markAll appends the code that sets all 64 bits of both written globals.
func (t *writeTracker) markAll(b []byte) []byte {
	for _, g := range []uint32{t.w, t.w + 1} {
		b = append(b, opI64ConstW, 0x7f) // i64.const -1
		b = appendU32(append(b, opGlobalSetW), g)
	}
	return b
}

// markCall appends the code that marks what a call to an import may write,
// with the call's arguments on the stack, leaving them there: the last
// im.saved arguments go into the argument locals (the top one into the
// last), the spans are marked from them, and they are pushed back in order.
func (t *writeTracker) markCall(b []byte, im importMarks) []byte {
	if im.all {
		return t.markAll(b)
	}
	k := uint32(im.saved)
	for j := k; j > 0; j-- {
		b = appendU32(append(b, opLocalSetW), t.args+j-1)
	}
	arg := func(param int) uint32 { return t.args + uint32(param-im.lo) }
	for _, sp := range im.spans {
		switch {
		case sp.length >= 0:
			b = appendU32(append(b, opLocalGetW), arg(sp.length))
			b = append(b, opIfW, 0x40)
			b = t.masks(b, arg(sp.ptr), arg(sp.length), 0)
			b = append(b, opEnd)
		case sp.size > 0:
			b = t.masks(b, arg(sp.ptr), 0, sp.size)
		}
	}
	for j := uint32(0); j < k; j++ {
		b = appendU32(append(b, opLocalGetW), t.args+j)
	}
	return b
}

// first appends (i64) p >> shift for the i32 in local p.
func (t *writeTracker) first(b []byte, shift byte, p uint32) []byte {
	b = appendU32(append(b, opLocalGetW), p)
	return append(b, opI64Extend, opI64ConstW, shift, opI64ShrU)
}

// last appends (i64) (p + n - 1) >> shift for the i32 in local p and n the
// i32 in local l, or size when size is not 0 (n >= 1).
func (t *writeTracker) last(b []byte, shift byte, p, l, size uint32) []byte {
	b = appendU32(append(b, opLocalGetW), p)
	b = append(b, opI64Extend)
	if size != 0 {
		if size > 1 {
			b = appendS64(append(b, opI64ConstW), int64(size)-1)
			b = append(b, opI64AddW)
		}
	} else {
		b = appendU32(append(b, opLocalGetW), l)
		b = append(b, opI64Extend, opI64AddW, opI64ConstW, 1, opI64SubW)
	}
	return append(b, opI64ConstW, shift, opI64ShrU)
}
