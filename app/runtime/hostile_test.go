package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/contracts/abi"
)

// newManager is a manager with its own compilation cache: hand-built and fuzzed modules
// compile in microseconds and must not fill the shared cache of the real modules.
func newManager(t testing.TB) *runtime.Manager {
	t.Helper()
	ctx := context.Background()
	m, err := runtime.NewManager(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(ctx) })
	return m
}

// withImport adds an import of module.name with type typ to an abiModule, shifting the
// defined functions' indices in the exports and the start function.
func withImport(m wmodule, module, name string, typ uint32) wmodule {
	m.imports = append(m.imports, wimport{module, name, typ})
	for i := range m.exports {
		if m.exports[i].kind == 0 {
			m.exports[i].index++
		}
	}
	if m.start != nil {
		s := *m.start + 1
		m.start = &s
	}
	return m
}

var loopForever = []byte{opLoop, opBlockEmpty, opBr, 0, opEnd}

// TestHostileModulesRefusedAtInstall: modules that are malformed, too large, or would
// fail or hang every block are refused by Install with an error that says why, and
// nothing is written to the runtime directory.
func TestHostileModulesRefusedAtInstall(t *testing.T) {
	good := abiModule(nil).bytes()
	startLoops := abiModule(nil, wfunc{typ: typVoid, body: loopForever})
	start := uint32(3)
	startLoops.start = &start
	initLoops := abiModule(nil)
	initLoops.funcs[0].body = loopForever
	initTraps := abiModule(nil)
	initTraps.funcs[0].body = []byte{opUnreachable}
	hugeMem := abiModule(nil)
	hugeMem.memory = &[2]uint32{65536, 65536}
	overMem := abiModule(nil)
	overMem.memory = &[2]uint32{runtime.MemoryLimitPages + 1, 0}
	hugeTable := abiModule(nil)
	hugeTable.table = &[2]uint32{1 << 27, 0}
	growTable := abiModule([]byte{0xd0, 0x70, opI32Const, 0xff, 0xff, 0xff, 0xff, 0x07, 0xfc, 15, 0, opDrop, opI64Const, 0})
	growTable.table = &[2]uint32{1, 0}
	noMemory := abiModule(nil)
	noMemory.memory, noMemory.exports = nil, noMemory.exports[1:]
	badExec := abiModule(nil)
	badExec.exports[3].index = 1 // vchain_execute with vchain_alloc's signature
	cases := []struct {
		name string
		wasm []byte
		want string
	}{
		{"empty", nil, "meter"},
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), "meter"},
		{"header only", good[:8], "missing export"},
		{"truncated", good[:len(good)-3], "meter"},
		{"truncated in a section header", good[:9], "meter"},
		{"trailing garbage", append(bytes.Clone(good), 0x0b, 0xff), "meter"},
		{"oversized", append(bytes.Clone(good), make([]byte, runtime.MaxModuleBytes)...), "the limit is"},
		{"memory min 4 GiB", hugeMem.bytes(), "starts at 65536 pages, the limit is 1024"},
		{"memory over the cap", overMem.bytes(), "starts at 1025 pages, the limit is 1024"},
		{"table of 2^27 elements", hugeTable.bytes(), "at most 1048576"},
		{"table.grow", growTable.bytes(), "table.grow"},
		{"unknown host function", withImport(abiModule(nil), abi.ImportModule, "read_file", typVoid).bytes(), "unknown host function vchain.read_file"},
		{"host function, wrong signature", withImport(abiModule(nil), abi.ImportModule, abi.ImportBlockHeight, typVoid).bytes(), "has signature"},
		{"import from another module", withImport(abiModule(nil), "env", "system", typVoid).bytes(), "only \"vchain\""},
		{"missing wasi function", withImport(abiModule(nil), "wasi_snapshot_preview1", "sock_open", typVoid).bytes(), "sock_open"},
		{"no memory", noMemory.bytes(), "missing exported memory"},
		{"wrong entry signature", badExec.bytes(), "vchain_execute"},
		{"start function loops", startLoops.bytes(), "start function"},
		{"_initialize loops", initLoops.bytes(), "gas budget"},
		{"_initialize traps", initTraps.bytes(), "unreachable"},
	}
	ctx := context.Background()
	m := newManager(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Install(ctx, 7, tc.wasm)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			t.Logf("refused: %v", err)
			if list, _ := m.List(); len(list) != 0 {
				t.Fatalf("a refused module was stored: %+v", list)
			}
		})
	}
	if _, err := m.Install(ctx, 7, good); err != nil {
		t.Fatalf("the minimal valid module is refused: %v", err)
	}
}

