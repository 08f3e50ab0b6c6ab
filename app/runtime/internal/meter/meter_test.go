package meter

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// engines runs every execution test on both wazero engines: the metering is
// plain wasm, so they must agree to the unit.
var engines = []struct {
	name string
	cfg  func() wazero.RuntimeConfig
}{
	{"compiler", wazero.NewRuntimeConfig},
	{"interpreter", wazero.NewRuntimeConfigInterpreter},
}

// run instruments wasm, instantiates it in a fresh runtime, sets the gas to
// limit, calls fn and returns its results, the remaining gas and the call
// error.
func run(t *testing.T, cfg wazero.RuntimeConfig, wasm []byte, limit int64, fn string, args ...uint64) ([]uint64, int64, error) {
	t.Helper()
	return runWith(t, cfg, wasm, rules1, limit, fn, args...)
}

// runWith is run under the given rules.
func runWith(t *testing.T, cfg wazero.RuntimeConfig, wasm []byte, rules Rules, limit int64, fn string, args ...uint64) ([]uint64, int64, error) {
	t.Helper()
	ctx := context.Background()
	out, err := Instrument(wasm, rules)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer r.Close(ctx)
	m, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatalf("instantiate instrumented module: %v", err)
	}
	g, ok := m.ExportedGlobal(GasGlobalExport).(api.MutableGlobal)
	if !ok {
		t.Fatalf("no mutable global %q exported", GasGlobalExport)
	}
	g.Set(uint64(limit))
	res, callErr := m.ExportedFunction(fn).Call(ctx, args...)
	return res, int64(g.Get()), callErr
}

// Hand-assembled modules. Each exports its entry function as "f".

// (func (export "f") (loop (br 0)))
var loopModule = mod(
	sec(secType, vec(functype(nil, nil))),
	sec(secFunction, vec(u32(0))),
	sec(secExport, vec(export("f", kindFunc, 0))),
	sec(secCode, vec(body(nil, opLoop, bt, opBr, 0, opEnd, opEnd))),
)

// (func (export "f") (param i32 i32) (result i32)
//
//	(i32.mul (i32.add (local.get 0) (local.get 1)) (i32.const 3)))
//
// One segment of 6 instructions, the final end included.
var straightModule = mod(
	sec(secType, vec(functype([]byte{i32, i32}, []byte{i32}))),
	sec(secFunction, vec(u32(0))),
	sec(secExport, vec(export("f", kindFunc, 0))),
	sec(secCode, vec(body(nil, opLocalGet, 0, opLocalGet, 1, opI32Add, opI32Const, 3, opI32Mul, opEnd))),
)

// (func $f (export "f") (param i64) (result i64)
//
//	(if (result i64) (i64.eqz (local.get 0))
//	  (then (i64.const 0))
//	  (else (i64.add (call $f (i64.sub (local.get 0) (i64.const 1))) (local.get 0)))))
//
// Segments: entry [local.get i64.eqz if]=3, then [i64.const else]=2,
// else [local.get i64.const i64.sub call(10) local.get i64.add end]=16,
// after end [end]=1. So cost(0)=3+2+1=6 and cost(n)=3+16+1+cost(n-1):
// cost(n)=20n+6.
var recursiveModule = mod(
	sec(secType, vec(functype([]byte{i64}, []byte{i64}))),
	sec(secFunction, vec(u32(0))),
	sec(secExport, vec(export("f", kindFunc, 0))),
	sec(secCode, vec(body(nil,
		opLocalGet, 0, opI64Eqz, opIf, i64,
		opI64Const, 0,
		opElse,
		opLocalGet, 0, opI64Const, 1, opI64Sub, opCall, 0, opLocalGet, 0, opI64Add,
		opEnd,
		opEnd))),
)

// (func $f (export "f") (call $f)): unbounded recursion, [call end]=11 per
// call, so it runs out of gas long before the engine's stack does.
var recurseForeverModule = mod(
	sec(secType, vec(functype(nil, nil))),
	sec(secFunction, vec(u32(0))),
	sec(secExport, vec(export("f", kindFunc, 0))),
	sec(secCode, vec(body(nil, opCall, 0, opEnd))),
)

