package meter

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Opcodes of the write tracking tests.
var (
	opI32Store   = []byte{0x36, 2} // alignment 4; the offset follows
	opI64Store   = []byte{0x37, 3}
	opF32Store   = []byte{0x38, 2}
	opF64Store   = []byte{0x39, 3}
	opI32Store8  = []byte{0x3a, 0}
	opI32Store16 = []byte{0x3b, 1}
	opI64Store8  = []byte{0x3c, 0}
	opI64Store16 = []byte{0x3d, 1}
	opI64Store32 = []byte{0x3e, 2}
)

const (
	opI32WrapI64 = 0xa7
	region       = 1 << 16
	page         = 1 << 12
)

// pageBits returns the page global's value for the bytes first to last,
// page by page (all 64 bits once they span 64 pages).
func pageBits(first, last uint64) uint64 {
	var p uint64
	for q := first / page; q <= last/page; q++ {
		p |= 1 << (q % 64)
	}
	return p
}

// trackGlobals are the two written globals of an instance.
type trackGlobals struct{ w, p api.MutableGlobal }

// trackGlobalsOf returns m's written globals, or nil when m has none.
func trackGlobalsOf(tb testing.TB, m api.Module) *trackGlobals {
	w, okW := m.ExportedGlobal(WrittenGlobalExport).(api.MutableGlobal)
	p, okP := m.ExportedGlobal(WrittenPagesGlobalExport).(api.MutableGlobal)
	if okW != okP {
		tb.Fatalf("%s exported: %v, %s exported: %v", WrittenGlobalExport, okW, WrittenPagesGlobalExport, okP)
	}
	if !okW {
		return nil
	}
	return &trackGlobals{w, p}
}

func (g *trackGlobals) reset()             { g.w.Set(0); g.p.Set(0) }
func (g *trackGlobals) get() (w, p uint64) { return g.w.Get(), g.p.Get() }

// mark ORs the pages of [ptr, ptr+n) and their regions into the globals,
// as the host marks its own writes.
func (g *trackGlobals) mark(ptr, n uint32) {
	if n == 0 {
		return
	}
	first, last := uint64(ptr), uint64(ptr)+uint64(n)-1
	var w uint64
	for r := first / region; r <= last/region; r++ {
		w |= 1 << (r % 64)
	}
	g.w.Set(g.w.Get() | w)
	g.p.Set(g.p.Get() | pageBits(first, last))
}

// bitsOf returns the written global's value for the given regions.
func bitsOf(regions ...uint32) uint64 {
	var w uint64
	for _, r := range regions {
		w |= 1 << (r % 64)
	}
	return w
}

// span returns the regions from first to last.
func span(first, last uint32) []uint32 {
	var rs []uint32
	for r := first; r <= last; r++ {
		rs = append(rs, r)
	}
	return rs
}

// writesModule returns a module with pages of memory (exported), a passive
// data segment of segBytes bytes (when segBytes > 0) and one exported
// function "f" (param i32 i32 i32) with the given body and local
// declarations.
func writesModule(pages uint32, segBytes int, locals [][]byte, code ...byte) []byte {
	secs := [][]byte{
		sec(secType, vec(functype([]byte{i32, i32, i32}, nil))),
		sec(secFunction, vec(u32(0))),
		sec(secMemory, vec(cat([]byte{0x01}, u32(pages), u32(pages)))),
		sec(secExport, vec(export("f", kindFunc, 0), export("memory", kindMemory, 0))),
	}
	if segBytes > 0 {
		secs = append(secs, sec(secDataCount, u32(1)))
	}
	secs = append(secs, sec(secCode, vec(body(locals, code...))))
	if segBytes > 0 {
		seg := make([]byte, segBytes)
		for i := range seg {
			seg[i] = byte(i%251 + 1) // no zero, so every byte written changes
		}
		secs = append(secs, sec(secData, vec(cat([]byte{0x01}, u32(uint32(segBytes)), seg))))
	}
	return mod(secs...)
}

