package meter

import (
	"context"
	"encoding/json"
	"fmt"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/internal/testwasm"
)

// A minimal host for the contracts of contracts/v1, enough to run kv calls
// through wazero directly. Its functions are free (the runtime's host
// prices are not the meter's business), and those that write into the
// instance's memory (state_get, caller) do not mark what they write: the
// module marks it before calling them. Only the host's own direct write,
// the request, is marked here, as the host's contract asks.
type kvHost struct {
	state   map[string][]byte
	written *trackGlobals // of the instance being called
}

// markHost ORs the pages of [ptr, ptr+n) and their regions into the
// written globals, as the pass marks a bulk instruction's span.
func (h *kvHost) markHost(ptr, n uint32) {
	if h.written != nil {
		h.written.mark(ptr, n)
	}
}

// write is a host function's write: not marked.
func (h *kvHost) write(mod api.Module, ptr uint32, b []byte) {
	if !mod.Memory().Write(ptr, b) {
		panic(fmt.Sprintf("host write at %#x+%d outside memory", ptr, len(b)))
	}
}

// writeRequest is the host's own write of the request: marked.
func (h *kvHost) writeRequest(mod api.Module, ptr uint32, b []byte) {
	h.write(mod, ptr, b)
	h.markHost(ptr, uint32(len(b)))
}

func (h *kvHost) read(mod api.Module, ptr, n uint32) []byte {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Sprintf("host read at %#x+%d outside memory", ptr, n))
	}
	return b
}

func (h *kvHost) instantiate(ctx context.Context, r wazero.Runtime) error {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	b := r.NewHostModuleBuilder(abi.ImportModule)
	def := func(name string, params, results []api.ValueType, fn api.GoModuleFunc) {
		b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(name)
	}
	def(abi.ImportStateGet, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, func(_ context.Context, mod api.Module, s []uint64) {
		v, ok := h.state[string(h.read(mod, uint32(s[0]), uint32(s[1])))]
		if !ok {
			s[0] = api.EncodeI32(-1)
			return
		}
		if len(v) <= int(uint32(s[3])) {
			h.write(mod, uint32(s[2]), v)
		}
		s[0] = api.EncodeI32(int32(len(v)))
	})
	def(abi.ImportStateSet, []api.ValueType{i32, i32, i32, i32}, nil, func(_ context.Context, mod api.Module, s []uint64) {
		h.state[string(h.read(mod, uint32(s[0]), uint32(s[1])))] = append([]byte(nil), h.read(mod, uint32(s[2]), uint32(s[3]))...)
	})
	def(abi.ImportStateDelete, []api.ValueType{i32, i32}, nil, func(_ context.Context, mod api.Module, s []uint64) {
		delete(h.state, string(h.read(mod, uint32(s[0]), uint32(s[1]))))
	})
	def(abi.ImportEmitEvent, []api.ValueType{i32, i32}, nil, func(_ context.Context, mod api.Module, s []uint64) {
		h.read(mod, uint32(s[0]), uint32(s[1]))
	})
	def(abi.ImportCaller, []api.ValueType{i32, i32}, []api.ValueType{i32}, func(_ context.Context, mod api.Module, s []uint64) {
		addr := []byte("0123456789abcdef0123456789abcdef01234567")
		if len(addr) <= int(uint32(s[1])) {
			h.write(mod, uint32(s[0]), addr)
		}
		s[0] = api.EncodeI32(int32(len(addr)))
	})
	def(abi.ImportBlockHeight, nil, []api.ValueType{i64}, func(_ context.Context, _ api.Module, s []uint64) {
		s[0] = api.EncodeI64(7)
	})
	def(abi.ImportAbort, []api.ValueType{i32, i32}, nil, func(_ context.Context, mod api.Module, s []uint64) {
		panic(fmt.Sprintf("abort: %s", h.read(mod, uint32(s[0]), uint32(s[1]))))
	})
	_, err := b.Instantiate(ctx)
	return err
}