// (func (export "f") (param $n i32) (result i32)
//
//	(block (loop
//	  (br_if 1 (i32.eqz (local.get $n)))
//	  (local.set $n (i32.sub (local.get $n) (i32.const 1)))
//	  (br 0)))
//	(local.get $n))
//
// Segments: entry [block loop]=2; loop body [local.get i32.eqz br_if]=3;
// fall-through [local.get i32.const i32.sub local.set br]=5; dead [end] not
// charged; [end] after the loop's end=1 (dead too, but charged: the pass
// does not track reachability through ends); after the block
// [local.get end]=2. cost(n) = 2 + 8n + 3 + 2 = 8n+7.
var countdownModule = mod(
	sec(secType, vec(functype([]byte{i32}, []byte{i32}))),
	sec(secFunction, vec(u32(0))),
	sec(secExport, vec(export("f", kindFunc, 0))),
	sec(secCode, vec(body(nil,
		opBlock, bt, opLoop, bt,
		opLocalGet, 0, opI32Eqz, opBrIf, 1,
		opLocalGet, 0, opI32Const, 1, opI32Sub, opLocalSet, 0, opBr, 0,
		opEnd,
		opEnd,
		opLocalGet, 0,
		opEnd))),
)

// Two functions: f(x) = g(x)+1 with g(x) = 2x.
// f: [local.get call(10) i32.const i32.add end]=14; g: [local.get i32.const
// i32.mul end]=4.
var callModule = mod(
	sec(secType, vec(functype([]byte{i32}, []byte{i32}))),
	sec(secFunction, vec(u32(0), u32(0))),
	sec(secExport, vec(export("f", kindFunc, 0))),
	sec(secCode, vec(
		body(nil, opLocalGet, 0, opCall, 1, opI32Const, 1, opI32Add, opEnd),
		body(nil, opLocalGet, 0, opI32Const, 2, opI32Mul, opEnd),
	)),
)

// (func (export "f") (param i32) (result i32)
//
//	(if (result i32) (local.get 0) (then (i32.const 1)) (else (i32.const 2))))
//
// Both paths: [local.get if]=2 + [i32.const else]=2 or [i32.const end]=2,
// then [end]=1: 5.
var ifModule = mod(
	sec(secType, vec(functype([]byte{i32}, []byte{i32}))),
	sec(secFunction, vec(u32(0))),
	sec(secExport, vec(export("f", kindFunc, 0))),
	sec(secCode, vec(body(nil,
		opLocalGet, 0, opIf, i32, opI32Const, 1, opElse, opI32Const, 2, opEnd, opEnd))),
)

func TestExactCost(t *testing.T) {
	tests := []struct {
		name   string
		wasm   []byte
		args   []uint64
		want   uint64
		cost   int64
		signed bool
	}{
		{"straight", straightModule, []uint64{4, 5}, 27, 6, false},
		{"if true", ifModule, []uint64{1}, 1, 5, false},
		{"if false", ifModule, []uint64{0}, 2, 5, false},
		{"call", callModule, []uint64{20}, 41, 18, false},
		{"recursive 0", recursiveModule, []uint64{0}, 0, 6, false},
		{"recursive 10", recursiveModule, []uint64{10}, 55, 206, false},
		{"recursive 100", recursiveModule, []uint64{100}, 5050, 2006, false},
		{"countdown 0", countdownModule, []uint64{0}, 0, 7, false},
		{"countdown 1000", countdownModule, []uint64{1000}, 0, 8007, false},
	}
	for _, e := range engines {
		for _, tc := range tests {
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				const limit = 1_000_000
				res, left, err := run(t, e.cfg(), tc.wasm, limit, "f", tc.args...)
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				if len(res) != 1 || res[0] != tc.want {
					t.Errorf("result = %v, want %d", res, tc.want)
				}
				if used := limit - left; used != tc.cost {
					t.Errorf("gas used = %d, want %d", used, tc.cost)
				}
				// Exactly enough gas succeeds; one less runs out.
				if _, left, err := run(t, e.cfg(), tc.wasm, tc.cost, "f", tc.args...); err != nil || left != 0 {
					t.Errorf("with limit = cost: err=%v left=%d, want success with 0 left", err, left)
				}
				_, left, err = run(t, e.cfg(), tc.wasm, tc.cost-1, "f", tc.args...)
				if err == nil || left >= 0 {
					t.Errorf("with limit = cost-1: err=%v left=%d, want out-of-gas trap", err, left)
				}
			})
		}
	}
}