// written is the outcome of one call of a write tracking test.
type written struct {
	w             uint64 // the written global after the call
	p             uint64 // the page global after the call
	before, after []byte // memory before and after
	gasLeft       int64
	err           error
}

// runWrites instruments wasm (with trackWrites as it is), instantiates it,
// fills its memory with a pattern, sets the written global to 0 and the
// gas to limit, and calls "f".
func runWrites(tb testing.TB, cfg wazero.RuntimeConfig, wasm []byte, limit int64, args ...uint64) written {
	tb.Helper()
	ctx := context.Background()
	out, err := Instrument(wasm, rules1)
	if err != nil {
		tb.Fatalf("Instrument: %v", err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer r.Close(ctx)
	m, err := r.Instantiate(ctx, out)
	if err != nil {
		tb.Fatalf("instantiate: %v", err)
	}
	m.ExportedGlobal(GasGlobalExport).(api.MutableGlobal).Set(uint64(limit))
	wg := trackGlobalsOf(tb, m)
	if wg != nil {
		wg.reset()
	}
	// A pattern that no fill, copy or store of the tests reproduces
	// whole, so that checkContract sees their writes.
	mem := m.Memory()
	pattern := make([]byte, mem.Size())
	for i := range pattern {
		pattern[i] = byte(i % 251)
	}
	mem.Write(0, pattern)
	var res written
	res.before = memCopy(mem)
	_, res.err = m.ExportedFunction("f").Call(ctx, args...)
	res.after = memCopy(m.Memory())
	res.gasLeft = int64(m.ExportedGlobal(GasGlobalExport).Get())
	if wg != nil {
		res.w, res.p = wg.get()
	}
	return res
}

func memCopy(mem api.Memory) []byte {
	b, _ := mem.Read(0, mem.Size())
	return bytes.Clone(b)
}

// checkContract checks the host's contract (writes.go): every byte that
// differs between before and after (after may be longer: grown memory
// starts zeroed) lies in a page q whose region bit (q>>4) mod 64 is set in
// w and whose page bit q mod 64 is set in p, or in the first 8 bytes after
// such a page.
func checkContract(before, after []byte, w, p uint64) error {
	marked := func(q int) bool {
		return q >= 0 && w>>(uint(q>>4)%64)&1 == 1 && p>>(uint(q)%64)&1 == 1
	}
	for at := 0; at < len(after); at += page {
		end := min(at+page, len(after))
		if end <= len(before) && bytes.Equal(before[at:end], after[at:end]) {
			continue
		}
		for i := at; i < end; i++ {
			var old byte
			if i < len(before) {
				old = before[i]
			}
			if after[i] == old {
				continue
			}
			q := i / page
			if !marked(q) && !(i%page < 8 && marked(q-1)) {
				return fmt.Errorf("byte %#x (page %d, region %d) changed but bit %d of %#016x and bit %d of %#016x are not both set", i, q, q>>4, (q>>4)%64, w, q%64, p)
			}
		}
	}
	return nil
}

// TestWriteTrackingStores: each store marks the region of its effective
// address, and of nothing else, on both engines.
func TestWriteTrackingStores(t *testing.T) {
	i64val := []byte{opLocalGet, 2, 0xad /* i64.extend_i32_u */, opI64Const, 0x80, 0x80, 0x80, 0x80, 0x10 /* 1<<32 */, 0x84 /* i64.or */}
	tests := []struct {
		name   string
		value  []byte // pushes the value from local 2
		op     []byte
		offset uint32
		addr   uint32
		want   uint64
	}{
		{"i32.store at 0", []byte{opLocalGet, 2}, opI32Store, 0, 0, bitsOf(0)},
		{"i32.store in region 1", []byte{opLocalGet, 2}, opI32Store, 0, region + 12, bitsOf(1)},
		{"i32.store by offset", []byte{opLocalGet, 2}, opI32Store, 3 * region, 4, bitsOf(3)},
		{"offset carries into the next region", []byte{opLocalGet, 2}, opI32Store8, 1, region - 1, bitsOf(1)},
		{"i64.store spilling into region 1", i64val, opI64Store, 0, region - 4, bitsOf(0)},
		{"i64.store8", i64val, opI64Store8, 0, 5*region - 1, bitsOf(4)},
		{"i64.store16", i64val, opI64Store16, 0x20, 6 * region, bitsOf(6)},
		{"i64.store32 offset and address", i64val, opI64Store32, 2*region - 2, region, bitsOf(2)},
		{"i32.store16", []byte{opLocalGet, 2}, opI32Store16, 0, 63*region + 0x1234, bitsOf(63)},
		{"f32.store", []byte{opF32Const, 0, 0, 0x80, 0x3f}, opF32Store, 0, 7 * region, bitsOf(7)},
		{"f64.store", []byte{opF64Const, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, opF64Store, 8, 9*region - 8, bitsOf(9)},
		// Over 4 MiB regions alias: region 64 is bit 0, 73 is bit 9.
		{"region 64 aliases 0", []byte{opLocalGet, 2}, opI32Store, 0, 64 * region, bitsOf(0)},
		{"i64.store in region 73", i64val, opI64Store, 3 * region, 70*region + 100, bitsOf(9)},
		{"last bytes of memory", i64val, opI64Store, 0, 80*region - 8, bitsOf(79)},
	}
	for _, e := range engines {
		for _, tc := range tests {
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				code := cat([]byte{opLocalGet, 0}, tc.value, tc.op, u32(tc.offset), []byte{opEnd})
				wasm := writesModule(80, 0, nil, code...)
				res := runWrites(t, e.cfg(), wasm, hugeGas, uint64(tc.addr), 0, 0xa5a5a5a5)
				if res.err != nil {
					t.Fatalf("call: %v", res.err)
				}
				if res.w != tc.want {
					t.Errorf("written = %#016x, want %#016x", res.w, tc.want)
				}
				ea := uint64(tc.addr) + uint64(tc.offset)
				if want := pageBits(ea, ea); res.p != want {
					t.Errorf("pages = %#016x, want %#016x", res.p, want)
				}
				if bytes.Equal(res.before, res.after) {
					t.Error("the store changed nothing: the test is vacuous")
				}
				if err := checkContract(res.before, res.after, res.w, res.p); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// TestWriteTrackingBulk: memory.fill, memory.copy and memory.init mark every
// region from dst to dst+n-1, none for n = 0, all 64 bits for a span of 64
// regions or more.
func TestWriteTrackingBulk(t *testing.T) {
	const (
		pages    = 140 // 8.75 MiB: spans wrap around the 64 bits
		segBytes = 3*region + 1
	)
	all := uint64(math.MaxUint64)
	tests := []struct {
		name   string
		dst, n uint32
		want   uint64
	}{
		{"n = 0", 5*region + 3, 0, 0},
		{"n = 0 at the end of memory", pages * region, 0, 0},
		{"one byte", 2*region - 1, 1, bitsOf(1)},
		{"two bytes across a boundary", 2*region - 1, 2, bitsOf(1, 2)},
		{"three whole regions", 0, 3 * region, bitsOf(0, 1, 2)},
		{"three regions and a byte", 0, 3*region + 1, bitsOf(0, 1, 2, 3)},
		{"inside one region", 10*region + 100, 1000, bitsOf(10)},
		{"across bit 63 to bit 0", 62*region + 5, 2 * region, bitsOf(62, 63, 64)},
		{"regions 60 to 67", 60 * region, 8 * region, bitsOf(span(60, 67)...)},
		{"63 regions", 0, 63 * region, bitsOf(span(0, 62)...)},
		{"64 regions from 0", 0, 64 * region, all},
		{"64 regions not aligned", region / 2, 63 * region, all},
		{"65 regions", region / 2, 64 * region, all},
		{"whole memory", 0, pages * region, all},
		{"above 4 MiB", 100*region + 7, 2 * region, bitsOf(100, 101, 102)},
	}
	ops := []struct {
		name string
		x    uint32 // src or value
		op   []byte
	}{
		{"memory.fill", 0x5a, opMemoryFill},
		{"memory.copy", 3 * region, opMemoryCopy},
		{"memory.init", 0, opMemoryInit},
	}
	for _, e := range engines {
		for _, o := range ops {
			for _, tc := range tests {
				if o.op[1] == opMemoryInit[1] && tc.n > segBytes {
					continue // memory.init traps beyond the segment
				}
				t.Run(e.name+"/"+o.name+"/"+tc.name, func(t *testing.T) {
					code := cat([]byte{opLocalGet, 0, opLocalGet, 1, opLocalGet, 2}, o.op, []byte{opEnd})
					wasm := writesModule(pages, segBytes, nil, code...)
					x := o.x
					if o.op[1] == opMemoryCopy[1] {
						x = min(x, pages*region-tc.n) // the source must fit too
					}
					res := runWrites(t, e.cfg(), wasm, hugeGas, uint64(tc.dst), uint64(x), uint64(tc.n))
					if res.err != nil {
						t.Fatalf("call: %v", res.err)
					}
					if res.w != tc.want {
						t.Errorf("written = %#016x, want %#016x", res.w, tc.want)
					}
					var wantP uint64
					if tc.n > 0 {
						wantP = pageBits(uint64(tc.dst), uint64(tc.dst)+uint64(tc.n)-1)
					}
					if res.p != wantP {
						t.Errorf("pages = %#016x, want %#016x", res.p, wantP)
					}
					if err := checkContract(res.before, res.after, res.w, res.p); err != nil {
						t.Error(err)
					}
				})
			}
		}
	}
}

// TestWriteTrackingTrap: a trap leaves the bits of every write before it
// (and those of the trapping instruction, marked before it runs), and none
// of the writes after it.
func TestWriteTrackingTrap(t *testing.T) {
	const pages = 128
	store := func(addr uint32) []byte {
		return cat([]byte{opI32Const}, sleb32(int32(addr)), []byte{opLocalGet, 2}, opI32Store, u32(0))
	}
	fill := func(dst, n uint32) []byte {
		return cat([]byte{opI32Const}, sleb32(int32(dst)), []byte{opI32Const, 1, opI32Const}, sleb32(int32(n)), opMemoryFill)
	}
	at := func(a uint64) uint64 { return pageBits(a, a) }
	tests := []struct {
		name        string
		code        []byte
		want, wantP uint64
	}{
		{"unreachable", cat(store(5*region), fill(7*region, 10), []byte{opUnreachable}, store(9*region)), bitsOf(5, 7), at(5*region) | at(7*region)},
		// 0xfffffff0 is region 0xffff, bit 63, and page 0xfffff, bit 63,
		// marked before the trap.
		{"store out of bounds", cat(store(5*region), store(0xfffffff0), store(9*region)), bitsOf(5, 63), at(5*region) | at(0xfffffff0)},
		{"fill out of bounds", cat(store(5*region), fill(120*region, 20*region), store(9*region)), bitsOf(append(span(120, 139), 5)...), math.MaxUint64},
		{"fill ending past memory", cat(store(5*region), fill(pages*region-4, 5), store(9*region)), bitsOf(5, 127, 128), at(5*region) | pageBits(pages*region-4, pages*region)},
	}
	for _, e := range engines {
		for _, tc := range tests {
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				wasm := writesModule(pages, 0, nil, cat(tc.code, []byte{opEnd})...)
				res := runWrites(t, e.cfg(), wasm, hugeGas, 0, 0, 0xa5a5a5a5)
				if res.err == nil {
					t.Fatal("call returned, want a trap")
				}
				if res.w != tc.want || res.p != tc.wantP {
					t.Errorf("written = %#016x, pages %#016x, want %#016x, %#016x", res.w, res.p, tc.want, tc.wantP)
				}
				if err := checkContract(res.before, res.after, res.w, res.p); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// TestWriteTrackingOutOfGas: running out of gas between two writes keeps
// the bits of the first only. The loop stores to region i, i = 0, 1, ...,
// for [loop]=1 once and 10 gas per iteration, charged at the top of each;
// whatever iteration it stops in, the bits are exactly those of the
// regions its memory shows written.
func TestWriteTrackingOutOfGas(t *testing.T) {
	// (param $i i32 ...) (loop (i32.store (i32.shl (local.get 0) (i32.const 16)) (local.get 2))
	//   (local.set 0 (i32.add (local.get 0) (i32.const 1))) (br 0))
	code := cat([]byte{opLoop, bt,
		opLocalGet, 0, opI32Const, 16, 0x74 /* i32.shl */, opLocalGet, 2}, opI32Store, u32(0),
		[]byte{opLocalGet, 0, opI32Const, 1, opI32Add, opLocalSet, 0, opBr, 0, opEnd, opEnd})
	wasm := writesModule(64, 0, nil, code...)
	for _, e := range engines {
		for _, limit := range []int64{1, 10, 11, 12, 21, 100, 10*63 + 1} {
			t.Run(fmt.Sprintf("%s/%d", e.name, limit), func(t *testing.T) {
				res := runWrites(t, e.cfg(), wasm, limit, 0, 0, 0xa5a5a5a5)
				if res.err == nil || res.gasLeft >= 0 {
					t.Fatalf("err %v, gas left %d: want out of gas", res.err, res.gasLeft)
				}
				var want, wantP uint64
				for r := 0; r < 64; r++ {
					if !bytes.Equal(res.before[r*region:r*region+4], res.after[r*region:r*region+4]) {
						want |= 1 << r
						wantP |= pageBits(uint64(r*region), uint64(r*region))
					}
				}
				if want == 0 && limit > 11 {
					t.Errorf("nothing written with %d gas: the test is vacuous", limit)
				}
				if res.w != want || res.p != wantP {
					t.Errorf("written = %#016x, pages %#016x, want %#016x, %#016x (the regions and pages written)", res.w, res.p, want, wantP)
				}
			})
		}
	}
}

// withoutTracking runs f with Instrument not tracking writes.
func withoutTracking(f func()) {
	defer func(p func([]byte) ([]byte, error)) { trackWrites = p }(trackWrites)
	trackWrites = func(b []byte) ([]byte, error) { return b, nil }
	f()
}

// TestWriteTrackingLeavesTheRest: only the global, export and code
// sections change, a function without writes keeps its body byte for byte,
// and a module without writes keeps its code section.
func TestWriteTrackingLeavesTheRest(t *testing.T) {
	writer := body(nil, opLocalGet, 0, opLocalGet, 1, 0x36, 2, 0, opEnd)
	reader := body(nil, opLocalGet, 0, 0x28, 2, 0, opEnd) // i32.load
	for _, tc := range []struct {
		name   string
		bodies [][]byte
		code   bool // the code section changes
	}{
		{"writer and reader", [][]byte{writer, reader}, true},
		{"reader only", [][]byte{reader, reader}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wasm := mod(
				sec(secCustom, cat(name("first"), []byte{1, 2, 3})),
				sec(secType, vec(functype([]byte{i32, i32}, nil), functype([]byte{i32}, []byte{i32}))),
				sec(secFunction, vec(u32(0), u32(1))),
				sec(secMemory, vec([]byte{0x00, 0x01})),
				sec(secGlobal, vec([]byte{i32, 0x01, opI32Const, 7, opEnd})),
				sec(secExport, vec(export("w", kindFunc, 0), export("r", kindFunc, 1))),
				sec(secCode, vec(tc.bodies...)),
				sec(secData, vec(cat([]byte{0x00, opI32Const, 0, opEnd}, vec([]byte{0xaa})))),
				sec(secCustom, cat(name("last"), []byte{4})),
			)
			var plain []byte
			withoutTracking(func() {
				var err error
				if plain, err = Instrument(wasm, rules1); err != nil {
					t.Fatal(err)
				}
			})
			out, err := Instrument(wasm, rules1)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := splitSections(plain)
			b, err := splitSections(out)
			if err != nil || len(a) != len(b) {
				t.Fatalf("%d sections, want %d (%v)", len(b), len(a), err)
			}
			for i := range a {
				same := bytes.Equal(a[i].raw, b[i].raw)
				changes := a[i].id == secGlobal || a[i].id == secExport || (a[i].id == secCode && tc.code)
				if same == changes {
					t.Errorf("section %d (id %d): changed %v, want %v", i, a[i].id, !same, changes)
				}
			}
			if !tc.code {
				return
			}
			// The writer's body changes, the reader's is copied as it was.
			pb, ob := codeBodies(t, plain), codeBodies(t, out)
			if bytes.Equal(pb[0], ob[0]) || !bytes.Equal(pb[1], ob[1]) {
				t.Errorf("bodies: writer's changed %v, reader's %v; want true, false", !bytes.Equal(pb[0], ob[0]), !bytes.Equal(pb[1], ob[1]))
			}
		})
	}
}

// codeBodies returns the function bodies of a module, size prefixes
// included.
func codeBodies(t *testing.T, wasm []byte) [][]byte {
	t.Helper()
	m, err := parseWriteModule(wasm)
	if err != nil {
		t.Fatal(err)
	}
	b := m.sections[m.codeIdx].payload
	n, pos, _ := readU32(b, 0)
	var out [][]byte
	for i := uint32(0); i < n; i++ {
		size, p, err := readU32(b, pos)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b[pos:p+int(size)])
		pos = p + int(size)
	}
	return out
}

// TestWriteTrackingRefusesName: a module exporting WrittenGlobalExport or
// WrittenPagesGlobalExport would let the host read the module's own value
// as the written regions or pages.
func TestWriteTrackingRefusesName(t *testing.T) {
	for _, name := range []string{WrittenGlobalExport, WrittenPagesGlobalExport} {
		wasm := mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0))),
			sec(secExport, vec(export(name, kindFunc, 0))),
			sec(secCode, vec(body(nil, opEnd))),
		)
		if _, err := Instrument(wasm, rules1); err == nil || !strings.Contains(err.Error(), "reserved for the write tracking globals") {
			t.Errorf("%s: Instrument = %v, want the name refused", name, err)
		}
	}
}

// TestWriteTrackingValidates: writes in dead code, in blocks, in a function
// with the most locals the screen allows and with parameters of every type
// all come out valid (wazero compiles them) and run.
func TestWriteTrackingValidates(t *testing.T) {
	ctx := context.Background()
	everyStore := cat(
		[]byte{opLocalGet, 0, opLocalGet, 2}, opI32Store, u32(0),
		[]byte{opLocalGet, 0, opLocalGet, 2, 0xad}, opI64Store, u32(8),
		[]byte{opLocalGet, 0, opF32Const, 0, 0, 0, 0}, opF32Store, u32(16),
		[]byte{opLocalGet, 0, opF64Const, 0, 0, 0, 0, 0, 0, 0, 0}, opF64Store, u32(24),
		[]byte{opLocalGet, 0, opLocalGet, 1, opLocalGet, 2}, opMemoryFill,
	)
	tests := []struct {
		name   string
		locals [][]byte
		code   []byte
	}{
		{"every store", nil, cat(everyStore, []byte{opEnd})},
		{"dead code", nil, cat([]byte{opUnreachable}, everyStore, []byte{opEnd})},
		{"dead code after br", nil, cat([]byte{opBlock, bt, opBr, 0}, everyStore, []byte{opEnd, opEnd})},
		{"in a loop and an if", nil, cat([]byte{opLoop, bt, opLocalGet, 2, opIf, bt}, everyStore, []byte{opEnd, opEnd, opEnd})},
		{"50000 locals", [][]byte{cat(u32(maxLocals-3), []byte{i64})}, cat(everyStore, []byte{opEnd})},
		{"values left below", nil, cat([]byte{opI32Const, 9, opI64Const, 9}, everyStore, []byte{opDrop, opDrop, opEnd})},
	}
	for _, e := range engines {
		for _, tc := range tests {
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				out, err := Instrument(writesModule(2, 0, tc.locals, tc.code...), rules1)
				if err != nil {
					t.Fatal(err)
				}
				r := wazero.NewRuntimeWithConfig(ctx, e.cfg())
				defer r.Close(ctx)
				m, err := r.Instantiate(ctx, out)
				if err != nil {
					t.Fatalf("instantiate: %v", err)
				}
				m.ExportedGlobal(GasGlobalExport).(api.MutableGlobal).Set(hugeGas)
				if _, err := m.ExportedFunction("f").Call(ctx, region+3, 1, 100); err != nil && !strings.Contains(err.Error(), "unreachable") {
					t.Fatalf("call: %v", err)
				}
			})
		}
	}
}

// TestWriteTrackingFree: the tracking costs no gas. The meter's test
// modules and the write tracking tests' own modules use exactly the same
// gas with and without it, to the unit, succeeding or running out.
func TestWriteTrackingFree(t *testing.T) {
	type call struct {
		name  string
		wasm  []byte
		limit int64
		args  []uint64
	}
	calls := []call{
		{"loop", loopModule, 1000, nil},
		{"straight", straightModule, hugeGas, []uint64{4, 5}},
		{"recursive", recursiveModule, hugeGas, []uint64{100}},
		{"countdown", countdownModule, hugeGas, []uint64{1000}},
		{"call", callModule, hugeGas, []uint64{20}},
		{"if", ifModule, hugeGas, []uint64{1}},
	}
	for _, o := range bulkOps {
		calls = append(calls,
			call{o.name, bulkModule(o), hugeGas, []uint64{4097}},
			call{o.name + " out of gas", bulkModule(o), 100, []uint64{4097}})
	}
	store := cat([]byte{opLoop, bt, opLocalGet, 0, opLocalGet, 2}, opI32Store, u32(3),
		[]byte{opLocalGet, 0, opLocalGet, 1, opLocalGet, 2}, opMemoryFill,
		[]byte{opLocalGet, 0, opI32Const, 1, opI32Add, opLocalSet, 0, opBr, 0, opEnd, opEnd})
	calls = append(calls,
		call{"stores and fills, out of gas", writesModule(4, 0, nil, store...), 10_000, []uint64{0, 7, 9}},
		call{"stores and fills, out of bounds", writesModule(1, 0, nil, store...), hugeGas, []uint64{0, 7, 9}})
	for _, e := range engines {
		for _, c := range calls {
			t.Run(e.name+"/"+c.name, func(t *testing.T) {
				var plainLeft int64
				var plainErr error
				withoutTracking(func() {
					_, plainLeft, plainErr = run(t, e.cfg(), c.wasm, c.limit, "f", c.args...)
				})
				_, left, err := run(t, e.cfg(), c.wasm, c.limit, "f", c.args...)
				if left != plainLeft || (err == nil) != (plainErr == nil) {
					t.Errorf("with tracking: %d gas left (%v); without: %d (%v)", left, err, plainLeft, plainErr)
				}
				if left == c.limit {
					t.Error("no gas used: the test is vacuous")
				}
			})
		}
	}
}