// contract is one initialised instance of a contracts/ module.
type contract struct {
	host    *kvHost
	mod     api.Module
	gas     api.MutableGlobal
	written *trackGlobals // nil without write tracking
	alloc   api.Function
	exec    api.Function
	init    int64 // gas _initialize used
}

// newContract instruments wasm (with or without write tracking) and
// returns an initialised instance in its own runtime.
func newContract(tb testing.TB, wasm []byte, track bool) *contract {
	tb.Helper()
	ctx := context.Background()
	var out []byte
	var err error
	if track {
		out, err = Instrument(wasm, rules1)
	} else {
		withoutTracking(func() { out, err = Instrument(wasm, rules1) })
	}
	if err != nil {
		tb.Fatalf("Instrument: %v", err)
	}
	r := wazero.NewRuntime(ctx)
	tb.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	h := &kvHost{state: map[string][]byte{}}
	if err := h.instantiate(ctx, r); err != nil {
		tb.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, out)
	if err != nil {
		tb.Fatalf("compile: %v", err)
	}
	mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		tb.Fatalf("instantiate: %v", err)
	}
	c := &contract{host: h, mod: mod, alloc: mod.ExportedFunction(abi.ExportAlloc), exec: mod.ExportedFunction(abi.ExportExecute)}
	c.gas = mod.ExportedGlobal(GasGlobalExport).(api.MutableGlobal)
	if c.written = trackGlobalsOf(tb, mod); c.written != nil {
		h.written = c.written
	} else if track {
		tb.Fatalf("no %s global", WrittenGlobalExport)
	}
	c.gas.Set(uint64(hugeGas))
	if _, err := mod.ExportedFunction(abi.ExportInitialize).Call(ctx); err != nil {
		tb.Fatalf("_initialize: %v", err)
	}
	c.init = hugeGas - int64(c.gas.Get())
	return c
}

// call runs one request the way the runtime does (alloc, copy in,
// execute) and returns the gas used and the response.
func (c *contract) call(tb testing.TB, req abi.Request) (int64, abi.Response) {
	tb.Helper()
	used, resp, err := c.try(tb, req)
	if err != nil {
		tb.Fatalf("%s.%s: %v", req.Contract, req.Method, err)
	}
	return used, resp
}

// try is call returning the call's trap, if any (a panicking contract
// aborts through the host).
func (c *contract) try(tb testing.TB, req abi.Request) (int64, abi.Response, error) {
	tb.Helper()
	ctx := context.Background()
	raw := abi.EncodeRequest(req)
	c.gas.Set(uint64(hugeGas))
	res, err := c.alloc.Call(ctx, uint64(len(raw)))
	if err != nil {
		tb.Fatalf("alloc: %v", err)
	}
	ptr := api.DecodeU32(res[0])
	c.host.writeRequest(c.mod, ptr, raw)
	if res, err = c.exec.Call(ctx, uint64(ptr), uint64(len(raw))); err != nil {
		return hugeGas - int64(c.gas.Get()), abi.Response{}, err
	}
	used := hugeGas - int64(c.gas.Get())
	rp, rn := abi.UnpackPtrLen(res[0])
	out, ok := c.mod.Memory().Read(rp, rn)
	if !ok {
		tb.Fatalf("result outside memory")
	}
	resp, err := abi.DecodeResponse(out)
	if err != nil {
		tb.Fatalf("response: %v", err)
	}
	return used, resp, nil
}