func TestOutOfGasIsDeterministic(t *testing.T) {
	tests := []struct {
		name  string
		wasm  []byte
		limit int64
		left  int64 // remaining gas after the trap
	}{
		// Entry charges [loop]=1, each iteration [br 0]=1: the charge that
		// takes the gas from 0 to -1 traps.
		{"infinite loop", loopModule, 12345, -1},
		// Each call charges 11; 1000 = 90*11 + 10, so call 91 traps at -1;
		// 1005 = 91*11 + 4, so call 92 traps at -7.
		{"infinite recursion", recurseForeverModule, 1000, -1},
		{"infinite recursion 2", recurseForeverModule, 1005, -7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var firstErr string
			for i, e := range engines {
				for rep := 0; rep < 2; rep++ {
					_, left, err := run(t, e.cfg(), tc.wasm, tc.limit, "f")
					if err == nil {
						t.Fatalf("%s: call returned without trapping", e.name)
					}
					if !strings.Contains(err.Error(), "unreachable") {
						t.Errorf("%s: err = %v, want an unreachable trap", e.name, err)
					}
					if left != tc.left {
						t.Errorf("%s run %d: gas left = %d, want %d", e.name, rep, left, tc.left)
					}
					if i == 0 && rep == 0 {
						firstErr = err.Error()
					} else if i == 0 && err.Error() != firstErr {
						t.Errorf("%s: error differs between runs: %q vs %q", e.name, err, firstErr)
					}
				}
			}
		})
	}
}

func TestContractTrapIsNotOutOfGas(t *testing.T) {
	// (func (export "f") unreachable): the contract's own trap leaves the
	// gas non-negative, which is how the host tells the two apart.
	wasm := mod(
		sec(secType, vec(functype(nil, nil))),
		sec(secFunction, vec(u32(0))),
		sec(secExport, vec(export("f", kindFunc, 0))),
		sec(secCode, vec(body(nil, opUnreachable, opEnd))),
	)
	_, left, err := run(t, wazero.NewRuntimeConfig(), wasm, 100, "f")
	if err == nil || left != 99 {
		t.Fatalf("err=%v left=%d, want a trap with 99 left ([unreachable]=1, dead end not charged)", err, left)
	}
}

