package executor_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/vchain/vchain/app/metrics"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestRuntimeMetrics follows the runtime series through a version's life: genesis, a
// registered release being attested, a pending switch counting down, the switch.
func TestRuntimeMetrics(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	if r, err := n.exec.RuntimeMetrics(); err != nil || !reflect.DeepEqual(r, metrics.Runtime{}) {
		t.Fatalf("before InitChain: %+v, %v", r, err)
	}
	n.initChain("v1")
	c := &chain{node: n, nonces: map[string]uint64{}}
	th := metrics.Runtime{ThresholdNum: 2, ThresholdDen: 3, TotalPower: 40}
	want := func(r metrics.Runtime) metrics.Runtime {
		r.ThresholdNum, r.ThresholdDen, r.Installed = th.ThresholdNum, th.ThresholdDen, append([]uint64{1}, r.Installed...)
		if r.ReadinessVersion != 0 {
			r.TotalPower = th.TotalPower
		}
		return r
	}
	check := func(step string, w metrics.Runtime) {
		t.Helper()
		got, err := c.exec.RuntimeMetrics()
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if w = want(w); !reflect.DeepEqual(got, w) {
			t.Fatalf("%s:\n got %+v\nwant %+v", step, got, w)
		}
	}
	// Before the first commit the effective runtime is in the genesis writes only.
	check("genesis", metrics.Runtime{EffectiveVersion: 1, EffectiveProfile: 1, EffectiveSince: 1})
	c.block()
	check("block 1", metrics.Runtime{Height: 1, EffectiveVersion: 1, EffectiveProfile: 1, EffectiveSince: 1, ReadinessVersion: 1})

	c.ready(3) // v2 registered, 3 of 4 validators attest it
	check("v2 attested by 3", metrics.Runtime{Height: 2, EffectiveVersion: 1, EffectiveProfile: 1, EffectiveSince: 1,
		ReadinessVersion: 2, AttestedPower: 30, Ready: true})

	if _, err := c.rm.Install(context.Background(), 2, testwasm.Module(t, "v2")); err != nil {
		t.Fatal(err)
	}
	wantCodes(t, c.block(c.tx(admin, schedule(2, in(3)))), 0)
	pending := metrics.Runtime{Height: 3, EffectiveVersion: 1, EffectiveProfile: 1, EffectiveSince: 1,
		PendingVersion: 2, PendingProfile: 1, PendingStartHeight: 6, PendingBlocksLeft: 2,
		Installed: []uint64{2}, ReadinessVersion: 2, AttestedPower: 30, Ready: true}
	check("scheduled at 3 for 6", pending)
	c.block()
	pending.Height, pending.PendingBlocksLeft = 4, 1
	check("one block later", pending)
	c.block()
	c.block()
	check("switched at 6", metrics.Runtime{Height: 6, EffectiveVersion: 2, EffectiveProfile: 1, EffectiveSince: 6,
		Installed: []uint64{2}, ReadinessVersion: 2, AttestedPower: 30, Ready: true})
}

// BenchmarkRuntimeMetrics is the cost the ABCI adapter adds to each Commit when metrics
// are on (four validators, two releases, a pending switch).
func BenchmarkRuntimeMetrics(b *testing.B) {
	n := newNode(b, nil, "", "v1")
	n.initChain("v1")
	c := &chain{node: n, nonces: map[string]uint64{}}
	c.block()
	v1, v2 := testwasm.Module(b, "v1"), testwasm.Module(b, "v2")
	txs := [][]byte{c.tx(admin, register(2, v2))}
	for i := range operators {
		txs = append(txs, c.tx(operators[i], attest(i, map[uint64][]byte{1: v1, 2: v2})))
	}
	c.block(txs...)
	c.block(c.tx(admin, schedule(2, in(100))))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.exec.RuntimeMetrics(); err != nil {
			b.Fatal(err)
		}
	}
}