// kvRequests are v1 kv calls of every method, with values from 1 byte to
// 60 KB (the allocator, the JSON decoder and the runtime's memclr and
// memmove all run), then the same keys again.
func kvRequests() []abi.Request {
	var reqs []abi.Request
	req := func(method string, args any) {
		b, _ := json.Marshal(args)
		reqs = append(reqs, abi.Request{Contract: "kv", Method: method, Args: b})
	}
	for round := 0; round < 2; round++ {
		for i, size := range []int{1, 100, 5000, 60000, 10} {
			key := fmt.Sprintf("key-%d", i)
			req("set", map[string]string{"key": key, "value": strings.Repeat(string(rune('a'+i+round)), size)})
			req("get", map[string]string{"key": key})
		}
		req("delete", map[string]string{"key": "key-1"})
		req("get", map[string]string{"key": "missing"})
	}
	return reqs
}

// faultRequests are testmod calls that allocate and write large buffers:
// Go clears reused memory with memory.fill and copies with memory.copy,
// so these reach regions that no store of the same call writes.
func faultRequests() []abi.Request {
	var reqs []abi.Request
	req := func(method, args string) {
		reqs = append(reqs, abi.Request{Contract: "fault", Method: method, Args: []byte(args)})
	}
	for round := 0; round < 3; round++ {
		for _, kb := range []int{1, 16, 64, 40, 64} {
			req("big_value", fmt.Sprintf(`{"kb":%d}`, kb))
		}
		req("many_values", `{"n":4}`)
		req("big_event", `{"kb":3}`)
		req("alloc", `{"mb":1}`)
		req("caller", `{}`)
		req("many_events", `{"n":20}`)
	}
	return append(reqs, kvRequests()...)
}

// TestWriteTrackingGoContract runs v1's kv calls, and testmod's calls that
// write large buffers, on an instance with write tracking, the real WASI
// module of wazero and a host whose state_get and caller write without
// marking, and checks, call by call, the host's contract against a full
// comparison of memory before and after: every changed byte lies in a
// marked region or in the 8 bytes after one. The kv gets write their values
// through state_get, testmod's caller writes the address through caller,
// and its panic (the last call: the instance is not reset after a trap)
// formats the message and aborts. A second instance without the tracking
// runs the same calls and must use the same gas to the unit.
func TestWriteTrackingGoContract(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Go contract modules with a full memory diff per call; the full test run covers it")
	}
	panicReq := abi.Request{Contract: "fault", Method: "panic", Args: []byte("{}")}
	for _, tc := range []struct {
		module string
		reqs   []abi.Request
	}{
		{"v1", kvRequests()},
		{"testmod", append(faultRequests(), panicReq)},
	} {
		t.Run(tc.module, func(t *testing.T) {
			for _, err := range checkGoContract(t, tc.module, tc.reqs, true) {
				t.Error(err)
			}
		})
	}
}

// TestWriteTrackingGoContractNeedsImports: the same check fails when
// state_get's entry says it writes nothing: a kv get's value, written by
// the host into a buffer no store of the call touches, is then unmarked.
func TestWriteTrackingGoContractNeedsImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Go contract modules with a full memory diff per call; the full test run covers it")
	}
	key := importKey{abi.ImportModule, abi.ImportStateGet}
	saved := importWrites[key]
	importWrites[key] = []importSpan{}
	defer func() { importWrites[key] = saved }()
	errs := checkGoContract(t, "v1", kvRequests(), false)
	if len(errs) == 0 {
		t.Fatal("no call broke the host's contract without state_get's marking: the check cannot see import writes")
	}
	t.Logf("%d calls break the contract, e.g. %v", len(errs), errs[0])
}

// TestWriteTrackingGoContractNeedsStorePages: the same check fails when
// stores mark only their region: the page-level contract then misses the
// pages a call stores into (the regions alone would still pass).
func TestWriteTrackingGoContractNeedsStorePages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Go contract modules with a full memory diff per call; the full test run covers it")
	}
	storePages = false
	defer func() { storePages = true }()
	errs := checkGoContract(t, "v1", kvRequests(), true)
	if len(errs) == 0 {
		t.Fatal("no call broke the host's contract without the stores' page marking: the check cannot see pages")
	}
	t.Logf("%d calls break the contract, e.g. %v", len(errs), errs[0])
}

