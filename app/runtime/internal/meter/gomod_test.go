package meter

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// The Go-built module is compiled once per test binary into a temporary
// directory that TestMain removes.
var (
	goModOnce sync.Once
	goModDir  string
	goModWasm []byte
	goModErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if goModDir != "" {
		os.RemoveAll(goModDir)
	}
	os.Exit(code)
}

// goModule returns testdata/loopmod built with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared, skipping the test when no go command is available.
func goModule(tb testing.TB) []byte {
	tb.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		tb.Skip("go command not on PATH")
	}
	goModOnce.Do(func() {
		if goModDir, goModErr = os.MkdirTemp("", "meter-loopmod-"); goModErr != nil {
			return
		}
		out := filepath.Join(goModDir, "loopmod.wasm")
		cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
		cmd.Dir = filepath.Join("testdata", "loopmod")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			goModErr = err
			tb.Logf("go build: %s", msg)
			return
		}
		goModWasm, goModErr = os.ReadFile(out)
	})
	if goModErr != nil {
		tb.Fatalf("building testdata/loopmod: %v", goModErr)
	}
	return goModWasm
}

// spinNative is testdata/loopmod's spin, to check results.
func spinNative(n int32) int64 {
	m := make(map[int32]int64)
	var acc int64
	for i := int32(0); i < n; i++ {
		acc = acc*31 + int64(i)
		m[i%64] += acc
	}
	return acc + int64(len(m))
}

// goInstance is one fresh instance of the instrumented Go module, already
// initialised.
type goInstance struct {
	mod      api.Module
	gas      api.MutableGlobal
	spin     api.Function
	initUsed int64 // gas _initialize used
}

const hugeGas = math.MaxInt64 / 2

func newGoInstance(tb testing.TB, r wazero.Runtime, compiled wazero.CompiledModule) *goInstance {
	tb.Helper()
	ctx := context.Background()
	// No start functions: the gas global is 0 until the host sets it, so
	// _initialize would run out of gas at once.
	mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		tb.Fatalf("instantiate: %v", err)
	}
	in := &goInstance{mod: mod, spin: mod.ExportedFunction("spin")}
	in.gas = mod.ExportedGlobal(GasGlobalExport).(api.MutableGlobal)
	in.gas.Set(uint64(hugeGas))
	if _, err := mod.ExportedFunction("_initialize").Call(ctx); err != nil {
		tb.Fatalf("_initialize: %v", err)
	}
	in.initUsed = hugeGas - int64(in.gas.Get())
	return in
}

// call runs spin(n) with the given gas limit and returns the result, the
// gas used and the error.
func (in *goInstance) call(n int32, limit int64) (int64, int64, error) {
	in.gas.Set(uint64(limit))
	res, err := in.spin.Call(context.Background(), api.EncodeI32(n))
	used := limit - int64(in.gas.Get())
	if err != nil {
		return 0, used, err
	}
	return int64(res[0]), used, nil
}

func newGoRuntime(tb testing.TB, cfg wazero.RuntimeConfig, wasm []byte) (wazero.Runtime, wazero.CompiledModule) {
	tb.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	tb.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		tb.Fatalf("compile: %v", err)
	}
	return r, compiled
}