// TestLayout checks section placement and index preservation on a module
// with imported and defined globals, custom sections and a start-less
// export list.
func TestLayout(t *testing.T) {
	ctx := context.Background()
	// env exports an i32 global g = 7.
	env := mod(
		sec(secGlobal, vec(cat([]byte{i32, 0x00}, []byte{opI32Const, 7, opEnd}))),
		sec(secExport, vec(export("g", kindGlobal, 0))),
	)
	custom1 := sec(secCustom, cat(name("first"), []byte{1, 2, 3}))
	custom2 := sec(secCustom, cat(name("middle"), []byte{4, 5}))
	custom3 := sec(secCustom, cat(name("last"), []byte{6}))
	typeSec := sec(secType, vec(functype(nil, []byte{i64})))
	importSec := sec(secImport, vec(cat(name("env"), name("g"), []byte{kindGlobal, i32, 0x00})))
	funcSec := sec(secFunction, vec(u32(0), u32(0)))
	memSec := sec(secMemory, vec([]byte{0x00, 0x01}))
	// Defined global 1: (mut i64) (i64.const 5).
	globalSec := sec(secGlobal, vec([]byte{i64, 0x01, opI64Const, 5, opEnd}))
	dataSec := sec(secData, vec(cat([]byte{0x00, opI32Const, 0, opEnd}, vec([]byte{0xaa}))))
	codeSec := sec(secCode, vec(
		// get: global 1 + global 0 (extended).
		body(nil, opGlobalGet, 1, opGlobalGet, 0, 0xac /* i64.extend_i32_s */, opI64Add, opEnd),
		// bump: global 1 += 1, return it.
		body(nil, opGlobalGet, 1, opI64Const, 1, opI64Add, opGlobalSet, 1, opGlobalGet, 1, opEnd),
	))
	exportSec := sec(secExport, vec(export("get", kindFunc, 0), export("bump", kindFunc, 1)))

	wasm := mod(custom1, typeSec, importSec, funcSec, custom2, memSec, globalSec, exportSec, codeSec, dataSec, custom3)
	out, err := Instrument(wasm, rules1)
	if err != nil {
		t.Fatal(err)
	}
	secs, err := splitSections(out)
	if err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	var ids []byte
	for _, s := range secs {
		ids = append(ids, s.id)
	}
	if want := []byte{0, 1, 2, 3, 0, 5, 6, 7, 10, 11, 0}; !bytes.Equal(ids, want) {
		t.Fatalf("section ids = %v, want %v", ids, want)
	}
	for i, want := range [][]byte{custom1, typeSec, importSec, funcSec, custom2} {
		if got := secs[i].raw; !bytes.Equal(got, want) {
			t.Errorf("section %d changed: % x, want % x", i, got, want)
		}
	}
	// The memory gets the cap as its maximum.
	if got, want := secs[5].raw, sec(secMemory, vec(cat([]byte{0x01, 0x01}, u32(rules1.MemoryLimitPages)))); !bytes.Equal(got, want) {
		t.Errorf("memory section % x, want % x", got, want)
	}
	if got := secs[9].raw; !bytes.Equal(got, dataSec) {
		t.Errorf("data section changed")
	}
	if got := secs[10].raw; !bytes.Equal(got, custom3) {
		t.Errorf("trailing custom section changed")
	}

	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if _, err := r.InstantiateWithConfig(ctx, env, wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	inst, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	gas := inst.ExportedGlobal(GasGlobalExport).(api.MutableGlobal)
	if gas.Type() != api.ValueTypeI64 || gas.Get() != 0 {
		t.Fatalf("gas global: type %v value %d, want i64 0", gas.Type(), gas.Get())
	}
	gas.Set(100)
	res, err := inst.ExportedFunction("get").Call(ctx)
	if err != nil || res[0] != 12 {
		t.Fatalf("get = %v, %v; want 12 (existing global indices must not move)", res, err)
	}
	if left := int64(gas.Get()); left != 95 {
		t.Errorf("gas left = %d, want 95", left)
	}
	res, err = inst.ExportedFunction("bump").Call(ctx)
	if err != nil || res[0] != 6 {
		t.Fatalf("bump = %v, %v; want 6", res, err)
	}
}

func TestCreatesMissingSections(t *testing.T) {
	ctx := context.Background()
	trailer := sec(secCustom, cat(name("last"), []byte{9}))
	tests := []struct {
		name string
		wasm []byte
		want []byte
	}{
		{"code only", mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0))),
			sec(secCode, vec(body(nil, opEnd))),
			trailer,
		), []byte{1, 3, 6, 7, 10, 0}},
		{"empty module", mod(), []byte{6, 7}},
		{"custom only", mod(trailer), []byte{6, 7, 0}},
		{"export but no global", mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0))),
			sec(secExport, vec(export("f", kindFunc, 0))),
			sec(secCode, vec(body(nil, opEnd))),
		), []byte{1, 3, 6, 7, 10}},
		{"global but no export", mod(
			sec(secGlobal, vec([]byte{i32, 0x00, opI32Const, 1, opEnd})),
			sec(secDataCount, u32(0)),
		), []byte{6, 7, 12}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Instrument(tc.wasm, rules1)
			if err != nil {
				t.Fatal(err)
			}
			secs, err := splitSections(out)
			if err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
			var ids []byte
			for _, s := range secs {
				ids = append(ids, s.id)
			}
			if !bytes.Equal(ids, tc.want) {
				t.Errorf("section ids = %v, want %v", ids, tc.want)
			}
			r := wazero.NewRuntime(ctx)
			defer r.Close(ctx)
			inst, err := r.Instantiate(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			if inst.ExportedGlobal(GasGlobalExport) == nil {
				t.Error("gas global not exported")
			}
		})
	}
}