// markedPages is the number of pages below size whose region bit is set in
// w and page bit in p: those the host compares.
func markedPages(w, p uint64, size int) int {
	n := 0
	for q := 0; q < size/page; q++ {
		if w>>(uint(q>>4)%64)&1 == 1 && p>>(uint(q)%64)&1 == 1 {
			n++
		}
	}
	return n
}

// checkGoContract runs reqs on module with and without write tracking and
// returns the calls that break the host's contract. A call to
// fault.panic must trap; every other must return. With compareGas, it also
// reports differences in gas or results between the two instances.
func checkGoContract(t *testing.T, module string, reqs []abi.Request, compareGas bool) []error {
	wasm := testwasm.Module(t, module)
	tracked, plain := newContract(t, wasm, true), newContract(t, wasm, false)
	var errs []error
	if tracked.init != plain.init && compareGas {
		errs = append(errs, fmt.Errorf("_initialize: %d gas with tracking, %d without", tracked.init, plain.init))
	}
	for i, req := range reqs {
		wantTrap := req.Method == "panic"
		before := memCopy(tracked.mod.Memory())
		tracked.written.reset()
		used, resp, err := tracked.try(t, req)
		if (err != nil) != wantTrap {
			t.Fatalf("call %d (%s.%s): error %v, want a trap: %v", i, req.Contract, req.Method, err, wantTrap)
		}
		after := memCopy(tracked.mod.Memory())
		w, p := tracked.written.get()
		if err := checkContract(before, after, w, p); err != nil {
			errs = append(errs, fmt.Errorf("call %d (%s.%s): %w", i, req.Contract, req.Method, err))
		}
		if n := bits.OnesCount64(w); n == 64 || uint64(n)*region >= uint64(len(after)) {
			errs = append(errs, fmt.Errorf("call %d (%s.%s): %d of %d regions marked: the check is vacuous", i, req.Contract, req.Method, n, len(after)/region))
		}
		pages := markedPages(w, p, len(after))
		if pages*page >= len(after) {
			errs = append(errs, fmt.Errorf("call %d (%s.%s): all %d pages marked: the check is vacuous", i, req.Contract, req.Method, pages))
		}
		if !compareGas {
			continue
		}
		plainUsed, plainResp, plainErr := plain.try(t, req)
		if used != plainUsed || resp.Err != plainResp.Err || string(resp.Data) != string(plainResp.Data) || (err == nil) != (plainErr == nil) {
			errs = append(errs, fmt.Errorf("call %d (%s.%s): %d gas, %q (%v) with tracking; %d gas, %q (%v) without", i, req.Contract, req.Method, used, resp.Err, err, plainUsed, plainResp.Err, plainErr))
		}
		if i < 4 || wantTrap {
			t.Logf("%s.%s %d bytes: %d gas, memory %d KiB, marked %d regions (%#016x), %d pages (%#016x), trap %v", req.Contract, req.Method, len(req.Args), used, len(after)>>10, bits.OnesCount64(w), w, pages, p, err)
		}
	}
	return errs
}

// TestWriteTrackingGoBulk: testdata/writemod writes a large buffer with
// stores, memory.fill (Go's clear) and memory.copy (Go's copy) in separate
// calls, so each kind of write is the only one in its regions: skipping the
// marking of any of them breaks the host's contract here.
func TestWriteTrackingGoBulk(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Go contract modules with a full memory diff per call; the full test run covers it")
	}
	calls := []writemodCall{
		{"set", []uint64{1}, 3 * region}, {"zero", nil, 3 * region}, {"set", []uint64{2}, 3 * region},
		{"move", []uint64{70000}, 3 * region}, {"move", []uint64{1}, 3 * region}, {"zero", nil, 3 * region},
	}
	for _, err := range runWritemod(t, calls) {
		t.Error(err)
	}
}

