package runtime

import (
	"bytes"
	"context"
	"testing"
	"time"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/internal/testwasm"
)

type testEnv struct{ *state.Cache }

func (e testEnv) Caller() string { return "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }
func (e testEnv) Height() int64  { return 7 }

// TestRestoreIsExact checks the instance itself, not only the gas: after every kind of
// call, the instance the next call gets holds the snapshot's memory byte for byte, its
// globals, depth and clocks, with each restore mechanism this machine has (kernel page
// tracking where available, the full compare everywhere). A page a restore missed would
// be a consensus split even where no gas figure shows it.
func TestRestoreIsExact(t *testing.T) {
	mechanisms := map[string]bool{"full compare": false}
	if trackingAvailable() == nil {
		mechanisms["kernel page tracking"] = true
	}
	useTracking() // run the calibration once, then override its choice
	saved := mechanism.track
	defer func() { mechanism.track = saved }()
	calls := []struct{ contract, method, args string }{
		{"kv", "set", `{"key":"k","value":"v"}`},
		{"kv", "set", `{"key":"other","value":"longer value"}`},
		{"fault", "exit", ""},
		{"fault", "loop", ""},
		{"fault", "panic", ""},
		{"fault", "recurse", ""},
		{"fault", "many_values", `{"n":20}`},
		{"fault", "alloc", `{"mb":16}`},
		{"fault", "spin", `{"n":1000}`},
		{"bank", "mint", `{"amount":5}`},
	}
	for name, track := range mechanisms {
		t.Run(name, func(t *testing.T) {
			mechanism.track = track
			ctx := context.Background()
			m, err := NewManager(ctx, t.TempDir(), WithCacheDir(testwasm.CacheDir()))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(ctx)
			mod, err := m.Install(ctx, 1, testwasm.Module(t, "testmod"))
			if err != nil {
				t.Fatal(err)
			}
			st, err := state.Open(dbm.NewMemDB())
			if err != nil {
				t.Fatal(err)
			}
			s := mod.NewSession()
			defer s.Close(ctx)
			for round := 0; round < 2; round++ {
				for _, c := range calls {
					if _, err := s.Execute(ctx, testEnv{state.NewCache(st)}, abi.Request{Contract: c.contract, Method: c.method, Args: []byte(c.args)}, 50_000_000); err != nil {
						t.Fatal(err)
					}
					in, _, err := s.acquire(ctx)
					if err != nil {
						t.Fatal(err)
					}
					s.in = in
					if track && in.track == nil {
						t.Fatal("tracking was chosen but the instance is untracked")
					}
					checkSnapshotState(t, c.method, in, mod.snap)
				}
			}
		})
	}
}

func checkSnapshotState(t *testing.T, after string, in *instance, snap *snapshot) {
	t.Helper()
	mem, _ := in.mem.Read(0, in.mem.Size())
	if !bytes.Equal(mem, snap.mem) {
		diff := 0
		for p := 0; p < min(len(mem), len(snap.mem)); p += 4096 {
			if !bytes.Equal(mem[p:min(p+4096, len(mem))], snap.mem[p:min(p+4096, len(snap.mem))]) {
				diff++
			}
		}
		t.Fatalf("after %s: memory is %d bytes, %d pages differ from the snapshot's %d bytes", after, len(mem), diff, len(snap.mem))
	}
	for i, g := range in.globals {
		if g.Get() != snap.globals[i] {
			t.Fatalf("after %s: global %d is %#x, the snapshot has %#x", after, i, g.Get(), snap.globals[i])
		}
	}
	if in.depth.Get() != snap.depth || in.clock.clockState != snap.clock {
		t.Fatalf("after %s: depth %d clock %+v, the snapshot has %d %+v", after, in.depth.Get(), in.clock.clockState, snap.depth, snap.clock)
	}
}

func benchModule(b *testing.B) (*Module, *Session, *state.Store) {
	b.Helper()
	ctx := context.Background()
	m, err := NewManager(ctx, b.TempDir(), WithCacheDir(testwasm.CacheDir()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close(ctx) })
	mod, err := m.Install(ctx, 1, testwasm.Module(b, "v1"))
	if err != nil {
		b.Fatal(err)
	}
	st, err := state.Open(dbm.NewMemDB())
	if err != nil {
		b.Fatal(err)
	}
	s := mod.NewSession()
	b.Cleanup(func() { s.Close(ctx) })
	return mod, s, st
}

// BenchmarkRestore is the reset alone: restoring the instance after one kv.set, with the
// mechanism this process chose (reported). It is what MinTxGas pays for.
func BenchmarkRestore(b *testing.B) {
	ctx := context.Background()
	mod, s, st := benchModule(b)
	req := abi.Request{Contract: "kv", Method: "set", Args: []byte(`{"key":"k","value":"v"}`)}
	b.Log(RestoreMechanism())
	var d time.Duration
	for i := 0; i < b.N; i++ {
		if _, err := s.Execute(ctx, testEnv{state.NewCache(st)}, req, 10_000_000); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if !s.in.restore(mod.snap) {
			b.Fatal("restore refused")
		}
		d += time.Since(start)
	}
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "restore-ns")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkReplaceInstance is what a call that grew the memory costs the block
// afterwards: a new instance, restored from the snapshot (no _initialize).
func BenchmarkReplaceInstance(b *testing.B) {
	ctx := context.Background()
	mod, _, _ := benchModule(b)
	for i := 0; i < b.N; i++ {
		in, err := mod.newInstance(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if !in.restore(mod.snap) {
			b.Fatal("restore refused")
		}
		in.close(ctx)
	}
}

// BenchmarkCompare is the full compare of the memory of v1 after a kv.set against its
// snapshot, reading zero pages against the cached zero page ("zero-aware") or against
// the snapshot's bytes ("plain").
func BenchmarkCompare(b *testing.B) {
	ctx := context.Background()
	mod, s, st := benchModule(b)
	req := abi.Request{Contract: "kv", Method: "set", Args: []byte(`{"key":"k","value":"v"}`)}
	if _, err := s.Execute(ctx, testEnv{state.NewCache(st)}, req, 10_000_000); err != nil {
		b.Fatal(err)
	}
	mem, _ := s.in.mem.Read(0, s.in.mem.Size())
	dirty := append([]byte(nil), mem...)
	for name, zero := range map[string][]bool{"zero-aware": mod.snap.zero, "plain": nil} {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				copy(mem, dirty)
				b.StartTimer()
				copyChanged(mem, mod.snap.mem, zero)
			}
		})
	}
}
