package meter

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Bulk instruction encodings, each taking (i32, i32|ref, i32 length).
var (
	opMemoryInit = []byte{0xfc, 8, 0, 0}  // data segment 0
	opMemoryCopy = []byte{0xfc, 10, 0, 0} //
	opMemoryFill = []byte{0xfc, 11, 0}    //
)

const (
	bulkMemPages = 1024    // 64 MiB, the runtime's cap
	bulkSegment  = 1 << 16 // bytes of the passive data segment
)

// bulkOp is one bulk instruction with the operands pushed before its length.
type bulkOp struct {
	name     string
	operands []byte // the first two operands
	op       []byte
	max      uint32 // the longest in-bounds length
}

var bulkOps = []bulkOp{
	{"memory.fill", []byte{opI32Const, 0, opI32Const, 1}, opMemoryFill, bulkMemPages << 16},
	// From the upper half to the lower: no overlap, so no engine can skip work.
	{"memory.copy", cat([]byte{opI32Const, 0, opI32Const}, sleb32(bulkMemPages<<15)), opMemoryCopy, bulkMemPages << 15},
	{"memory.init", []byte{opI32Const, 0, opI32Const, 0}, opMemoryInit, bulkSegment},
}

func sleb32(v int32) []byte { return appendS64(nil, int64(v)) }

// bulkModule returns a module with 64 MiB of memory, a passive data segment
// of bulkSegment bytes (0x2a), and two exports:
//
//	"f" (param $n i32): op with length $n, once. One segment:
//	  [operands(2) local.get op(10) end] = 14 gas, plus the length price.
//	"loop" (param $n i32) (param $iters i32): op with length $n, $iters times.
func bulkModule(o bulkOp) []byte {
	once := cat(o.operands, []byte{opLocalGet, 0}, o.op, []byte{opEnd})
	loop := cat([]byte{
		opBlock, bt, opLoop, bt,
		opLocalGet, 1, opI32Eqz, opBrIf, 1},
		o.operands, []byte{opLocalGet, 0}, o.op,
		[]byte{
			opLocalGet, 1, opI32Const, 1, opI32Sub, opLocalSet, 1,
			opBr, 0,
			opEnd, opEnd, opEnd,
		})
	return mod(
		sec(secType, vec(functype([]byte{i32}, nil), functype([]byte{i32, i32}, nil))),
		sec(secFunction, vec(u32(0), u32(1))),
		sec(secMemory, vec(cat([]byte{0x01}, u32(bulkMemPages), u32(bulkMemPages)))),
		sec(secExport, vec(export("f", kindFunc, 0), export("loop", kindFunc, 1), export("memory", kindMemory, 0))),
		sec(secDataCount, u32(1)),
		sec(secCode, vec(
			cat(u32(uint32(len(once)+1)), []byte{0}, once),
			cat(u32(uint32(len(loop)+1)), []byte{0}, loop),
		)),
		sec(secData, vec(cat([]byte{0x01}, u32(bulkSegment), bytes.Repeat([]byte{0x2a}, bulkSegment)))),
	)
}

// TestBulkPrice: each bulk instruction costs its segment's 14 gas plus
// ceil(length / BulkBytesPerGas), on both engines; exactly that much gas
// succeeds, one less runs out.
func TestBulkPrice(t *testing.T) {
	for _, o := range bulkOps {
		lengths := []uint32{0, 1, 7, 8, 9, 4096, 4097, o.max}
		wasm := bulkModule(o)
		for _, e := range engines {
			for _, n := range lengths {
				t.Run(fmt.Sprintf("%s/%s/%d", o.name, e.name, n), func(t *testing.T) {
					want := 14 + bulkPrice(rules1, bulkBytes, n)
					_, left, err := run(t, e.cfg(), wasm, want+1000, "f", uint64(n))
					if err != nil {
						t.Fatalf("call: %v", err)
					}
					if used := want + 1000 - left; used != want {
						t.Errorf("gas used = %d, want %d", used, want)
					}
					if _, left, err := run(t, e.cfg(), wasm, want, "f", uint64(n)); err != nil || left != 0 {
						t.Errorf("with limit = cost: err=%v left=%d, want success with 0 left", err, left)
					}
					if _, left, err := run(t, e.cfg(), wasm, want-1, "f", uint64(n)); err == nil || left >= 0 {
						t.Errorf("with limit = cost-1: err=%v left=%d, want out of gas", err, left)
					}
				})
			}
		}
	}
}

