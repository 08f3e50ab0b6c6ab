package meter

import (
	"context"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// recurseBody is the body of (func (param $n i32) (result i64)) that
// returns 0 when $n is 0 and otherwise calls on with $n-1 through call (the
// bytes of a call or call_indirect instruction, which get the i32 table
// slot 0 pushed first when indirect). live > 0 adds that many i64 locals,
// each holding a distinct value across the call and added to its result,
// so the frame is big in every engine.
func recurseBody(call []byte, live uint32) []byte {
	var locals [][]byte
	var pre, post []byte
	if live > 0 {
		locals = [][]byte{cat(u32(live), []byte{i64})}
		for i := uint32(1); i <= live; i++ {
			// local i = i64(n) + i
			pre = cat(pre, []byte{opLocalGet, 0, 0xad, opI64Const}, appendS64(nil, int64(i)), []byte{opI64Add, opLocalSet}, u32(i))
		}
		for i := uint32(1); i <= live; i++ {
			post = cat(post, []byte{opLocalGet}, u32(i), []byte{opI64Add})
		}
	}
	code := cat(
		[]byte{opLocalGet, 0, opI32Eqz, opIf, bt, opI64Const, 0, opReturn, opEnd},
		pre,
		[]byte{opLocalGet, 0, opI32Const, 1, opI32Sub},
		call,
		post,
		[]byte{opEnd},
	)
	return body(locals, code...)
}

var (
	callSelf     = []byte{opCall, 0}
	callIndirect = []byte{opI32Const, 0, 0x11, 0, 0} // call_indirect type 0 table 0
)

// recursion returns a module exporting "f" (param $n i32) (result i64) that
// recurses $n times below the host's call: $n+1 frames in all.
func recursion(name string, live uint32) []byte {
	typ := sec(secType, vec(functype([]byte{i32}, []byte{i64})))
	exp := sec(secExport, vec(export("f", kindFunc, 0)))
	switch name {
	case "call":
		return mod(typ, sec(secFunction, vec(u32(0))), exp, sec(secCode, vec(recurseBody(callSelf, live))))
	case "call_indirect":
		return mod(typ, sec(secFunction, vec(u32(0))),
			sec(secTable, vec([]byte{0x70, 0x00, 0x01})), // funcref, min 1
			exp,
			sec(secElement, vec(cat([]byte{0x00, opI32Const, 0, opEnd}, vec(u32(0))))),
			sec(secCode, vec(recurseBody(callIndirect, live))))
	case "mutual":
		// f calls g, g calls f.
		return mod(typ, sec(secFunction, vec(u32(0), u32(0))), exp,
			sec(secCode, vec(recurseBody([]byte{opCall, 1}, live), recurseBody(callSelf, live))))
	}
	panic(name)
}

// callDepth instruments wasm with limit, calls f(n) twice on one instance
// and returns the error of each call and the depth global after each.
func callDepth(t *testing.T, cfg wazero.RuntimeConfig, wasm []byte, limit uint32, n uint64) (errs [2]error, depth [2]uint32) {
	t.Helper()
	ctx := context.Background()
	rules := rules1
	rules.MaxCallDepth = limit
	out, err := Instrument(wasm, rules)
	if err != nil {
		t.Fatalf("instrument: %v", err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer r.Close(ctx)
	m, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	gas := m.ExportedGlobal(GasGlobalExport).(api.MutableGlobal)
	d := m.ExportedGlobal(DepthGlobalExport)
	for i := range errs {
		gas.Set(1 << 40)
		_, errs[i] = m.ExportedFunction("f").Call(ctx, n)
		depth[i] = uint32(d.Get())
		if int64(gas.Get()) < 0 {
			t.Fatalf("call %d ran out of gas", i)
		}
	}
	return errs, depth
}

// TestCallDepthLimit: rules1.MaxCallDepth frames run, one more traps before the
// call, through call, call_indirect and mutual recursion alike, on both
// engines; the trap leaves the depth global above the limit (how the host
// recognises it) and a call that returns leaves it at 0.
func TestCallDepthLimit(t *testing.T) {
	limit := uint64(rules1.MaxCallDepth)
	cases := []struct {
		n    uint64 // frames below the host's call
		trap bool
	}{
		{0, false},
		{limit - 1, false}, // limit frames in all
		{limit, true},
		{limit + 1, true},
	}
	for _, e := range engines {
		for _, kind := range []string{"call", "call_indirect", "mutual"} {
			wasm := recursion(kind, 0)
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/%s/%d", e.name, kind, tc.n), func(t *testing.T) {
					errs, depth := callDepth(t, e.cfg(), wasm, rules1.MaxCallDepth, tc.n)
					if !tc.trap {
						for i := range errs {
							if errs[i] != nil || depth[i] != 0 {
								t.Fatalf("call %d: err %v, depth global %d; want success and 0", i, errs[i], depth[i])
							}
						}
						return
					}
					if errs[0] == nil || depth[0] != rules1.MaxCallDepth+1 {
						t.Fatalf("err %v, depth global %d; want a trap with %d", errs[0], depth[0], rules1.MaxCallDepth+1)
					}
				})
			}
		}
	}
}

