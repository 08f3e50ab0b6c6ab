package meter

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// TestInstanceStateOpsRefused: every instruction that changes instance
// state outside memory and globals is refused, naming itself and the rule,
// and the read-only table instructions are still accepted.
func TestInstanceStateOpsRefused(t *testing.T) {
	// fn: a module with a table, a passive element segment and a passive
	// data segment, so each instruction has something to name.
	fn := func(code ...byte) []byte {
		return mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0))),
			sec(secTable, vec([]byte{0x70, 0x00, 0x02})),
			sec(secMemory, vec([]byte{0x00, 0x01})),
			sec(secElement, vec(cat([]byte{0x01, 0x00}, vec(u32(0))))),
			sec(secDataCount, u32(1)),
			sec(secCode, vec(body(nil, code...))),
			sec(secData, vec(cat([]byte{0x01}, vec([]byte{0x2a})))),
		)
	}
	const rule = "a call must start from a state the host can restore (memory and globals)"
	cases := []struct {
		name string
		code []byte
		want string // "" accepted
	}{
		{"table.set", []byte{opI32Const, 0, 0xd0, 0x70, 0x26, 0, opEnd}, "table.set at offset"},
		{"table.fill", []byte{opI32Const, 0, 0xd0, 0x70, opI32Const, 1, 0xfc, 17, 0, opEnd}, "table.fill at offset"},
		{"table.copy", []byte{opI32Const, 0, opI32Const, 1, opI32Const, 1, 0xfc, 14, 0, 0, opEnd}, "table.copy at offset"},
		{"table.init", []byte{opI32Const, 0, opI32Const, 0, opI32Const, 1, 0xfc, 12, 0, 0, opEnd}, "table.init at offset"},
		{"elem.drop", []byte{0xfc, 13, 0, opEnd}, "elem.drop at offset"},
		{"data.drop", []byte{0xfc, 9, 0, opEnd}, "data.drop at offset"},
		// Non-canonical sub-opcode: still the same instruction.
		{"data.drop, long sub-opcode", []byte{0xfc, 0x89, 0x00, 0, opEnd}, "data.drop at offset"},
		{"in dead code", []byte{opReturn, 0xfc, 13, 0, opEnd}, "elem.drop at offset"},
		{"table.get", []byte{opI32Const, 0, 0x25, 0, opDrop, opEnd}, ""},
		{"table.size", []byte{0xfc, 16, 0, opDrop, opEnd}, ""},
		{"memory.init", []byte{opI32Const, 0, opI32Const, 0, opI32Const, 1, 0xfc, 8, 0, 0, opEnd}, ""},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wasm := fn(tc.code...)
			// The input itself is valid: only the meter's rule refuses it.
			r := wazero.NewRuntime(ctx)
			defer r.Close(ctx)
			if _, err := r.CompileModule(ctx, wasm); err != nil {
				t.Fatalf("test module invalid: %v", err)
			}
			_, err := Instrument(wasm, rules1)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), rule)):
				t.Fatalf("got %v, want an error naming %q and the rule", err, tc.want)
			}
		})
	}
}

