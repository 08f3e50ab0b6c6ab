package executor_test

import (
	"context"
	"path/filepath"
	"testing"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestInitialHeight runs a chain whose genesis sets initial_height 100, as CometBFT allows
// (a chain restarted from an exported state keeps its heights): the first block is 100,
// the genesis runtime is effective and recorded since 100, an upgrade scheduled "in 3
// blocks" switches at the right height, and a node reopened on its store goes on at the
// next height.
func TestInitialHeight(t *testing.T) {
	const h0 = 100
	ctx := context.Background()
	reopen := onDisk(t, t.TempDir())
	open := func() *node {
		n := reopen()
		if _, err := n.rm.Install(ctx, 2, testwasm.Module(t, "v2")); err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := open()
	if _, err := n.exec.InitChain(chainID, h0, appState(t, testwasm.Module(t, "v1")), genesisValidators(), executor.NoMaxBlockGas); err != nil {
		t.Fatal(err)
	}
	if got := n.exec.NextHeight(); got != h0 {
		t.Fatalf("next height after InitChain %d, want %d", got, h0)
	}
	if _, err := n.exec.FinalizeBlock(ctx, 1, nil); err == nil {
		t.Fatal("block 1 accepted on a chain starting at 100")
	}
	c := &chain{node: n, nonces: map[string]uint64{}}
	run := func(height int64, txs ...[]byte) *executor.BlockResult {
		t.Helper()
		res, err := c.exec.FinalizeBlock(ctx, height, txs)
		if err != nil {
			t.Fatalf("finalize %d: %v", height, err)
		}
		got, err := c.exec.Commit()
		if err != nil || got != height {
			t.Fatalf("commit %d: got %d, %v", height, got, err)
		}
		return res
	}

	res := run(h0, c.call(admin, "kv", "set", `{"key":"a","value":"1"}`))
	wantCodes(t, res, codes.OK)
	if lb := c.exec.LastBlock(); lb.Height != h0 || lb.AppVersion != 1 {
		t.Fatalf("after the first block: %+v", lb)
	}
	if r := c.exec.Query("/state/kv", []byte("a")); r.Code != executor.QueryOK || string(r.Value) != "1" || r.Height != h0 {
		t.Fatalf("kv a after block %d: %+v", h0, r)
	}
	eff, err := c.exec.EffectiveRuntime()
	if err != nil || eff.Version != 1 || eff.SinceHeight != h0 {
		t.Fatalf("effective runtime %+v (%v), want v1 since %d", eff, err, h0)
	}
	if hist, err := c.exec.History(); err != nil || len(hist) != 1 || hist[0].Height != h0 {
		t.Fatalf("history %+v (%v), want one entry at %d", hist, err, h0)
	}

	// Block 101 registers and attests v2; block 102 schedules it in 3 blocks: 105.
	v1, v2 := testwasm.Module(t, "v1"), testwasm.Module(t, "v2")
	txs := [][]byte{c.tx(admin, register(2, v2))}
	for i := 0; i < 3; i++ {
		txs = append(txs, c.tx(operators[i], attest(i, map[uint64][]byte{1: v1, 2: v2})))
	}
	wantCodes(t, run(h0+1, txs...), codes.OK, codes.OK, codes.OK, codes.OK)
	wantCodes(t, run(h0+2, c.tx(admin, schedule(2, in(3)))), codes.OK)
	if p, err := upgrade.NewKeeper(committed(c)).Pending(); err != nil || p == nil || p.StartHeight != h0+5 {
		t.Fatalf("pending after scheduling in 3 at %d: %+v (%v), want start %d", h0+2, p, err, h0+5)
	}
	if res := run(h0 + 3); res.RuntimeVersion != 1 || res.NextAppVersion != 0 {
		t.Fatalf("block %d: %+v", h0+3, res)
	}
	if lb := c.exec.LastBlock(); lb.AppVersion != 1 {
		t.Fatalf("after block %d: Info's app version %d, want 1", h0+3, lb.AppVersion)
	}
	if res := run(h0 + 4); res.RuntimeVersion != 1 || res.NextAppVersion != 2 {
		t.Fatalf("block %d: runtime %d next %d, want 1 then 2", h0+4, res.RuntimeVersion, res.NextAppVersion)
	}
	// Info reports the version of the next block, whose header carries the switch's: a
	// node restored from a snapshot of this height is checked against that header.
	if lb := c.exec.LastBlock(); lb.AppVersion != 2 {
		t.Fatalf("after block %d: Info's app version %d, want 2 (the next block's)", h0+4, lb.AppVersion)
	}
	if res := run(h0 + 5); res.RuntimeVersion != 2 || !hasEvent(res.Events, "runtime_switched") {
		t.Fatalf("block %d: runtime %d events %v, want the switch to v2", h0+5, res.RuntimeVersion, res.Events)
	}
	hist, err := c.exec.History()
	if err != nil || len(hist) != 2 || hist[0].Height != h0 || hist[1].Height != h0+5 {
		t.Fatalf("history %+v (%v), want v1 at %d and v2 at %d", hist, err, h0, h0+5)
	}
	if executor.VersionAt(hist, h0+4) != 1 || executor.VersionAt(hist, h0+5) != 2 {
		t.Fatalf("VersionAt around the switch: %d, %d", executor.VersionAt(hist, h0+4), executor.VersionAt(hist, h0+5))
	}
	last := c.exec.LastBlock()

	// Reopen on the same store: it reports the last height and goes on at the next one.
	c.store.Close()
	n = open()
	c = &chain{node: n, nonces: c.nonces}
	if lb := c.exec.LastBlock(); lb.Height != h0+5 || string(lb.AppHash) != string(last.AppHash) || lb.AppVersion != 2 {
		t.Fatalf("after reopening: %+v, want height %d app version 2 and the committed app hash", lb, h0+5)
	}
	if p := c.exec.Params(); p == nil || p.InitialHeight != h0 {
		t.Fatalf("stored params after reopening: %+v, want initial height %d", p, h0)
	}
	wantCodes(t, run(h0+6, c.call(admin, "kv", "set", `{"key":"b","value":"2"}`)), codes.OK)
	c.store.Close()
}

// TestInitialHeightCrashBeforeFirstBlock: the genesis writes are committed with the first
// block, so a node that stops between InitChain and its first commit has an empty store and
// is initialised again; its first block then gives the same app hash as an uninterrupted one.
func TestInitialHeightCrashBeforeFirstBlock(t *testing.T) {
	const h0 = 7
	ctx := context.Background()
	first := func(n *node) []byte {
		t.Helper()
		if _, err := n.exec.InitChain(chainID, h0, appState(t, testwasm.Module(t, "v1")), genesisValidators(), executor.NoMaxBlockGas); err != nil {
			t.Fatal(err)
		}
		res, err := n.exec.FinalizeBlock(ctx, h0, [][]byte{signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return res.AppHash
	}
	dir := t.TempDir()
	db, err := dbm.NewDB("app", dbm.PebbleDBBackend, dir)
	if err != nil {
		t.Fatal(err)
	}
	n := newNode(t, db, filepath.Join(dir, "runtime"), "v1")
	want := first(n)
	db.Close() // no Commit

	db, err = dbm.NewDB("app", dbm.PebbleDBBackend, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { n.store.Close() }()
	n = newNode(t, db, filepath.Join(dir, "runtime"), "v1")
	if n.exec.Params() != nil || n.store.Height() != 0 {
		t.Fatal("an uncommitted genesis reached the disk")
	}
	if got := first(n); string(got) != string(want) {
		t.Fatal("the first block after re-initialising gave another app hash")
	}
	if _, err := n.exec.Commit(); err != nil {
		t.Fatal(err)
	}
	if n.store.Height() != h0 {
		t.Fatalf("store height %d, want %d", n.store.Height(), h0)
	}
	if v, _ := n.store.Get(state.ContractKey("kv", []byte("a"))); string(v) != "1" {
		t.Fatalf("kv a = %q", v)
	}
}