// TestCallDepthBeforeNativeStack: recursion whose frames each keep 4000 i64
// values live across the call (a 32 KB frame, and more in the interpreter)
// stops at the injected limit, not at wazero's own stack limit.
func TestCallDepthBeforeNativeStack(t *testing.T) {
	wasm := recursion("call", 4000)
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			errs, depth := callDepth(t, e.cfg(), wasm, rules1.MaxCallDepth, 1<<20)
			if errs[0] == nil || depth[0] != rules1.MaxCallDepth+1 {
				t.Fatalf("err %v, depth global %d; want the depth trap (%d)", errs[0], depth[0], rules1.MaxCallDepth+1)
			}
		})
	}
}

// TestCallDepthLeavesAndExits: a leaf on top of a full stack of counted
// frames runs (it can add no more than itself), and every way out of a
// counted function (return, a branch to its label, its end, several
// results) gives its count back.
func TestCallDepthLeavesAndExits(t *testing.T) {
	ctx := context.Background()
	wasm := mod(
		sec(secType, vec(
			functype([]byte{i32}, []byte{i64}),      // 0: f(n)
			functype(nil, []byte{i64}),              // 1: leaf
			functype([]byte{i32}, []byte{i64, i32}), // 2: m(n)
			functype(nil, nil),                      // 3: nop leaf
		)),
		sec(secFunction, vec(u32(0), u32(1), u32(2), u32(3))),
		sec(secExport, vec(export("f", kindFunc, 0), export("m", kindFunc, 2))),
		sec(secCode, vec(
			// f(n): if n == 0 { return leaf() }; return f(n-1)
			body(nil, opLocalGet, 0, opI32Eqz, opIf, bt, opCall, 1, opReturn, opEnd,
				opLocalGet, 0, opI32Const, 1, opI32Sub, opCall, 0, opEnd),
			body(nil, opI64Const, 7, opEnd),
			// m(n): if n { return (1, 2) }; nop(); br 0 with (3, 4)
			body(nil, opLocalGet, 0, opIf, bt, opI64Const, 1, opI32Const, 2, opReturn, opEnd,
				opCall, 3, opI64Const, 3, opI32Const, 4, opBr, 0, opEnd),
			body(nil, opEnd),
		)),
	)
	out, err := Instrument(wasm, rules1)
	if err != nil {
		t.Fatal(err)
	}
	limit := uint64(rules1.MaxCallDepth)
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			r := wazero.NewRuntimeWithConfig(ctx, e.cfg())
			defer r.Close(ctx)
			m, err := r.Instantiate(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			m.ExportedGlobal(GasGlobalExport).(api.MutableGlobal).Set(1 << 40)
			d := m.ExportedGlobal(DepthGlobalExport)
			// f(limit-1) is limit counted frames, then the leaf.
			if res, err := m.ExportedFunction("f").Call(ctx, limit-1); err != nil || res[0] != 7 || d.Get() != 0 {
				t.Fatalf("f(%d) = %v, %v, depth %d; want 7, nil, 0", limit-1, res, err, d.Get())
			}
			for n, want := range map[uint64][2]uint64{0: {3, 4}, 1: {1, 2}} {
				if res, err := m.ExportedFunction("m").Call(ctx, n); err != nil || res[0] != want[0] || res[1] != want[1] || d.Get() != 0 {
					t.Fatalf("m(%d) = %v, %v, depth %d; want %v, nil, 0", n, res, err, d.Get(), want)
				}
			}
			if _, err := m.ExportedFunction("f").Call(ctx, limit); err == nil || uint64(d.Get()) != limit+1 {
				t.Fatalf("f(%d): err %v depth %d, want the depth trap", limit, err, d.Get())
			}
		})
	}
}
