package executor_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/internal/testwasm"
)

// blocks is a BlockSource holding what the executor itself returned for each block: the
// part CometBFT's block and state stores play in a node.
type blocks map[int64]*executor.RecordedBlock

func (b blocks) RecordedBlock(_ context.Context, h int64) (*executor.RecordedBlock, error) {
	r, ok := b[h]
	if !ok {
		return nil, fmt.Errorf("no block %d", h)
	}
	return r, nil
}

// record runs a block on c and keeps its transactions and results in b.
func (b blocks) record(c *chain, txs ...[]byte) {
	res := c.block(txs...)
	b[c.store.Height()] = &executor.RecordedBlock{Txs: txs, Results: res.TxResults}
}

// TestDryRunPredictsTheSwitch: two chains receive the same transactions, except that B
// switches to v2 before a window of blocks while A stays on v1. A dry run of v2 on A over
// that window, compared with B's real results, finds no difference at all (code, data and
// gas of every transaction); compared with A's own results, it finds the fee's changes.
// The dry run leaves A's committed state as it was, and bad requests are refused clearly.
func TestDryRunPredictsTheSwitch(t *testing.T) {
	ctx := context.Background()
	a, b := newChain(t), newChain(t)
	recA, recB := blocks{}, blocks{}
	alice, bob := key(40), key(41)
	for _, c := range []*chain{a, b} {
		if _, err := c.rm.Install(ctx, 2, testwasm.Module(t, "v2")); err != nil {
			t.Fatal(err)
		}
		c.ready(3)
		c.block(c.tx(admin, register(3, testwasm.Module(t, "testmod")))) // registered, not installed
		c.block(c.call(alice, "bank", "mint", `{"amount":1000}`))
	}
	// The only difference: B schedules v2 from the next block; A's schedule is refused
	// (v9 is no release), so the admin's nonce moves alike.
	wantCodes(t, a.block(a.tx(admin, schedule(9, nextBlock))), codes.UnknownRelease)
	wantCodes(t, b.block(b.tx(admin, schedule(2, nextBlock))), codes.OK)
	base := a.store.Height()
	for i := 0; i < 4; i++ {
		for _, p := range []struct {
			c   *chain
			rec blocks
		}{{a, recA}, {b, recB}} {
			p.rec.record(p.c,
				p.c.call(alice, "bank", "transfer", `{"to":"`+addr(bob)+`","amount":7}`),
				p.c.call(bob, "kv", "set", `{"key":"k","value":"v"}`),
				p.c.call(alice, "bank", "balance", `{}`),
				p.c.call(bob, "bank", "transfer", `{"to":"`+addr(alice)+`","amount":100000}`), // insufficient funds
			)
		}
	}
	if r := recB[base+1].Results[0]; execRecord(t, r.Data).RuntimeVersion != 2 {
		t.Fatal("B did not switch to v2 at the window's first block")
	}
	n := a.store.Height() - base
	hashBefore, heightBefore := a.store.AppHash(), a.store.Height()

	// A's transactions (the same bytes as B's) against B's results: nothing differs.
	vsB := blocks{}
	for h, blk := range recA {
		vsB[h] = &executor.RecordedBlock{Txs: blk.Txs, Results: recB[h].Results}
	}
	a.exec.SetBlockSource(vsB)
	rep, cerr := a.exec.DryRun(ctx, executor.DryRunRequest{Version: 2, Blocks: n})
	if cerr != nil {
		t.Fatal(cerr)
	}
	if rep.BaseHeight != base || rep.Txs != 16 || rep.FromVersion != 1 || rep.Migration == nil || rep.DifferingTxs != 0 || rep.GasUsedRecorded != rep.GasUsedSimulated {
		t.Fatalf("dry run of v2 against the chain that switched: %+v", rep)
	}

	// Against A's own (v1) results: every transfer and balance read differs in its data
	// (the fee); the kv sets and the failing transfers in nothing but gas.
	a.exec.SetBlockSource(recA)
	rep, cerr = a.exec.DryRun(ctx, executor.DryRunRequest{Version: 2, Blocks: n})
	if cerr != nil {
		t.Fatal(cerr)
	}
	if rep.DifferData != 8 || rep.DifferCode != 0 {
		t.Fatalf("dry run of v2 against v1's results: %d data and %d code differences, want 8 and 0: %+v", rep.DifferData, rep.DifferCode, rep)
	}
	for _, d := range rep.Differing {
		if d.Index == 1 || d.Index == 3 {
			if string(d.Recorded.Data) != string(d.Simulated.Data) || d.Recorded.Code != d.Simulated.Code {
				t.Errorf("height %d tx %d: v2 changes only its gas, the dry run says %+v", d.Height, d.Index, d)
			}
		}
	}
	if rep, cerr := a.exec.DryRun(ctx, executor.DryRunRequest{Version: 1, Blocks: n}); cerr != nil || rep.DifferingTxs != 0 || rep.Migration != nil {
		t.Fatalf("dry run of the effective version: %+v, %v", rep, cerr)
	}
	if got := a.store.AppHash(); string(got) != string(hashBefore) || a.store.Height() != heightBefore {
		t.Fatal("the dry runs changed the committed state")
	}

	for _, bad := range []struct {
		req  executor.DryRunRequest
		code codes.Code
		want string
	}{
		{executor.DryRunRequest{Version: 2, Blocks: 0}, executor.QueryBad, "want 1 or more"},
		{executor.DryRunRequest{Version: 2, Blocks: -3}, executor.QueryBad, "want 1 or more"},
		{executor.DryRunRequest{Version: 2, Blocks: heightBefore}, executor.QueryBad, "history allows at most"},
		{executor.DryRunRequest{Version: 9, Blocks: 1}, executor.QueryNotFound, "not registered"},
		{executor.DryRunRequest{Version: 3, Blocks: 1}, executor.QueryUnavailable, "not installed on this node"},
	} {
		_, cerr := a.exec.DryRun(ctx, bad.req)
		if cerr == nil || cerr.Code != bad.code || !strings.Contains(cerr.Msg, bad.want) {
			t.Errorf("%+v: %v, want code %d saying %q", bad.req, cerr, bad.code, bad.want)
		}
	}
	// AtMost goes back as far as the history allows: from the state of height 1, so its
	// first block is 2, which this source (the window only) lacks.
	if _, cerr := a.exec.DryRun(ctx, executor.DryRunRequest{Version: 2, Blocks: 1000, AtMost: true}); cerr == nil || !strings.Contains(cerr.Msg, "read block 2:") {
		t.Errorf("at most 1000 blocks: %v; want the whole history (base 1)", cerr)
	}
	// The bound: a run whose context ends stops and says to ask for fewer blocks.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, cerr := a.exec.DryRun(done, executor.DryRunRequest{Version: 2, Blocks: n}); cerr == nil || cerr.Code != executor.QueryUnavailable || !strings.Contains(cerr.Msg, "ask for fewer blocks") {
		t.Errorf("a dry run past its bound: %v", cerr)
	}
	a.exec.SetBlockSource(nil)
	if _, cerr := a.exec.DryRun(ctx, executor.DryRunRequest{Version: 2, Blocks: 1}); cerr == nil || cerr.Code != executor.QueryUnavailable {
		t.Errorf("no block source: %v", cerr)
	}
	a.block(a.call(alice, "kv", "set", `{"key":"after","value":"1"}`)) // the node goes on
}