func TestGoModule(t *testing.T) {
	wasm := goModule(t)
	out, err := Instrument(wasm, rules1)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	m, err := parseModule(wasm)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Go module: %d bytes, %d imported + %d defined functions, %d imported + %d defined globals; instrumented: %d bytes (+%.1f%%)",
		len(wasm), m.importedFuncs, m.definedFuncs, m.importedGlobals, m.definedGlobals, len(out), 100*float64(len(out)-len(wasm))/float64(len(wasm)))

	r, compiled := newGoRuntime(t, wazero.NewRuntimeConfig(), out)
	a := newGoInstance(t, r, compiled)
	t.Logf("_initialize used %d gas", a.initUsed)

	// Small calls succeed with the right result, and cost grows with n.
	var prev int64 = -1
	for _, n := range []int32{0, 1, 10, 100, 1000, 10000} {
		got, used, err := a.call(n, hugeGas)
		if err != nil {
			t.Fatalf("spin(%d): %v", n, err)
		}
		if want := spinNative(n); got != want {
			t.Errorf("spin(%d) = %d, want %d", n, got, want)
		}
		if used <= prev {
			t.Errorf("spin(%d) used %d gas, not more than the previous %d", n, used, prev)
		}
		t.Logf("spin(%d): %d gas", n, used)
		prev = used
	}

	// A fresh instance in the same state pays exactly the same.
	b := newGoInstance(t, r, compiled)
	if a.initUsed != b.initUsed {
		t.Errorf("_initialize used %d then %d gas", a.initUsed, b.initUsed)
	}
	c := newGoInstance(t, r, compiled)
	for _, n := range []int32{0, 1, 10, 100, 1000, 10000} {
		_, ub, err1 := b.call(n, hugeGas)
		_, uc, err2 := c.call(n, hugeGas)
		if err1 != nil || err2 != nil || ub != uc {
			t.Errorf("spin(%d) on two fresh instances: %d gas (%v) vs %d gas (%v)", n, ub, err1, uc, err2)
		}
	}

	// An endless-looking call with a small limit runs out of gas, at the
	// same point on every instance.
	const limit = 1_000_000
	var firstLeft int64
	var firstErr string
	for i := 0; i < 2; i++ {
		in := newGoInstance(t, r, compiled)
		_, used, err := in.call(math.MaxInt32, limit)
		if err == nil {
			t.Fatal("spin(MaxInt32) with 1e6 gas returned")
		}
		left := limit - used
		if left >= 0 || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("spin(MaxInt32): err %v, gas left %d; want an unreachable trap with negative gas", err, left)
		}
		if i == 0 {
			firstLeft, firstErr = left, err.Error()
		} else if left != firstLeft || err.Error() != firstErr {
			t.Errorf("out of gas differs between instances: left %d vs %d, err %q vs %q", left, firstLeft, err, firstErr)
		}
	}
	t.Logf("spin(MaxInt32) with %d gas: trapped with %d left", limit, firstLeft)
}

// TestGoModuleEnginesAgree runs the same calls on the interpreter: metering
// is plain wasm, so both engines must report the same gas to the unit.
func TestGoModuleEnginesAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("interpreter run of the Go module is slow")
	}
	out, err := Instrument(goModule(t), rules1)
	if err != nil {
		t.Fatal(err)
	}
	rc, cc := newGoRuntime(t, wazero.NewRuntimeConfig(), out)
	ri, ci := newGoRuntime(t, wazero.NewRuntimeConfigInterpreter(), out)
	a, b := newGoInstance(t, rc, cc), newGoInstance(t, ri, ci)
	if a.initUsed != b.initUsed {
		t.Errorf("_initialize: compiler %d gas, interpreter %d", a.initUsed, b.initUsed)
	}
	for _, n := range []int32{10, 1000} {
		ra, ua, err1 := a.call(n, hugeGas)
		rb, ub, err2 := b.call(n, hugeGas)
		if err1 != nil || err2 != nil || ra != rb || ua != ub {
			t.Errorf("spin(%d): compiler %d/%d gas/%v, interpreter %d/%d gas/%v", n, ra, ua, err1, rb, ub, err2)
		}
	}
	_, ua, _ := newGoInstance(t, rc, cc).call(math.MaxInt32, 200_000)
	_, ub, _ := newGoInstance(t, ri, ci).call(math.MaxInt32, 200_000)
	if ua != ub {
		t.Errorf("out of gas: compiler used %d, interpreter %d", ua, ub)
	}
}

func BenchmarkInstrument(b *testing.B) {
	wasm := goModule(b)
	b.SetBytes(int64(len(wasm)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Instrument(wasm, rules1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpin measures the run-time overhead of metering: spin(1000) on
// the plain and on the instrumented Go module, compiler engine.
func BenchmarkSpin(b *testing.B) {
	ctx := context.Background()
	plain := goModule(b)
	metered, err := Instrument(plain, rules1)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("plain", func(b *testing.B) {
		r, compiled := newGoRuntime(b, wazero.NewRuntimeConfig(), plain)
		mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
		if err != nil {
			b.Fatal(err)
		}
		spin := mod.ExportedFunction("spin")
		for b.Loop() {
			if _, err := spin.Call(ctx, 1000); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("metered", func(b *testing.B) {
		r, compiled := newGoRuntime(b, wazero.NewRuntimeConfig(), metered)
		in := newGoInstance(b, r, compiled)
		var used int64
		for b.Loop() {
			var err error
			if _, used, err = in.call(1000, hugeGas); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(used), "gas/op")
	})
}