// TestHostileModulesBoundedAtRunTime: modules that install but misbehave when called
// (loop, recurse without end, grow memory past the cap, return garbage) fail the call
// with the same code, message and gas on two independent managers and every run.
// Unbounded recursion stops at the metering's call depth limit, not at the machine's
// native stack, so it is a contract trap with the gas used so far.
func TestHostileModulesBoundedAtRunTime(t *testing.T) {
	recurse := []byte{opLocalGet, 0, opLocalGet, 1, opCall, 2}
	fatRecurse := abiModule(append([]byte{}, recurse...))
	fatRecurse.funcs[2].locals = [][2]uint32{{2000, tI64}}
	growMem := abiModule([]byte{opLoop, opBlockEmpty, opI32Const, 0x80, 0x08, opMemoryGrow, 0, opDrop, opBr, 0, opEnd, opI64Const, 0})
	growMem.memory = &[2]uint32{1, 0}
	outside := abiModule(append([]byte{opI64Const}, sleb(int64(0x7fff0000)<<32|16)...)) // result pointer past memory
	// Bulk instructions over the whole memory in a loop: a flat 10 gas each made a 50M-gas
	// transaction last hours; now they pay per byte (app/runtime/internal/meter/bulk.go).
	const memBytes = runtime.MemoryLimitPages << 16
	bulkLoop := func(op ...byte) wmodule {
		m := abiModule(append(append([]byte{opLoop, opBlockEmpty}, op...), opBr, 0, opEnd, opI64Const, 0))
		m.memory = &[2]uint32{runtime.MemoryLimitPages, 0}
		return m
	}
	fillAll := bulkLoop(append(append([]byte{opI32Const, 0, opI32Const, 1, opI32Const}, sleb(memBytes)...), 0xfc, 11, 0)...)
	copyHalf := bulkLoop(append(append(append([]byte{opI32Const, 0, opI32Const}, sleb(memBytes/2)...), append([]byte{opI32Const}, sleb(memBytes/2)...)...), 0xfc, 10, 0, 0)...)
	depthMsg := fmt.Sprintf("call depth exceeded %d", profile1().MaxCallDepth)
	cases := []struct {
		name string
		mod  wmodule
		want codes.Code
		msg  string // the whole message, when it is fixed
	}{
		{"loops forever", abiModule(append(append([]byte{}, loopForever...), opI64Const, 0)), codes.OutOfGas, ""},
		{"recurses without end", abiModule(recurse), codes.ContractTrap, depthMsg},
		{"recurses with big frames", fatRecurse, codes.ContractTrap, depthMsg},
		{"grows memory forever", growMem, codes.OutOfGas, ""},
		{"fills all memory forever", fillAll, codes.OutOfGas, ""},
		{"copies half the memory forever", copyHalf, codes.OutOfGas, ""},
		{"traps", abiModule([]byte{opUnreachable, opI64Const, 0}), codes.ContractTrap, ""},
		{"result outside memory", outside, codes.ContractTrap, ""},
		{"empty response", abiModule(nil), codes.RuntimeIncomplete, ""},
	}
	const gas = 50_000_000
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var first *runtime.Result
			for node := 0; node < 2; node++ {
				mod, err := newManager(t).Install(ctx, 1, tc.mod.bytes())
				if err != nil {
					t.Fatalf("install: %v", err)
				}
				for run := 0; run < 2; run++ {
					s := mod.NewSession()
					r, err := s.Execute(ctx, env{state.NewCache(newStore(t)), "x"}, abi.Request{Contract: "x", Method: "m"}, gas)
					s.Close(ctx)
					if err != nil {
						t.Fatalf("node error: %v", err)
					}
					if r.Err == nil || r.Err.Code != tc.want {
						t.Fatalf("node %d run %d: %v, want %s", node, run, r.Err, tc.want)
					}
					if tc.msg != "" && r.Err.Msg != tc.msg {
						t.Fatalf("node %d run %d: message %q, want %q", node, run, r.Err.Msg, tc.msg)
					}
					if r.Err.Code == codes.OutOfGas && r.GasUsed != gas {
						t.Fatalf("out of gas with %d of %d used", r.GasUsed, gas)
					}
					if first == nil {
						first = &r
						t.Logf("%s, gas %d", r.Err, r.GasUsed)
					} else if r.GasUsed != first.GasUsed || r.Err.Code != first.Err.Code || r.Err.Msg != first.Err.Msg {
						t.Fatalf("node %d run %d: %s gas %d, first run %s gas %d", node, run, r.Err, r.GasUsed, first.Err, first.GasUsed)
					}
				}
			}
		})
	}
}