// TestWriteTrackingGoWASI: writemod's calls of the real WASI functions of
// wazero that write memory: crypto/rand's random_get straight into the
// buffer, println's fd_write to stderr, time.Now's clock_time_get. The
// host's contract holds; without random_get's entry, rnd breaks it.
func TestWriteTrackingGoWASI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Go contract modules with a full memory diff per call; the full test run covers it")
	}
	calls := []writemodCall{
		{"rnd", nil, 3 * region}, {"say", []uint64{100}, 0}, {"now", nil, 0},
		{"say", []uint64{70000}, 0}, {"rnd", nil, 3 * region},
	}
	for _, err := range runWritemod(t, calls) {
		t.Error(err)
	}
	key := importKey{wasiModule, "random_get"}
	saved := importWrites[key]
	importWrites[key] = []importSpan{}
	defer func() { importWrites[key] = saved }()
	if errs := runWritemod(t, calls[:1]); len(errs) == 0 {
		t.Error("rnd kept the host's contract without random_get's marking: the check cannot see its writes")
	} else {
		t.Logf("without random_get's entry: %v", errs[0])
	}
}

// writemodCall is a call of a testdata/writemod export and the fewest
// bytes it must change (for the test to be what it says).
type writemodCall struct {
	fn      string
	args    []uint64
	changes int
}

// runWritemod builds testdata/writemod, instruments it, and runs the calls
// in order on one instance, with wazero's WASI module, returning the
// calls that break the host's contract.
func runWritemod(t *testing.T, calls []writemodCall) []error {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH")
	}
	out := filepath.Join(t.TempDir(), "writemod.wasm")
	cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Dir = filepath.Join("testdata", "writemod")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	metered, err := Instrument(wasm, rules1)
	if err != nil {
		t.Fatal(err)
	}
	r, compiled := newGoRuntime(t, wazero.NewRuntimeConfig(), metered)
	in := newGoInstance(t, r, compiled)
	written := trackGlobalsOf(t, in.mod)
	ctx := context.Background()
	var errs []error
	for i, c := range calls {
		before := memCopy(in.mod.Memory())
		written.reset()
		in.gas.Set(uint64(hugeGas))
		if _, err := in.mod.ExportedFunction(c.fn).Call(ctx, c.args...); err != nil {
			t.Fatalf("%s: %v", c.fn, err)
		}
		after := memCopy(in.mod.Memory())
		w, p := written.get()
		changed := 0
		for j := range before {
			if before[j] != after[j] {
				changed++
			}
		}
		if changed < c.changes {
			t.Errorf("call %d (%s): %d bytes changed, want at least %d: the test is not what it says", i, c.fn, changed, c.changes)
		}
		if err := checkContract(before, after, w, p); err != nil {
			errs = append(errs, fmt.Errorf("call %d (%s): %w", i, c.fn, err))
		}
		t.Logf("%s%v: %d bytes changed, marked %d regions (%#016x), %d pages", c.fn, c.args, changed, bits.OnesCount64(w), w, markedPages(w, p, len(after)))
	}
	return errs
}

