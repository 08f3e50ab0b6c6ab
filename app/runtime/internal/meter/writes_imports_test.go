package meter

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/internal/testwasm"
)

const opReturnCallT = 0x12

// importTestModule returns a module importing one function, module.name of
// the given parameter types (and an i32 result when result is set), with
// 80 pages of memory and an exported function "f" () -> () whose code is
// given: call 0 calls the import. When table is set, a table of two
// funcrefs holds the import and a defined function "g" () -> () that does
// nothing, which call_indirect reaches with type index 2.
func importTestModule(module, fname string, params []byte, result bool, table bool, code ...byte) []byte {
	var results []byte
	if result {
		results = []byte{i32}
	}
	secs := [][]byte{
		sec(secType, vec(functype(nil, nil), functype(params, results), functype(nil, nil))),
		sec(secImport, vec(cat(name(module), name(fname), []byte{kindFunc}, u32(1)))),
		sec(secFunction, vec(u32(0), u32(2))),
	}
	if table {
		secs = append(secs, sec(secTable, vec([]byte{0x70, 0x00, 2})))
	}
	secs = append(secs,
		sec(secMemory, vec(cat([]byte{0x01}, u32(80), u32(80)))),
		sec(secExport, vec(export("f", kindFunc, 1), export("memory", kindMemory, 0))))
	if table {
		// Active segment for table 0 at offset 0: the import, then g.
		secs = append(secs, sec(secElement, vec(cat([]byte{0x00, opI32Const, 0, opEnd}, vec(u32(0), u32(2))))))
	}
	secs = append(secs, sec(secCode, vec(body(nil, code...), body(nil, opEnd))))
	return mod(secs...)
}

// constArgs pushes one constant per parameter.
func constArgs(params []byte, args []uint64) []byte {
	var b []byte
	for i, vt := range params {
		if vt == i64 {
			b = appendS64(append(b, opI64Const), int64(args[i]))
		} else {
			b = append(b, opI32Const)
			b = appendS64(b, int64(int32(uint32(args[i]))))
		}
	}
	return b
}

// hostSpan is a range a test host function writes: [ptr, ptr+n).
type hostSpan struct{ ptr, n uint32 }

// instantiateImportHost registers module.name with the given signature: it
// writes every byte of the ranges spans(args) gives (the complement of
// what was there, so each byte changes), and returns 0.
func instantiateImportHost(ctx context.Context, r wazero.Runtime, module, fname string, params []byte, result bool, spans func([]uint64) []hostSpan) error {
	var ps, rs []api.ValueType
	for _, vt := range params {
		ps = append(ps, vt)
	}
	if result {
		rs = []api.ValueType{api.ValueTypeI32}
	}
	fn := func(_ context.Context, m api.Module, s []uint64) {
		for _, sp := range spans(s[:len(params)]) {
			b, ok := m.Memory().Read(sp.ptr, sp.n)
			if !ok {
				panic("test host write outside memory")
			}
			for i := range b {
				b[i] = ^b[i]
			}
		}
		if result {
			s[0] = 0
		}
	}
	_, err := r.NewHostModuleBuilder(module).NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(fn), ps, rs).Export(fname).Instantiate(ctx)
	return err
}

// regionsOf returns the bits of the regions the spans touch.
func regionsOf(spans []hostSpan) uint64 {
	var w uint64
	for _, sp := range spans {
		if sp.n == 0 {
			continue
		}
		first, last := sp.ptr>>16, uint32((uint64(sp.ptr)+uint64(sp.n)-1)>>16)
		if last-first >= 63 {
			return math.MaxUint64
		}
		w |= bitsOf(span(first, last)...)
	}
	return w
}

// pagesOf returns the bits of the pages the spans touch.
func pagesOf(spans []hostSpan) uint64 {
	var p uint64
	for _, sp := range spans {
		if sp.n > 0 {
			p |= pageBits(uint64(sp.ptr), uint64(sp.ptr)+uint64(sp.n)-1)
		}
	}
	return p
}