// TestBulkPriceFormula pins the schedule itself.
func TestBulkPriceFormula(t *testing.T) {
	tests := []struct {
		kind bulkKind
		n    uint32
		want int64
	}{
		{bulkBytes, 0, 0},
		{bulkBytes, 1, 1},
		{bulkBytes, 8, 1},
		{bulkBytes, 9, 2},
		{bulkBytes, 64 << 20, 8 << 20},
		{bulkBytes, 1<<32 - 1, 1 << 29},
	}
	for _, tc := range tests {
		if got := bulkPrice(rules1, tc.kind, tc.n); got != tc.want {
			t.Errorf("bulkPrice(rules1, %d, %d) = %d, want %d", tc.kind, tc.n, got, tc.want)
		}
	}
}

// TestStepBulkKind: step names the helper of exactly the three bulk
// instructions.
func TestStepBulkKind(t *testing.T) {
	tests := []struct {
		enc  []byte
		want bulkKind
	}{
		{opMemoryInit, bulkBytes},
		{opMemoryCopy, bulkBytes},
		{opMemoryFill, bulkBytes},
		{[]byte{0xfc, 16, 0}, bulkNone}, // table.size
		{[]byte{0x40, 0}, bulkNone},     // memory.grow
		{[]byte{0x10, 0}, bulkNone},     // call
	}
	for _, tc := range tests {
		d := decoder{gasIdx: 1, rules: rules1, bulk: bulkBytes} // a stale kind must be cleared
		if _, _, _, err := d.step(tc.enc, 0, 0); err != nil {
			t.Fatalf("% x: %v", tc.enc, err)
		}
		if d.bulk != tc.want {
			t.Errorf("% x: bulk kind %d, want %d", tc.enc, d.bulk, tc.want)
		}
	}
}

// TestBulkOutOfGasBeforeWork: a 64 MiB memory.fill with one gas too few
// traps in the helper, before the fill writes a single byte, with the same
// gas left on both engines.
func TestBulkOutOfGasBeforeWork(t *testing.T) {
	ctx := context.Background()
	out, err := Instrument(bulkModule(bulkOps[0]), rules1)
	if err != nil {
		t.Fatal(err)
	}
	const n = bulkMemPages << 16
	cost := 14 + bulkPrice(rules1, bulkBytes, n)
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			r := wazero.NewRuntimeWithConfig(ctx, e.cfg())
			defer r.Close(ctx)
			m, err := r.Instantiate(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			g := m.ExportedGlobal(GasGlobalExport).(api.MutableGlobal)
			g.Set(uint64(cost - 1))
			_, err = m.ExportedFunction("f").Call(ctx, n)
			if err == nil || !strings.Contains(err.Error(), "unreachable") {
				t.Fatalf("err = %v, want an unreachable trap", err)
			}
			// The segment's 14 is paid first, then the length price
			// takes the gas to exactly -1.
			if left := int64(g.Get()); left != -1 {
				t.Errorf("gas left = %d, want -1", left)
			}
			mem, _ := m.Memory().Read(0, n)
			if i := bytes.IndexByte(mem, 1); i >= 0 {
				t.Errorf("memory[%d] was written: the fill ran before the trap", i)
			}
		})
	}
}

// TestBulkHelpersLayout: helpers are appended only to modules whose code
// uses bulk instructions, after every existing type and function, so no
// index moves, and the output is the same on every run.
func TestBulkHelpersLayout(t *testing.T) {
	for _, tc := range []struct {
		name      string
		wasm      []byte
		types     uint32 // after instrumentation
		funcs     uint32
		withHelps bool
	}{
		{"no bulk instruction", callModule, 1, 2, false},
		{"memory.fill", bulkModule(bulkOps[0]), 3, 3, true},
		{"memory.init", bulkModule(bulkOps[2]), 3, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Instrument(tc.wasm, rules1)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Instrument(tc.wasm, rules1)
			if !bytes.Equal(out, again) {
				t.Fatal("two runs gave different output")
			}
			// The output exports the gas global, which parseModule
			// refuses: compare sections by position (none is added).
			secs, err := splitSections(out)
			if err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
			in, _ := parseModule(tc.wasm)
			for _, c := range []struct {
				idx  int
				want uint32
			}{{in.typeIdx, tc.types}, {in.funcIdx, tc.funcs}} {
				old, got := in.sections[c.idx], secs[c.idx]
				n, q, _ := readU32(got.payload, 0)
				if got.id != old.id || n != c.want {
					t.Errorf("section %d: id %d with %d entries, want %d", old.id, got.id, n, c.want)
				}
				_, p, _ := readU32(old.payload, 0)
				if tc.withHelps {
					// The old entries are kept, in order, before the new ones.
					if !bytes.HasPrefix(got.payload[q:], old.payload[p:]) {
						t.Errorf("section %d: old entries changed", old.id)
					}
				} else if !bytes.Equal(old.raw, got.raw) {
					t.Errorf("section %d changed without bulk instructions", old.id)
				}
			}
		})
	}
}