func TestInstrumentIsPure(t *testing.T) {
	in := bytes.Clone(recursiveModule)
	a, err := Instrument(in, rules1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Instrument(in, rules1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two runs gave different output")
	}
	if !bytes.Equal(in, recursiveModule) {
		t.Error("input modified")
	}
}

func TestErrors(t *testing.T) {
	fn := func(code ...byte) []byte {
		return mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0))),
			sec(secCode, vec(body(nil, code...))),
		)
	}
	tests := []struct {
		name string
		wasm []byte
		want string
	}{
		{"empty", nil, "bad magic"},
		{"bad magic", []byte("\x00asn\x01\x00\x00\x00"), "bad magic"},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), "unsupported WebAssembly version"},
		{"section too long", mod([]byte{secType, 10, 0}), "exceeds the 1 bytes left"},
		{"section size truncated", mod([]byte{secType, 0x80}), "size: unexpected end of input"},
		{"unknown section", mod(sec(14, nil)), "unknown section id 14"},
		{"out of order", mod(sec(secExport, vec()), sec(secGlobal, vec())), "out of order"},
		{"duplicate section", mod(sec(secType, vec()), sec(secType, vec())), "out of order or duplicated"},
		{"export exists", mod(sec(secExport, vec(export(GasGlobalExport, kindFunc, 0)))), "reserved for the metering globals"},
		{"depth export exists", mod(sec(secExport, vec(export(DepthGlobalExport, kindFunc, 0)))), "reserved for the metering globals"},
		{"export of missing global", mod(sec(secExport, vec(export("g", kindGlobal, 0)))), "global index 0 out of range"},
		{"import section trailing bytes", mod(sec(secImport, cat(vec(), []byte{0}))), "section size mismatch"},
		{"function count mismatch", mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0), u32(0))),
			sec(secCode, vec(body(nil, opEnd))),
		), "1 bodies but the function section declares 2"},
		{"code section trailing bytes", mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0))),
			sec(secCode, cat(vec(body(nil, opEnd)), []byte{0})),
		), "section size mismatch"},
		{"body too long", mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0))),
			sec(secCode, cat(u32(1), []byte{5, 0, opEnd})),
		), "body size 5"},
		{"missing code section", mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0))),
		), "no code section"},
		{"unbalanced end", fn(opEnd, opEnd), "unbalanced end"},
		{"missing end", fn(opBlock, bt, opEnd), "ends before its final end (0 blocks open)"},
		{"missing end in block", fn(opBlock, bt, opBlock, bt), "(2 blocks open)"},
		{"truncated leb", fn(opI32Const, 0x80), "opcode 0x41 at offset 23: unexpected end of input"},
		{"overlong leb", fn(opI32Const, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, opDrop, opEnd), "too long"},
		{"simd", fn(0xfd, 0x0c), "meter: function 0: unsupported opcode 0xfd at offset 23"},
		{"unknown fc", fn(0xfc, 18, opEnd), "unsupported opcode 0xfc 18"},
		{"threads", fn(0xfe, 0x00), "unsupported opcode 0xfe"},
		{"gas global from code", fn(opGlobalGet, 0, opDrop, opEnd), "global index 0 at offset 23 out of range (0 globals)"},
		{"else without if", fn(opBlock, bt, opElse, opEnd, opEnd), "else without matching if"},
		{"double else", fn(opI32Const, 0, opIf, bt, opElse, opElse, opEnd, opEnd), "else without matching if"},
		{"negative block type", fn(opBlock, 0x63, 0x00, opEnd, opEnd), "unsupported block type 0x63"},
		{"bad local type", mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0))),
			sec(secCode, vec(body([][]byte{{1, 0x63}}, opEnd))),
		), "unsupported value type 0x63"},
		{"multi memory memarg", fn(opI32Const, 0, 0x28, 0x40, 0x01, 0x00, opDrop, opEnd), "memory alignment 64 not supported"},
		{"memory index", fn(0x3f, 0x01, opDrop, opEnd), "not zero"},
		{"section count too large", mod(sec(secData, []byte{0xff, 0xff, 0xff, 0x30, 0})), "declares 102760447 entries but only 1 bytes follow"},
		{"data bytes too long", mod(
			sec(secMemory, vec([]byte{0x00, 0x01})),
			sec(secData, vec(cat([]byte{0x01}, u32(0xffffff00))))), "data segment 0: byte vector of 4294967040 bytes"},
		{"type params too long", mod(sec(secType, vec(cat([]byte{0x60}, u32(0x3fffffff), []byte{0x7f})))), "type 0: declares 1073741823 entries"},
		{"type form", mod(sec(secType, vec([]byte{0x5f, 0x00}))), "unsupported type form 0x5f"},
		{"type value type", mod(sec(secType, vec([]byte{0x60, 0x01, 0x63, 0x00}))), "type 0: unsupported value type 0x63"},
		{"data bad flags", mod(sec(secData, vec([]byte{0x03, 0x00}))), "unknown flags 3"},
		{"element vector too long", mod(sec(secElement, vec(cat([]byte{0x01, 0x00}, u32(0xffffff00))))), "element segment 0: declares 4294967040 entries"},
		{"element bad flags", mod(sec(secElement, vec([]byte{0x08}))), "unknown flags 8"},
		{"too many locals", mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0))),
			sec(secCode, vec(body([][]byte{cat(u32(40000), []byte{i32}), cat(u32(10001), []byte{i64})}, opEnd))),
		), "more than 50000 locals"},
		{"name section function count", mod(sec(secCustom, cat(name("name"), []byte{1, 5}, u32(0xffffff00), []byte{0, 0}))), "name subsection 1: declares 4294967040 entries"},
		{"name section local count", mod(sec(secCustom, cat(name("name"), []byte{2, 7}, u32(1), []byte{0}, u32(0xffffff00)))), "name subsection 2: declares 4294967040 entries"},
		{"function type out of range", mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(1))),
			sec(secCode, vec(body(nil, opEnd))),
		), "function 0: type index 1 out of range (1 types)"},
		{"imported function type out of range", mod(
			sec(secImport, vec(cat(name("env"), name("f"), []byte{kindFunc, 0}))),
		), "import 0: type index 0 out of range (0 types)"},
		{"global init names gas index", mod(sec(secGlobal, vec([]byte{i64, 0x00, opGlobalGet, 1, opEnd}))), "global index 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Instrument(tc.wasm, rules1)
			if err == nil {
				t.Fatalf("no error; output % x", out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "meter: ") {
				t.Errorf("error %q lacks the meter: prefix", err)
			}
		})
	}
	// Decoding errors keep their cause.
	_, err := Instrument(fn(opI32Const, 0x80), rules1)
	if !errors.Is(err, errEOF) {
		t.Errorf("errors.Is(%v, errEOF) = false", err)
	}
}