// runImport instruments wasm, links it to the test host function and
// calls "f" with the written global at 0.
func runImport(t *testing.T, cfg wazero.RuntimeConfig, wasm []byte, module, fname string, params []byte, result bool, spans func([]uint64) []hostSpan) written {
	t.Helper()
	ctx := context.Background()
	out, err := Instrument(wasm, rules1)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer r.Close(ctx)
	if err := instantiateImportHost(ctx, r, module, fname, params, result, spans); err != nil {
		t.Fatalf("host module: %v", err)
	}
	m, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	m.ExportedGlobal(GasGlobalExport).(api.MutableGlobal).Set(uint64(hugeGas))
	wg := trackGlobalsOf(t, m)
	wg.reset()
	var res written
	res.before = memCopy(m.Memory())
	_, res.err = m.ExportedFunction("f").Call(ctx)
	res.after = memCopy(m.Memory())
	res.w, res.p = wg.get()
	return res
}

// importCases are calls of imports of every kind of table entry, each
// with a test host function writing exactly the ranges the real one may
// write (or, for imports outside the table, somewhere the table could not
// know).
var importCases = []struct {
	name          string
	module, fname string
	params        []byte
	args          []uint64
	spans         func(a []uint64) []hostSpan // what the host writes
	want          uint64                      // -1: all bits
}{
	{"clock_time_get across a boundary", wasiModule, "clock_time_get", []byte{i32, i64, i32}, []uint64{0, 1000, 3*region - 4},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[2]), 8}} }, bitsOf(2, 3)},
	{"clock_time_get in one region", wasiModule, "clock_time_get", []byte{i32, i64, i32}, []uint64{1, 0, 70*region + 8},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[2]), 8}} }, bitsOf(6)},
	{"random_get three regions", wasiModule, "random_get", []byte{i32, i32}, []uint64{5*region + 10, 2 * region},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[0]), uint32(a[1])}} }, bitsOf(5, 6, 7)},
	{"random_get nothing", wasiModule, "random_get", []byte{i32, i32}, []uint64{5*region + 10, 0},
		func(a []uint64) []hostSpan { return nil }, 0},
	{"random_get 64 regions", wasiModule, "random_get", []byte{i32, i32}, []uint64{region / 2, 64 * region},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[0]), uint32(a[1])}} }, math.MaxUint64},
	{"fd_write nwritten", wasiModule, "fd_write", []byte{i32, i32, i32, i32}, []uint64{2, 0, 0, 9*region - 2},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[3]), 4}} }, bitsOf(8, 9)},
	{"args_sizes_get", wasiModule, "args_sizes_get", []byte{i32, i32}, []uint64{region, 40 * region},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[0]), 4}, {uint32(a[1]), 4}} }, bitsOf(1, 40)},
	{"environ_sizes_get", wasiModule, "environ_sizes_get", []byte{i32, i32}, []uint64{41*region - 1, 17},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[0]), 4}, {uint32(a[1]), 4}} }, bitsOf(0, 40, 41)},
	{"fd_fdstat_get", wasiModule, "fd_fdstat_get", []byte{i32, i32}, []uint64{1, 12*region - 10},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[1]), 24}} }, bitsOf(11, 12)},
	{"fd_prestat_get", wasiModule, "fd_prestat_get", []byte{i32, i32}, []uint64{3, 13 * region},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[1]), 8}} }, bitsOf(13)},
	{"fd_prestat_dir_name", wasiModule, "fd_prestat_dir_name", []byte{i32, i32, i32}, []uint64{3, 15*region - 5, 100},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[1]), uint32(a[2])}} }, bitsOf(14, 15)},
	{"state_get", abi.ImportModule, abi.ImportStateGet, []byte{i32, i32, i32, i32}, []uint64{0, 10, 20*region - 1, 2},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[2]), uint32(a[3])}} }, bitsOf(19, 20)},
	{"caller", abi.ImportModule, abi.ImportCaller, []byte{i32, i32}, []uint64{30 * region, 40},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[0]), uint32(a[1])}} }, bitsOf(30)},
	{"state_set writes nothing", abi.ImportModule, abi.ImportStateSet, []byte{i32, i32, i32, i32}, []uint64{0, 10, 20 * region, 2},
		func(a []uint64) []hostSpan { return nil }, 0},
	{"fd_close writes nothing", wasiModule, "fd_close", []byte{i32}, []uint64{3},
		func(a []uint64) []hostSpan { return nil }, 0},
	{"poll_oneoff marks all", wasiModule, "poll_oneoff", []byte{i32, i32, i32, i32}, []uint64{0, 50 * region, 1, 60 * region},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[1]), 32}, {uint32(a[3]), 4}} }, math.MaxUint64},
	{"unknown import marks all", "env", "scribble", []byte{i32, i32}, []uint64{77 * region, 3},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[0]), uint32(a[1])}} }, math.MaxUint64},
	// A signature the table does not expect: marked as unknown.
	{"state_get with an i64 pointer marks all", abi.ImportModule, abi.ImportStateGet, []byte{i32, i32, i64, i32}, []uint64{0, 10, 20 * region, 2},
		func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[2]), uint32(a[3])}} }, math.MaxUint64},
}

