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

// setArgs is a kv.set whose gas is above the profile's minimum, so a change in the gas
// the call itself uses shows in the figure charged.
var setArgs = `{"key":"k","value":"` + strings.Repeat("v", 200) + `"}`

// TestGasBelongsToTheCall: the same kv.set on the same state uses the same gas and
// returns the same data and events whatever ran before it on the session's instance: at
// positions 1 to 10, after a trap, a panic, an exit, an out-of-gas, a limit below the
// minimum, a recursion stopped by the depth limit, and a call that grew the memory (which
// replaces the instance) or hit the memory cap.
func TestGasBelongsToTheCall(t *testing.T) {
	_, mod := install(t, "testmod")
	ctx := context.Background()
	store := newStore(t)
	kvset := func(t *testing.T, s *runtime.Session) runtime.Result {
		t.Helper()
		r := call(t, s, state.NewCache(store), "kv", "set", setArgs, 10_000_000) // the same state every time
		if r.Err != nil {
			t.Fatalf("kv.set: %v", r.Err)
		}
		return r
	}
	ref := func() runtime.Result {
		s := mod.NewSession()
		defer s.Close(ctx)
		return kvset(t, s)
	}()
	t.Logf("kv.set: %d gas", ref.GasUsed)
	if ref.GasUsed <= mod.Profile.MinTxGas {
		t.Fatalf("kv.set uses %d gas, not above the minimum %d: the test would compare the minimum", ref.GasUsed, mod.Profile.MinTxGas)
	}
	same := func(t *testing.T, what string, r runtime.Result) {
		t.Helper()
		if r.GasUsed != ref.GasUsed || !bytes.Equal(r.Data, ref.Data) || fmt.Sprint(r.Events) != fmt.Sprint(ref.Events) {
			t.Fatalf("%s: gas %d data %q events %v; the first call on a fresh session: gas %d data %q events %v",
				what, r.GasUsed, r.Data, r.Events, ref.GasUsed, ref.Data, ref.Events)
		}
	}

	t.Run("positions 1 to 10", func(t *testing.T) {
		s := mod.NewSession()
		defer s.Close(ctx)
		gas := make([]uint64, 10)
		for i := range gas {
			r := kvset(t, s)
			gas[i] = r.GasUsed
			same(t, fmt.Sprintf("call %d", i+1), r)
		}
		t.Logf("gas at positions 1..10: %v", gas)
	})

	before := []struct {
		name, method, args string
		gas                uint64
		want               codes.Code
	}{
		{"trap", "exit", "", 10_000_000, codes.ContractTrap},
		{"panic", "panic", "", 10_000_000, codes.ContractAbort},
		{"out of gas", "loop", "", 5_000_000, codes.OutOfGas},
		{"out of gas mid-spin", "spin", `{"n":100000000}`, 3_000_000, codes.OutOfGas},
		{"limit below the minimum", "noop", "", 1, codes.OutOfGas},
		{"depth limit", "recurse", "", 1 << 40, codes.ContractTrap},
		{"memory grown", "alloc", `{"mb":16}`, 1 << 40, codes.OK},
		{"memory cap", "alloc", `{"mb":200}`, 1 << 40, codes.ContractTrap},
		{"contract error", "write_then_fail", "", 10_000_000, codes.ContractError},
		{"big writes", "many_values", `{"n":20}`, 1 << 40, codes.OK},
	}
	for _, tc := range before {
		t.Run("after "+tc.name, func(t *testing.T) {
			s := mod.NewSession()
			defer s.Close(ctx)
			same(t, "first call", kvset(t, s))
			r := call(t, s, state.NewCache(store), "fault", tc.method, tc.args, tc.gas)
			if code := codes.OK; r.Err != nil {
				code = r.Err.Code
				if code != tc.want {
					t.Fatalf("fault.%s: %v, want %s", tc.method, r.Err, tc.want)
				}
			} else if tc.want != codes.OK {
				t.Fatalf("fault.%s succeeded, want %s", tc.method, tc.want)
			}
			for i := 0; i < 2; i++ {
				same(t, fmt.Sprintf("call %d after fault.%s", i+1, tc.method), kvset(t, s))
			}
		})
	}
}

// TestMinimumGas: a limit below the profile's minimum fails without running and uses
// the whole limit; any call uses at least the minimum.
func TestMinimumGas(t *testing.T) {
	_, mod := install(t, "testmod")
	ctx := context.Background()
	minGas := mod.Profile.MinTxGas
	if minGas == 0 {
		t.Skip("the profile sets no minimum")
	}
	s := mod.NewSession()
	defer s.Close(ctx)
	w := state.NewCache(newStore(t))
	r := call(t, s, w, "kv", "set", setArgs, minGas-1)
	if r.Err == nil || r.Err.Code != codes.OutOfGas || r.GasUsed != minGas-1 {
		t.Fatalf("limit %d: %+v", minGas-1, r)
	}
	if v, _ := w.Get(state.ContractKey("kv", []byte("k"))); v != nil {
		t.Fatalf("a call below the minimum ran: it stored %q", v)
	}
	// A module whose entry point returns at once uses a handful of gas: it is charged
	// the minimum.
	tiny, err := newManager(t).Install(ctx, 1, abiModule(nil).bytes())
	if err != nil {
		t.Fatal(err)
	}
	ts := tiny.NewSession()
	defer ts.Close(ctx)
	r = call(t, ts, w, "kv", "set", setArgs, minGas)
	if r.GasUsed != minGas {
		t.Fatalf("a call of a few instructions with limit %d: gas %d (%v), want exactly the minimum", minGas, r.GasUsed, r.Err)
	}
}

// TestWarmupMayNotUseTheChain: a module whose warm-up calls a host function is refused
// at install, with a message that says why, instead of leaking what it read into every
// call's starting state.
func TestWarmupMayNotUseTheChain(t *testing.T) {
	m := abiModule(nil, wfunc{typ: typVoid, body: []byte{opCall, 0, opDrop}})
	m.types = append(m.types, funcType{nil, []byte{tI64}}) // type 3: () -> i64
	m = withImport(m, abi.ImportModule, abi.ImportBlockHeight, 3)
	m.exports = append(m.exports, wexport{runtime.ExportWarmup, 0, 4})
	_, err := newManager(t).Install(context.Background(), 1, m.bytes())
	if err == nil || !strings.Contains(err.Error(), "warm-up may not use the chain") {
		t.Fatalf("install: %v", err)
	}
}

// TestNodeFailureIsNotAResult: when a new instance cannot be created (here: the engine
// is closed; in production, the machine is out of memory), Execute returns an error,
// which stops the node, rather than a result every other node would disagree with.
func TestNodeFailureIsNotAResult(t *testing.T) {
	m, mod := install(t, "v1")
	ctx := context.Background()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := mod.NewSession()
	defer s.Close(ctx)
	res, err := s.Execute(ctx, env{state.NewCache(newStore(t)), "kv"}, abi.Request{Contract: "kv", Method: "set", Args: []byte(setArgs)}, 10_000_000)
	if err == nil {
		t.Fatalf("got result %+v, want a node error", res)
	}
	t.Logf("node error: %v", err)
}