// TestBulkInDeadCode: a bulk instruction after br gets its helper call too;
// the output must still validate.
func TestBulkInDeadCode(t *testing.T) {
	wasm := mod(
		sec(secType, vec(functype(nil, nil))),
		sec(secFunction, vec(u32(0))),
		sec(secMemory, vec([]byte{0x00, 0x01})),
		sec(secExport, vec(export("f", kindFunc, 0))),
		sec(secCode, vec(body(nil,
			opBlock, bt, opBr, 0,
			opI32Const, 0, opI32Const, 0, opI32Const, 1, 0xfc, 11, 0, // dead memory.fill
			opEnd,
			opI32Const, 0, opI32Const, 0, opI32Const, 1, 0xfc, 11, 0, // live memory.fill of 1 byte
			opEnd))),
	)
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			// [block br]=2, dead code up to its end free, [3 consts
			// fill(10) end]=14, 1 byte=1.
			_, left, err := run(t, e.cfg(), wasm, 100, "f")
			if err != nil || left != 100-17 {
				t.Fatalf("err=%v left=%d, want success with %d left", err, left, 100-17)
			}
		})
	}
}

// BenchmarkBulk measures what one gas of length price buys: each bulk
// instruction at several lengths, looped inside wasm (compiler engine), so
// ns/gas can be compared with ordinary instructions: "instructions" is a
// loop of 8 gas per iteration (countdownModule), "tightest" the cheapest
// possible loop, (loop (br 0)) at 1 gas per iteration, run until 10M gas
// are gone. The slowest ns/gas any instruction mix reaches is what a
// transaction's gas limit bounds, so a length price should not be slower.
func BenchmarkBulk(b *testing.B) {
	b.Run("tightest", func(b *testing.B) { benchGas(b, loopModule, "f", true) })
	b.Run("instructions", func(b *testing.B) { benchGas(b, countdownModule, "f", false, 1_000_000) })
	for _, o := range bulkOps {
		for _, n := range []uint32{8, 256, 4096, 64 << 10, 1 << 20, 64 << 20} {
			if n > o.max {
				n = o.max
			}
			// About 64 MiB of work per call, at least one op.
			iters := uint64(max(1, (64<<20)/n))
			b.Run(fmt.Sprintf("%s/%d", o.name, n), func(b *testing.B) {
				benchGas(b, bulkModule(o), "loop", false, uint64(n), iters)
			})
			if n == o.max {
				break
			}
		}
	}
}

// benchGas calls the instrumented wasm's fn with args (compiler engine) and
// reports the gas and ns per gas of a call. A forever function never ends:
// it gets 10M gas and must run out.
func benchGas(b *testing.B, wasm []byte, fn string, forever bool, args ...uint64) {
	ctx := context.Background()
	out, err := Instrument(wasm, rules1)
	if err != nil {
		b.Fatal(err)
	}
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	m, err := r.Instantiate(ctx, out)
	if err != nil {
		b.Fatal(err)
	}
	g := m.ExportedGlobal(GasGlobalExport).(api.MutableGlobal)
	f := m.ExportedFunction(fn)
	limit := int64(1 << 62)
	if forever {
		limit = 10_000_000
	}
	var used int64
	for b.Loop() {
		g.Set(uint64(limit))
		_, err := f.Call(ctx, args...)
		if forever != (err != nil) {
			b.Fatalf("forever %v, call error %v", forever, err)
		}
		used = min(limit, limit-int64(g.Get()))
	}
	b.ReportMetric(float64(used), "gas/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(used), "ns/gas")
}

// BenchmarkSlowOps: loops of the instructions wazero's compiler runs in Go
// rather than in generated code (ref.func, memory.grow), until 10M gas are
// gone; compare ns/gas with BenchmarkBulk/tightest (see costGrow and
// costRefFunc). memory.size, run in generated code, for comparison.
func BenchmarkSlowOps(b *testing.B) {
	forever := func(code ...byte) []byte {
		return mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0))),
			sec(secMemory, vec([]byte{0x01, 0x01, 0x01})), // 1 page, max 1
			sec(secExport, vec(export("f", kindFunc, 0))),
			sec(secElement, vec(cat([]byte{0x03, 0x00}, vec(u32(0))))), // declarative: ref.func 0
			sec(secCode, vec(body(nil, cat([]byte{opLoop, bt}, code, []byte{opBr, 0, opEnd, opEnd})...))),
		)
	}
	for _, tc := range []struct {
		name string
		code []byte
	}{
		{"ref.func", []byte{0xd2, 0, opDrop}},
		{"memory.grow 0", []byte{opI32Const, 0, 0x40, 0, opDrop}},
		{"memory.grow fails", []byte{opI32Const, 1, 0x40, 0, opDrop}},
		{"memory.size", []byte{0x3f, 0, opDrop}},
	} {
		b.Run(tc.name, func(b *testing.B) { benchGas(b, forever(tc.code...), "f", true) })
	}
}
