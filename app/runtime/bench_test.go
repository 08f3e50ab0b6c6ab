package runtime_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/contracts/abi"
)

// BenchmarkCall is the per-call cost of the runtime, including the restore of the
// instance to its snapshot that precedes every call: kv.set, which parses JSON arguments,
// writes one key and emits one event.
func BenchmarkCall(b *testing.B) {
	_, mod := install(b, "v1")
	ctx := context.Background()
	s := mod.NewSession()
	defer s.Close(ctx)
	w := state.NewCache(newStore(b))
	e := env{w, "kv"}
	call(b, s, w, "kv", "set", `{"key":"warm","value":"x"}`, 1<<30)
	var gas uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := s.Execute(ctx, e, abi.Request{Contract: "kv", Method: "set", Args: []byte(`{"key":"k` + strconv.Itoa(i%1000) + `","value":"v"}`)}, 1<<30)
		if err != nil || res.Err != nil {
			b.Fatal(err, res.Err)
		}
		gas = res.GasUsed
	}
	b.ReportMetric(float64(gas), "gas/call")
}

// BenchmarkFreshInstance is a block's first call: a new session, which takes an idle
// instance of the module (a new one only when none is idle), restores it and calls
// kv.set. The Go runtime's initialisation runs once per module, for its snapshot.
func BenchmarkFreshInstance(b *testing.B) {
	_, mod := install(b, "v1")
	ctx := context.Background()
	w := state.NewCache(newStore(b))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := mod.NewSession()
		call(b, s, w, "kv", "set", `{"key":"k","value":"v"}`, 1<<30)
		s.Close(ctx)
	}
}

// BenchmarkMeteredLoop measures pure guest compute under metering: fault.spin(n) with
// n = 100000 iterations per call.
func BenchmarkMeteredLoop(b *testing.B) {
	_, mod := install(b, "testmod")
	ctx := context.Background()
	s := mod.NewSession()
	defer s.Close(ctx)
	w := state.NewCache(newStore(b))
	call(b, s, w, "fault", "spin", `{"n":1}`, 1<<40)
	var gas uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		gas = call(b, s, w, "fault", "spin", `{"n":100000}`, 1<<40).GasUsed
	}
	b.ReportMetric(float64(gas), "gas/call")
}