// TestDryRunMigration: as TestDryRunPredictsTheSwitch, for v3, whose migration rewrites
// every bank and kv value: the dry run's migration gas and changed keys are those of B's
// real switch (its runtime_migrated event), and every transaction after it matches B's
// result. A module whose migration fails is reported as an abort, with nothing run after.
func TestDryRunMigration(t *testing.T) {
	ctx := context.Background()
	a, b := migChain(t, 50_000_000), migChain(t, 50_000_000)
	recA, recB := blocks{}, blocks{}
	alice, bob := key(40), key(41)
	for _, c := range []*chain{a, b} {
		c.block(c.call(alice, "bank", "mint", `{"amount":1000}`), c.call(alice, "kv", "set", `{"key":"a","value":"one"}`),
			c.call(bob, "kv", "set", `{"key":"b","value":"two"}`))
		c.block(c.call(alice, "bank", "transfer", `{"to":"`+addr(bob)+`","amount":250}`))
		// v3 and testmig (as v4) installed, registered and attested together.
		mods := map[uint64][]byte{1: testwasm.Module(t, "v1"), 3: testwasm.Module(t, "v3"), 4: testwasm.Module(t, "testmig")}
		txs := [][]byte{c.tx(admin, register(3, mods[3])), c.tx(admin, register(4, mods[4]))}
		for v := uint64(3); v <= 4; v++ {
			if _, err := c.rm.Install(ctx, v, mods[v]); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 3; i++ {
			txs = append(txs, c.tx(operators[i], attest(i, mods)))
		}
		wantCodes(t, c.block(txs...), codes.OK, codes.OK, codes.OK, codes.OK, codes.OK)
	}
	wantCodes(t, a.block(a.tx(admin, schedule(9, nextBlock))), codes.UnknownRelease)
	wantCodes(t, b.block(b.tx(admin, schedule(3, nextBlock))), codes.OK)
	base := a.store.Height()
	var migrated *executor.BlockResult
	for i := 0; i < 3; i++ {
		for _, p := range []struct {
			c   *chain
			rec blocks
		}{{a, recA}, {b, recB}} {
			txs := [][]byte{
				p.c.call(alice, "kv", "get", `{"key":"a"}`),
				p.c.call(alice, "bank", "transfer", `{"to":"`+addr(bob)+`","amount":5}`),
				p.c.call(bob, "kv", "set", `{"key":"c","value":"three"}`),
				p.c.call(bob, "bank", "balance", `{}`),
			}
			res := p.c.block(txs...)
			p.rec[p.c.store.Height()] = &executor.RecordedBlock{Txs: txs, Results: res.TxResults}
			if p.c == b && i == 0 {
				migrated = res
			}
		}
	}
	gas, ok1 := eventAttr(migrated.Events, upgrade.EventRuntimeMigrated, "gas_used")
	keys, ok2 := eventAttr(migrated.Events, upgrade.EventRuntimeMigrated, "keys_changed")
	if !ok1 || !ok2 || keys == "0" {
		t.Fatalf("B's switch to v3 migrated nothing: %v", migrated.Events)
	}
	vsB := blocks{}
	for h, blk := range recA {
		vsB[h] = &executor.RecordedBlock{Txs: blk.Txs, Results: recB[h].Results}
	}
	a.exec.SetBlockSource(vsB)
	rep, cerr := a.exec.DryRun(ctx, executor.DryRunRequest{Version: 3, Blocks: a.store.Height() - base})
	if cerr != nil {
		t.Fatal(cerr)
	}
	m := rep.Migration
	if m == nil || !m.Ran || m.Error != "" || strconv.FormatUint(m.GasUsed, 10) != gas || strconv.Itoa(m.KeysChanged) != keys {
		t.Fatalf("dry run's migration %+v, want the switch's: gas %s, %s keys", m, gas, keys)
	}
	if rep.Txs != 12 || rep.DifferingTxs != 0 {
		t.Fatalf("after the migration, the dry run differs from the switched chain: %+v", rep)
	}

	rep, cerr = a.exec.DryRun(ctx, executor.DryRunRequest{Version: 4, Blocks: a.store.Height() - base})
	if cerr != nil {
		t.Fatal(cerr)
	}
	if m := rep.Migration; m == nil || !m.Ran || !strings.Contains(m.Error, "out_of_gas") || m.GasUsed == 0 || rep.Txs != 0 {
		t.Fatalf("dry run of a module whose migration runs out of gas: %+v, migration %+v", rep, rep.Migration)
	}
}