// TestWriteTrackingGoModule: loopmod's spin (map writes, allocation,
// collection) uses the same gas with and without the tracking.
func TestWriteTrackingGoModule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Go contract modules with a full memory diff per call; the full test run covers it")
	}
	wasm := goModule(t)
	var plainOut []byte
	withoutTracking(func() {
		var err error
		if plainOut, err = Instrument(wasm, rules1); err != nil {
			t.Fatal(err)
		}
	})
	out, err := Instrument(wasm, rules1)
	if err != nil {
		t.Fatal(err)
	}
	r1, c1 := newGoRuntime(t, wazero.NewRuntimeConfig(), out)
	r2, c2 := newGoRuntime(t, wazero.NewRuntimeConfig(), plainOut)
	a, b := newGoInstance(t, r1, c1), newGoInstance(t, r2, c2)
	if a.initUsed != b.initUsed {
		t.Errorf("_initialize: %d gas with tracking, %d without", a.initUsed, b.initUsed)
	}
	for _, n := range []int32{0, 10, 1000, 20000} {
		ra, ua, err1 := a.call(n, hugeGas)
		rb, ub, err2 := b.call(n, hugeGas)
		if err1 != nil || err2 != nil || ra != rb || ua != ub {
			t.Errorf("spin(%d): %d, %d gas (%v) with tracking; %d, %d gas (%v) without", n, ra, ua, err1, rb, ub, err2)
		}
	}
	_, ua, _ := newGoInstance(t, r1, c1).call(1<<30, 300_000)
	_, ub, _ := newGoInstance(t, r2, c2).call(1<<30, 300_000)
	if ua != ub {
		t.Errorf("out of gas: %d gas with tracking, %d without", ua, ub)
	}
}

// BenchmarkWriteTracking measures what the tracking costs at run time: a
// v1 kv.set of a 100-byte value (a new key each time, as transactions do)
// and loopmod's spin(1000), with and without it. The machine the tests run
// on is shared and loaded, so each iteration runs a chunk of calls on the
// untracked instance, then the same on the tracked one, timing each chunk
// with the calling thread's CPU time; the figures are the medians and
// minima over chunks (ns per call), and the tracked/untracked ratio of the
// medians.
func BenchmarkWriteTracking(b *testing.B) {
	const chunk = 20
	kvWasm := testwasm.Module(b, "v1")
	value := strings.Repeat("v", 100)
	kv := func(track bool) func(int) {
		c := newContract(b, kvWasm, track)
		return func(i int) {
			args, _ := json.Marshal(map[string]string{"key": fmt.Sprintf("key-%d", i), "value": value})
			if c.written != nil {
				c.written.reset()
			}
			if _, resp := c.call(b, abi.Request{Contract: "kv", Method: "set", Args: args}); resp.Err != "" {
				b.Fatal(resp.Err)
			}
			if i%1000 == 999 {
				c.host.state = map[string][]byte{}
			}
		}
	}
	plain := goModule(b)
	spin := func(track bool) func(int) {
		var out []byte
		var err error
		if track {
			out, err = Instrument(plain, rules1)
		} else {
			withoutTracking(func() { out, err = Instrument(plain, rules1) })
		}
		if err != nil {
			b.Fatal(err)
		}
		r, compiled := newGoRuntime(b, wazero.NewRuntimeConfig(), out)
		in := newGoInstance(b, r, compiled)
		return func(int) {
			if _, _, err := in.call(1000, hugeGas); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, bc := range []struct {
		name string
		make func(bool) func(int)
	}{{"kv.set", kv}, {"spin", spin}} {
		b.Run(bc.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			fns := [2]func(int){bc.make(false), bc.make(true)}
			var per [2][]float64
			i := 0
			for b.Loop() {
				for k, fn := range fns {
					start := threadCPU()
					for j := 0; j < chunk; j++ {
						fn(i + j)
					}
					per[k] = append(per[k], float64(threadCPU()-start)/chunk)
				}
				i += chunk
			}
			med := [2]float64{median(per[0]), median(per[1])}
			b.ReportMetric(med[0], "untracked-ns/call")
			b.ReportMetric(med[1], "tracked-ns/call")
			b.ReportMetric(slices.Min(per[0]), "untracked-min-ns/call")
			b.ReportMetric(slices.Min(per[1]), "tracked-min-ns/call")
			b.ReportMetric(med[1]/med[0], "ratio")
			b.ReportMetric(0, "ns/op") // wall time per chunk pair is meaningless here
		})
	}
}

// threadCPU is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID:
// getrusage's per-thread figure only moves with the scheduler tick).
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		panic(e)
	}
	return time.Duration(ts.Nano())
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