// TestMutableGlobalsExported: each defined mutable global is exported as
// GlobalExportPrefix + its index (imports counted), aliasing the global
// itself; immutable and imported globals are not; the metering globals
// keep their own names.
func TestMutableGlobalsExported(t *testing.T) {
	ctx := context.Background()
	env := mod(
		sec(secGlobal, vec(cat([]byte{i32, 0x00}, []byte{opI32Const, 7, opEnd}))),
		sec(secExport, vec(export("g", kindGlobal, 0))),
	)
	wasm := mod(
		sec(secType, vec(functype(nil, []byte{i64}))),
		sec(secImport, vec(cat(name("env"), name("g"), []byte{kindGlobal, i32, 0x00}))), // global 0
		sec(secFunction, vec(u32(0))),
		sec(secGlobal, vec(
			[]byte{i64, 0x01, opI64Const, 5, opEnd}, // 1: mutable
			[]byte{i64, 0x00, opI64Const, 6, opEnd}, // 2: immutable
			[]byte{i32, 0x01, opI32Const, 9, opEnd}, // 3: mutable
		)),
		// bump: global 1 += 1, return it.
		sec(secExport, vec(export("bump", kindFunc, 0), export("g1", kindGlobal, 1))),
		sec(secCode, vec(body(nil, opGlobalGet, 1, opI64Const, 1, opI64Add, opGlobalSet, 1, opGlobalGet, 1, opEnd))),
	)
	out, err := Instrument(wasm, rules1)
	if err != nil {
		t.Fatal(err)
	}
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if _, err := r.InstantiateWithConfig(ctx, env, wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	got := globalExports(t, out)
	want := map[string]uint32{"g1": 1, GasGlobalExport: 4, DepthGlobalExport: 5,
		GlobalExportPrefix + "1": 1, GlobalExportPrefix + "3": 3, WrittenGlobalExport: 6, WrittenPagesGlobalExport: 7}
	if len(got) != len(want) {
		t.Errorf("exported globals %v, want %v", got, want)
	}
	for n, idx := range want {
		if g, ok := got[n]; !ok || g != idx {
			t.Errorf("export %q: global %d (present %v), want %d", n, g, ok, idx)
		}
	}
	inst, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	inst.ExportedGlobal(GasGlobalExport).(api.MutableGlobal).Set(100)
	g1, ok := inst.ExportedGlobal(GlobalExportPrefix + "1").(api.MutableGlobal)
	if !ok {
		t.Fatalf("%s1 is not a mutable global", GlobalExportPrefix)
	}
	if g3 := inst.ExportedGlobal(GlobalExportPrefix + "3"); g3 == nil || g3.Type() != api.ValueTypeI32 || g3.Get() != 9 {
		t.Fatalf("%s3 = %v, want the i32 global 9", GlobalExportPrefix, g3)
	}
	// The export is the global itself: the host sees the module's writes
	// and the module sees the host's (that is what a reset relies on).
	if res, err := inst.ExportedFunction("bump").Call(ctx); err != nil || res[0] != 6 || g1.Get() != 6 {
		t.Fatalf("bump = %v, %v, global %d; want 6", res, err, g1.Get())
	}
	g1.Set(41)
	if res, err := inst.ExportedFunction("bump").Call(ctx); err != nil || res[0] != 42 {
		t.Fatalf("bump after reset = %v, %v; want 42", res, err)
	}
}

// TestGlobalExportErrors: a module may not take the prefix for itself, nor
// import a mutable global (the host could not reset it).
func TestGlobalExportErrors(t *testing.T) {
	cases := []struct {
		name string
		wasm []byte
		want string
	}{
		{"prefix taken by a function", mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0))),
			sec(secExport, vec(export(GlobalExportPrefix+"0", kindFunc, 0))),
			sec(secCode, vec(body(nil, opEnd))),
		), "reserved for the exported mutable globals"},
		{"prefix alone", mod(
			sec(secGlobal, vec([]byte{i32, 0x01, opI32Const, 0, opEnd})),
			sec(secExport, vec(export(GlobalExportPrefix, kindGlobal, 0))),
		), "reserved for the exported mutable globals"},
		{"imported mutable global", mod(
			sec(secImport, vec(cat(name("env"), name("g"), []byte{kindGlobal, i32, 0x01}))),
		), "imported mutable global not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Instrument(tc.wasm, rules1); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// globalExports returns the global exports of a module: name to index.
func globalExports(t *testing.T, wasm []byte) map[string]uint32 {
	t.Helper()
	secs, err := splitSections(wasm)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint32{}
	for _, s := range secs {
		if s.id != secExport {
			continue
		}
		b := s.payload
		n, pos, _ := readU32(b, 0)
		for i := uint32(0); i < n; i++ {
			start, end, err := readName(b, pos)
			if err != nil {
				t.Fatal(err)
			}
			var idx uint32
			if idx, pos, err = readU32(b, end+1); err != nil {
				t.Fatal(err)
			}
			if b[end] == kindGlobal {
				out[string(b[start:end])] = idx
			}
		}
	}
	return out
}

// TestGoModuleGlobalsExported: Go's wasip1 output (testdata/loopmod) passes
// the instance state rule, gets an export for each of its mutable globals,
// and still runs.
func TestGoModuleGlobalsExported(t *testing.T) {
	wasm := goModule(t)
	m, err := parseModule(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.mutableGlobals) == 0 {
		t.Fatal("Go module defines no mutable global: the test proves nothing")
	}
	out, err := Instrument(wasm, rules1)
	if err != nil {
		t.Fatal(err)
	}
	got := globalExports(t, out)
	for _, g := range m.mutableGlobals {
		if idx, ok := got[GlobalExportPrefix+strconv.FormatUint(uint64(g), 10)]; !ok || idx != g {
			t.Errorf("mutable global %d: exported %v as %d", g, ok, idx)
		}
	}
	r, compiled := newGoRuntime(t, wazero.NewRuntimeConfigInterpreter(), out)
	in := newGoInstance(t, r, compiled)
	if res, _, err := in.call(100, hugeGas); err != nil || res != spinNative(100) {
		t.Fatalf("spin(100) = %d, %v; want %d", res, err, spinNative(100))
	}
}