// TestStep checks the length, segment role and cost of every supported
// instruction encoding.
func TestStep(t *testing.T) {
	tests := []struct {
		enc  []byte
		term term
		cost int64
	}{
		{[]byte{0x00}, termDead, 1},
		{[]byte{0x01}, termNone, 1},
		{[]byte{0x02, 0x40}, termNone, 1},
		{[]byte{0x02, 0x7b}, termNone, 1},
		{[]byte{0x02, 0x6f}, termNone, 1},
		{[]byte{0x02, 0x81, 0x01}, termNone, 1}, // type index 129
		{[]byte{0x03, 0x7f}, termCharge, 1},
		{[]byte{0x04, 0x00}, termCharge, 1},
		{[]byte{0x0c, 0x80, 0x01}, termDead, 1},
		{[]byte{0x0d, 0x02}, termCharge, 1},
		{[]byte{0x0e, 0x02, 0x00, 0x81, 0x01, 0x02}, termDead, 1},
		{[]byte{0x0f}, termDead, 1},
		{[]byte{0x10, 0xff, 0xff, 0x03}, termNone, 10},
		{[]byte{0x11, 0x01, 0x00}, termNone, 10},
		{[]byte{0x12, 0x05}, termDead, 10},
		{[]byte{0x13, 0x01, 0x80, 0x00}, termDead, 10},
		{[]byte{0x1a}, termNone, 1},
		{[]byte{0x1b}, termNone, 1},
		{[]byte{0x1c, 0x01, 0x7e}, termNone, 1},
		{[]byte{0x1c, 0x02, 0x7e, 0x70}, termNone, 1},
		{[]byte{0x20, 0x05}, termNone, 1},
		{[]byte{0x21, 0x85, 0x01}, termNone, 1},
		{[]byte{0x22, 0x00}, termNone, 1},
		{[]byte{0x23, 0x02}, termNone, 1},
		{[]byte{0x24, 0x02}, termNone, 1},
		{[]byte{0x25, 0x00}, termNone, 1},
		{[]byte{0x28, 0x02, 0x00}, termNone, 1},
		{[]byte{0x3e, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f}, termNone, 1},
		{[]byte{0x3f, 0x00}, termNone, 1},
		{[]byte{0x40, 0x00}, termNone, 60},
		{[]byte{0x41, 0x7f}, termNone, 1},
		{[]byte{0x41, 0x80, 0x80, 0x80, 0x80, 0x78}, termNone, 1}, // i32 min
		{[]byte{0x41, 0xff, 0xff, 0xff, 0xff, 0x07}, termNone, 1}, // i32 max
		{[]byte{0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, termNone, 1},
		{[]byte{0x43, 0, 0, 0xc0, 0x3f}, termNone, 1},
		{[]byte{0x44, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f}, termNone, 1},
		{[]byte{0x45}, termNone, 1},
		{[]byte{0xc4}, termNone, 1},
		{[]byte{0xd0, 0x70}, termNone, 1},
		{[]byte{0xd0, 0x6f}, termNone, 1},
		{[]byte{0xd1}, termNone, 1},
		{[]byte{0xd2, 0x03}, termNone, 300},
		{[]byte{0xfc, 0x00}, termNone, 1},
		{[]byte{0xfc, 0x07}, termNone, 1},
		{[]byte{0xfc, 0x08, 0x03, 0x00}, termNone, 10},
		{[]byte{0xfc, 0x0a, 0x00, 0x00}, termNone, 10},
		{[]byte{0xfc, 0x0b, 0x00}, termNone, 10},
		{[]byte{0xfc, 0x10, 0x00}, termNone, 1},
		{[]byte{0xfc, 0x8b, 0x00, 0x00}, termNone, 10}, // sub-opcode 11, non-canonical
	}
	for op := 0x45; op <= 0xc4; op++ {
		tests = append(tests, struct {
			enc  []byte
			term term
			cost int64
		}{[]byte{byte(op)}, termNone, 1})
	}
	for _, tc := range tests {
		d := decoder{gasIdx: 3, rules: rules1}
		// A trailing byte proves the decoder stops at the boundary.
		enc := append(bytes.Clone(tc.enc), 0xee)
		pos, term, cost, err := d.step(enc, 0, 0)
		if err != nil {
			t.Errorf("% x: %v", tc.enc, err)
			continue
		}
		if pos != len(tc.enc) || term != tc.term || cost != tc.cost {
			t.Errorf("% x: pos %d term %d cost %d, want %d %d %d", tc.enc, pos, term, cost, len(tc.enc), tc.term, tc.cost)
		}
		// Every proper prefix is truncated and must fail cleanly.
		for n := 1; n < len(tc.enc); n++ {
			d := decoder{gasIdx: 3, rules: rules1}
			if _, _, _, err := d.step(tc.enc[:n], 0, 0); err == nil {
				t.Errorf("% x: prefix of %d bytes accepted", tc.enc, n)
			}
		}
	}
}

// TestBulkAndReferenceOps runs a function using the bulk memory, table and
// reference instructions the meter accepts through wazero's validator and
// both engines.
func TestBulkAndReferenceOps(t *testing.T) {
	code := []byte{
		opI32Const, 0, opI32Const, 0, opI32Const, 1, 0xfc, 8, 0, 0, // memory.init 0
		opI32Const, 0, opI32Const, 1, opI32Const, 1, 0xfc, 10, 0, 0, // memory.copy
		opI32Const, 0, opI32Const, 0, opI32Const, 1, 0xfc, 11, 0, // memory.fill
		0xfc, 16, 0, opDrop, // table.size 0
		opI32Const, 0, 0x25, 0, 0xd1, opDrop, // table.get, ref.is_null
		0xd2, 1, opDrop, // ref.func 1
		0x43, 0, 0, 0xc0, 0x3f, 0xfc, 0, opDrop, // f32.const 1.5, i32.trunc_sat_f32_s
		0x44, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0xfc, 7, opDrop, // f64.const 1.5, i64.trunc_sat_f64_u
		opI32Const, 0, 0x29, 3, 0x80, 0x01, opDrop, // i64.load offset=128
		opI32Const, 0, opI64Const, 0x7f, 0x37, 3, 4, // i64.store offset=4
		opI32Const, 0x7f, 0xc0, opDrop, // i32.extend8_s
		opI64Const, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 0xc4, opDrop, // i64 min, i64.extend32_s
		0x3f, 0, 0x40, 0, opDrop, // memory.size, memory.grow
		opI32Const, 1, opI32Const, 2, opI32Const, 1, 0x1c, 1, i32, opDrop, // select (result i32)
		opI32Const, 0, 0x11, 0, 0, // call_indirect (type 0) table 0 -> table[0] = func 1
		opBlock, i32, opI32Const, 1, opEnd, opDrop,
		opBlock, 0x00, opEnd, // block (type 0)
		opBlock, bt, opBlock, bt, opI32Const, 1, 0x0e, 1, 0, 1, opEnd, opEnd, // br_table 0 1
		0x01, // nop
		opReturn,
		opEnd,
	}
	wasm := mod(
		sec(secType, vec(functype(nil, nil))),
		sec(secFunction, vec(u32(0), u32(0))),
		sec(secTable, vec([]byte{0x70, 0x00, 0x01})),
		sec(secMemory, vec([]byte{0x00, 0x01})),
		sec(secExport, vec(export("f", kindFunc, 0))),
		sec(secElement, vec(cat([]byte{0x00, opI32Const, 0, opEnd}, vec(u32(1))))), // active at 0, funcs [1]
		sec(secDataCount, u32(1)),
		sec(secCode, vec(
			cat(u32(uint32(len(code)+1)), []byte{0}, code),
			body(nil, opEnd),
		)),
		sec(secData, vec(cat([]byte{0x01}, vec([]byte{0x2a})))), // passive
	)
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			_, left, err := run(t, e.cfg(), wasm, 10_000, "f")
			if err != nil {
				t.Fatal(err)
			}
			if left <= 0 || left >= 10_000 {
				t.Errorf("gas left = %d", left)
			}
		})
	}
}