// TestWriteTrackingImports: a call to an import marks the regions its
// table entry names, from the call's own arguments, before the call; the
// test host function writes exactly those ranges, so the bits must be
// exactly their regions. On both engines (tail calls: the next test).
func TestWriteTrackingImports(t *testing.T) {
	for _, e := range engines {
		for _, tc := range importCases {
			result := tc.module == wasiModule || tc.module == "env" || tc.fname == abi.ImportStateGet || tc.fname == abi.ImportCaller
			code := cat(constArgs(tc.params, tc.args), []byte{opCall, 0})
			if result {
				code = append(code, opDrop)
			}
			code = append(code, opEnd)
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				wasm := importTestModule(tc.module, tc.fname, tc.params, result, false, code...)
				res := runImport(t, e.cfg(), wasm, tc.module, tc.fname, tc.params, result, tc.spans)
				if res.err != nil {
					t.Fatalf("call: %v", res.err)
				}
				if res.w != tc.want {
					t.Errorf("written = %#016x, want %#016x", res.w, tc.want)
				}
				if exact := regionsOf(tc.spans(tc.args)); tc.want != math.MaxUint64 && exact != tc.want {
					t.Errorf("the host writes regions %#016x, the case expects %#016x: the case is wrong", exact, tc.want)
				}
				wantP := pagesOf(tc.spans(tc.args))
				if tc.want == math.MaxUint64 {
					wantP = math.MaxUint64
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

// TestWriteTrackingTailCallImports: return_call to imports that return
// nothing, so that f's type matches: state_set marks nothing, a writing
// unknown import marks all, and a writing known one its span.
func TestWriteTrackingTailCallImports(t *testing.T) {
	cases := []struct {
		module, fname string
		args          []uint64
		spans         func([]uint64) []hostSpan
		want          uint64
	}{
		{abi.ImportModule, abi.ImportStateSet, []uint64{0, 4, 5 * region, 4}, func([]uint64) []hostSpan { return nil }, 0},
		{"env", "scribble", []uint64{5 * region, 4, 0, 0}, func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[0]), uint32(a[1])}} }, math.MaxUint64},
	}
	params := []byte{i32, i32, i32, i32}
	for _, e := range engines {
		for _, tc := range cases {
			t.Run(e.name+"/"+tc.fname, func(t *testing.T) {
				code := cat(constArgs(params, tc.args), []byte{opReturnCallT, 0, opEnd})
				wasm := importTestModule(tc.module, tc.fname, params, false, false, code...)
				cfg := e.cfg().WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall)
				res := runImport(t, cfg, wasm, tc.module, tc.fname, params, false, tc.spans)
				if res.err != nil {
					t.Fatalf("call: %v", res.err)
				}
				if res.w != tc.want || res.p != tc.want {
					t.Errorf("written = %#016x, pages %#016x, want %#016x for both", res.w, res.p, tc.want)
				}
				if err := checkContract(res.before, res.after, res.w, res.p); err != nil {
					t.Error(err)
				}
			})
		}
	}
	// A known writing import by tail call: f must have its type, so the
	// module is assembled apart: state_get's type with f (i32 i32 i32 i32)
	// -> i32 tail-calling it with its own parameters.
	sg := []byte{i32, i32, i32, i32}
	wasm := mod(
		sec(secType, vec(functype(sg, []byte{i32}))),
		sec(secImport, vec(cat(name(abi.ImportModule), name(abi.ImportStateGet), []byte{kindFunc}, u32(0)))),
		sec(secFunction, vec(u32(0))),
		sec(secMemory, vec(cat([]byte{0x01}, u32(80), u32(80)))),
		sec(secExport, vec(export("f", kindFunc, 1), export("memory", kindMemory, 0))),
		sec(secCode, vec(body(nil, opLocalGet, 0, opLocalGet, 1, opLocalGet, 2, opLocalGet, 3, opReturnCallT, 0, opEnd))),
	)
	for _, e := range engines {
		t.Run(e.name+"/state_get", func(t *testing.T) {
			ctx := context.Background()
			out, err := Instrument(wasm, rules1)
			if err != nil {
				t.Fatal(err)
			}
			r := wazero.NewRuntimeWithConfig(ctx, e.cfg().WithCoreFeatures(api.CoreFeaturesV2|experimental.CoreFeaturesTailCall))
			defer r.Close(ctx)
			spans := func(a []uint64) []hostSpan { return []hostSpan{{uint32(a[2]), uint32(a[3])}} }
			if err := instantiateImportHost(ctx, r, abi.ImportModule, abi.ImportStateGet, sg, true, spans); err != nil {
				t.Fatal(err)
			}
			m, err := r.Instantiate(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			m.ExportedGlobal(GasGlobalExport).(api.MutableGlobal).Set(uint64(hugeGas))
			wg := trackGlobalsOf(t, m)
			wg.reset()
			before := memCopy(m.Memory())
			if _, err := m.ExportedFunction("f").Call(ctx, 0, 4, 33*region-3, 5); err != nil {
				t.Fatal(err)
			}
			w, p := wg.get()
			if wantP := pageBits(33*region-3, 33*region+1); w != bitsOf(32, 33) || p != wantP {
				t.Errorf("written = %#016x, pages %#016x, want %#016x, %#016x", w, p, bitsOf(32, 33), wantP)
			}
			if err := checkContract(before, memCopy(m.Memory()), w, p); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestWriteTrackingCallIndirect: call_indirect marks all 64 bits when a
// table holds an import that may write memory, even to reach another
// function, and nothing when the table holds only functions of the module
// and imports that write nothing.
func TestWriteTrackingCallIndirect(t *testing.T) {
	cases := []struct {
		name          string
		module, fname string
		params        []byte
		result        bool
		elem          uint32 // the table slot called: 0 the import, 1 g
		args          []uint64
		want          uint64
	}{
		{"table with state_get, calling g", abi.ImportModule, abi.ImportStateGet, []byte{i32, i32, i32, i32}, true, 1, nil, math.MaxUint64},
		{"table with state_get, calling it", abi.ImportModule, abi.ImportStateGet, []byte{i32, i32, i32, i32}, true, 0, []uint64{0, 4, 3 * region, 8}, math.MaxUint64},
		{"table with state_set, calling g", abi.ImportModule, abi.ImportStateSet, []byte{i32, i32, i32, i32}, false, 1, nil, 0},
		{"table with an unknown import, calling g", "env", "scribble", []byte{i32, i32}, false, 1, nil, math.MaxUint64},
	}
	for _, e := range engines {
		for _, tc := range cases {
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				// Type 1 is the import's, type 2 g's.
				var code []byte
				if tc.elem == 0 {
					code = cat(constArgs(tc.params, tc.args), []byte{opI32Const, 0, 0x11, 1, 0})
					if tc.result {
						code = append(code, opDrop)
					}
				} else {
					code = []byte{opI32Const, 1, 0x11, 2, 0}
				}
				code = append(code, opEnd)
				wasm := importTestModule(tc.module, tc.fname, tc.params, tc.result, true, code...)
				spans := func(a []uint64) []hostSpan {
					if tc.fname == abi.ImportStateGet {
						return []hostSpan{{uint32(a[2]), uint32(a[3])}}
					}
					return nil
				}
				res := runImport(t, e.cfg(), wasm, tc.module, tc.fname, tc.params, tc.result, spans)
				if res.err != nil {
					t.Fatalf("call: %v", res.err)
				}
				if res.w != tc.want || res.p != tc.want {
					t.Errorf("written = %#016x, pages %#016x, want %#016x for both", res.w, res.p, tc.want)
				}
				if err := checkContract(res.before, res.after, res.w, res.p); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// TestWriteTrackingRefusesExportedImport: a module exporting an import
// that may write memory is refused (the host calling the export would
// write unmarked); one that writes nothing may be exported.
func TestWriteTrackingRefusesExportedImport(t *testing.T) {
	for _, tc := range []struct {
		fname   string
		refused bool
	}{{abi.ImportStateGet, true}, {abi.ImportStateSet, false}} {
		wasm := mod(
			sec(secType, vec(functype([]byte{i32, i32, i32, i32}, nil))),
			sec(secImport, vec(cat(name(abi.ImportModule), name(tc.fname), []byte{kindFunc}, u32(0)))),
			sec(secExport, vec(export("g", kindFunc, 0))),
		)
		_, err := Instrument(wasm, rules1)
		if got := err != nil && strings.Contains(err.Error(), "may write memory"); got != tc.refused {
			t.Errorf("%s exported: err %v, want refused %v", tc.fname, err, tc.refused)
		}
	}
}

// TestWriteTrackingGoTables: Go's tables hold only Go functions, so its
// call_indirects mark nothing; and the Go modules' imports are all in the
// table (none marks all 64 bits but those listed there on purpose).
func TestWriteTrackingGoTables(t *testing.T) {
	for _, name := range []string{"v1", "v2", "testmod"} {
		t.Run(name, func(t *testing.T) {
			out, err := Instrument(testwasm.Module(t, name), rules1)
			if err != nil {
				t.Fatal(err)
			}
			m, err := parseWriteModule(out)
			if err != nil {
				t.Fatal(err)
			}
			ind, err := m.refsWritingImport()
			if err != nil {
				t.Fatal(err)
			}
			if ind {
				t.Error("a table holds an import that writes memory: every call_indirect marks all 64 bits")
			}
			imports := importNames(t, m)
			for i, im := range m.imports {
				t.Logf("import %d %s: all %v, spans %v", i, imports[i], im.all, im.spans)
			}
		})
	}
}

// importNames returns module.name of each imported function.
func importNames(t *testing.T, m *writeModule) []string {
	t.Helper()
	var names []string
	for _, s := range m.sections {
		if s.id != secImport {
			continue
		}
		b := s.payload
		n, pos, _ := readU32(b, 0)
		for i := uint32(0); i < n; i++ {
			ms, me, _ := readName(b, pos)
			fs, fe, _ := readName(b, me)
			pos = fe + 1
			if b[fe] != kindFunc {
				t.Fatalf("import %d: not a function", i)
			}
			names = append(names, string(b[ms:me])+"."+string(b[fs:fe]))
			_, pos, _ = readU32(b, pos)
		}
	}
	return names
}
