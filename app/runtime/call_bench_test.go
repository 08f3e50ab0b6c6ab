package runtime_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/internal/testwasm"
)

// benchWarmCalls executes req once per iteration on s, which the caller has already warmed
// up (its first call paid for the instance and the Go runtime's start-up), and reports the
// mean gas per call (a single call's gas varies when the guest's garbage collector runs).
func benchWarmCalls(b *testing.B, s *runtime.Session, e env, req abi.Request) {
	b.Helper()
	ctx := context.Background()
	var gas uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := s.Execute(ctx, e, req, 1<<30)
		if err != nil || res.Err != nil {
			b.Fatal(err, res.Err)
		}
		gas += res.GasUsed
	}
	b.ReportMetric(float64(gas)/float64(b.N), "gas/call")
}

// BenchmarkCallNoop is the fixed cost of one call on a warm instance with no contract
// work at all (fault.noop returns at once): encoding the request, the host/guest crossing
// for vchain_alloc and vchain_execute, the SDK's dispatch and decoding the response. Every
// transaction pays it, so it is the floor under any contract call's latency.
func BenchmarkCallNoop(b *testing.B) {
	_, mod := install(b, "testmod")
	s := mod.NewSession()
	defer s.Close(context.Background())
	w := state.NewCache(newStore(b))
	if r := call(b, s, w, "fault", "noop", "", 1<<30); r.Err != nil || len(r.Data) != 0 {
		b.Fatalf("noop: data %q err %v", r.Data, r.Err)
	}
	benchWarmCalls(b, s, env{w, "fault"}, abi.Request{Contract: "fault", Method: "noop"})
}

// BenchmarkCallTransfer is one bank.transfer of 1 token to a fixed address on a warm
// instance: JSON arguments, three state reads, two state writes, one event and a JSON
// result. It is the typical value-moving transaction, so it bounds transfer throughput.
func BenchmarkCallTransfer(b *testing.B) {
	const balance = 1_000_000 // the bank's mint cap: far more transfers than b.N reaches at -benchtime 1s
	if b.N > balance {
		b.Fatalf("b.N %d exceeds the minted balance %d", b.N, balance)
	}
	_, mod := install(b, "v1")
	s := mod.NewSession()
	defer s.Close(context.Background())
	w := state.NewCache(newStore(b))
	if r := call(b, s, w, "bank", "mint", `{"amount":1000000}`, 1<<30); r.Err != nil {
		b.Fatalf("mint: %v", r.Err)
	}
	to := strings.Repeat("B", 40)
	benchWarmCalls(b, s, env{w, "bank"}, abi.Request{Contract: "bank", Method: "transfer", Args: []byte(`{"to":"` + to + `","amount":1}`)})
}

// BenchmarkMeteringOverhead runs the same pure-compute call, fault.spin with n = 100000,
// on the metered module through runtime.Session ("metered") and on the raw, unmetered
// module driven directly with wazero ("plain"). The ratio of the two ns/op is what gas
// metering costs on compute-bound contracts: the price of deterministic resource limits.
func BenchmarkMeteringOverhead(b *testing.B) {
	ctx := context.Background()
	req := abi.Request{Contract: "fault", Method: "spin", Args: []byte(`{"n":100000}`)}

	_, mod := install(b, "testmod")
	s := mod.NewSession()
	defer s.Close(ctx)
	w := state.NewCache(newStore(b))
	metered := call(b, s, w, req.Contract, req.Method, string(req.Args), 1<<40)
	if metered.Err != nil {
		b.Fatal(metered.Err)
	}

	p := newPlain(b, testwasm.Module(b, "testmod"))
	if got := p.execute(b, req); string(got) != string(metered.Data) {
		b.Fatalf("plain spin returned %q, metered %q", got, metered.Data)
	}

	b.Run("metered", func(b *testing.B) {
		benchWarmCalls(b, s, env{w, "fault"}, req)
	})
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			p.execute(b, req)
		}
	})
}

// plain is an instance of an unmetered module on a bare wazero runtime, with host
// functions that satisfy the imports but do nothing useful: only for guest code that
// never touches state, like fault.spin.
type plain struct {
	inst        api.Module
	alloc, exec api.Function
}

func newPlain(b *testing.B, wasm []byte) *plain {
	b.Helper()
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(testwasm.CacheDir())
	if err != nil {
		b.Fatal(err)
	}
	// The same memory cap as runtime.Manager, so the only difference is the metering.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithMemoryLimitPages(runtime.MemoryLimitPages).
		WithCompilationCache(cache))
	b.Cleanup(func() {
		rt.Close(ctx)
		cache.Close(ctx)
	})
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		b.Fatal(err)
	}
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	hb := rt.NewHostModuleBuilder(abi.ImportModule)
	def := func(name string, params, results []api.ValueType, fn api.GoModuleFunc) {
		hb.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(name)
	}
	nop := func(context.Context, api.Module, []uint64) {}
	def(abi.ImportStateGet, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32},
		func(_ context.Context, _ api.Module, s []uint64) { s[0] = api.EncodeI32(-1) })
	def(abi.ImportStateSet, []api.ValueType{i32, i32, i32, i32}, nil, nop)
	def(abi.ImportStateDelete, []api.ValueType{i32, i32}, nil, nop)
	def(abi.ImportEmitEvent, []api.ValueType{i32, i32}, nil, nop)
	def(abi.ImportCaller, []api.ValueType{i32, i32}, []api.ValueType{i32},
		func(_ context.Context, _ api.Module, s []uint64) { s[0] = 0 })
	def(abi.ImportBlockHeight, nil, []api.ValueType{i64},
		func(_ context.Context, _ api.Module, s []uint64) { s[0] = 0 })
	def(abi.ImportAbort, []api.ValueType{i32, i32}, nil,
		func(context.Context, api.Module, []uint64) { panic("abort called in the plain benchmark instance") })
	if _, err := hb.Instantiate(ctx); err != nil {
		b.Fatal(err)
	}
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	inst, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := inst.ExportedFunction(abi.ExportInitialize).Call(ctx); err != nil {
		b.Fatal(err)
	}
	return &plain{inst: inst, alloc: inst.ExportedFunction(abi.ExportAlloc), exec: inst.ExportedFunction(abi.ExportExecute)}
}

// execute runs req the way runtime.Session does, minus metering and host state, and
// returns the response data.
func (p *plain) execute(b *testing.B, req abi.Request) []byte {
	ctx := context.Background()
	in := abi.EncodeRequest(req)
	r, err := p.alloc.Call(ctx, uint64(len(in)))
	if err != nil {
		b.Fatal(err)
	}
	ptr := api.DecodeU32(r[0])
	if !p.inst.Memory().Write(ptr, in) {
		b.Fatal("request outside memory")
	}
	if r, err = p.exec.Call(ctx, uint64(ptr), uint64(len(in))); err != nil {
		b.Fatal(err)
	}
	rp, rn := abi.UnpackPtrLen(r[0])
	out, ok := p.inst.Memory().Read(rp, rn)
	if !ok {
		b.Fatal("response outside memory")
	}
	resp, err := abi.DecodeResponse(out)
	if err != nil || resp.Err != "" {
		b.Fatal(err, resp.Err)
	}
	return resp.Data
}