// TestTailCalls: an unbounded tail-call loop never grows the stack, so only
// metering stops it.
func TestTailCalls(t *testing.T) {
	wasm := mod(
		sec(secType, vec(functype(nil, nil))),
		sec(secFunction, vec(u32(0))),
		sec(secExport, vec(export("f", kindFunc, 0))),
		sec(secCode, vec(body(nil, 0x12, 0, opEnd))), // return_call 0
	)
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			cfg := e.cfg().WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall)
			// Each call charges [return_call]=10; the dead end is free.
			_, left, err := run(t, cfg, wasm, 1005, "f")
			if err == nil || left != -5 {
				t.Fatalf("err=%v left=%d, want out of gas with -5 left", err, left)
			}
		})
	}
}

// TestWazeroTypeIndexPanic: wazero v1.12.0 panics compiling a module whose
// first function calls a second one with an out-of-range type index
// (found by FuzzInstrument). Instrument must reject it first.
func TestWazeroTypeIndexPanic(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00\x01\x06\x01`\x01\x7f\x01\x7f\x03\x03\x02\x000\a\x05\x01\x010\x00\x00\n\x13\x02\t\x00A0\x10\x01A\xe80\v\a\x00A0000\v")
	if _, err := Instrument(wasm, rules1); err == nil || !strings.Contains(err.Error(), "type index 48 out of range (1 types)") {
		t.Fatalf("err = %v, want a type index error", err)
	}
}
