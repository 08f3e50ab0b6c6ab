package executor_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/vchain/vchain/abci"
)

// TestOptimisticExecution: a validator executes the proposal it accepts ahead of
// FinalizeBlock (abci/optimistic.go) and takes that result only for exactly that block.
// Two nodes run the same chain, one with optimistic execution and one without; each
// height goes through another path a validator meets (the proposal decided, a later
// round's proposal decided, a block decided whose proposal this node never accepted, a
// block with no proposal at all as in replay). Every height's results and app hash agree
// between the two nodes, and the first node took the speculative result exactly where the
// decided block was the one it had accepted last.
func TestOptimisticExecution(t *testing.T) {
	ctx := context.Background()
	on, off := newNode(t, nil, "", "v1"), newNode(t, nil, "", "v1")
	on.initChain("v1")
	off.initChain("v1")
	appOn, appOff := abci.New(on.exec, nopLog{}), abci.New(off.exec, nopLog{})
	appOff.SetOptimistic(false)

	nonce := uint64(0)
	// blockOf returns a block of n kv.set calls from admin; value tells blocks of the same
	// height apart. Blocks of one height use the same nonces: only one of them commits.
	blockOf := func(n int, value string) [][]byte {
		var txs [][]byte
		for i := 1; i <= n; i++ {
			txs = append(txs, signed(t, admin, nonce+uint64(i), "kv", "set", fmt.Sprintf(`{"key":"k%d","value":"%s"}`, i, value)))
		}
		return txs
	}
	for i, st := range []struct {
		name     string
		accepted func() [][][]byte
		decided  func([][][]byte) [][]byte
		used     bool
	}{
		{"the accepted proposal is decided", func() [][][]byte { return [][][]byte{blockOf(3, "a")} }, func(p [][][]byte) [][]byte { return p[0] }, true},
		{"a later round's proposal is decided", func() [][][]byte { return [][][]byte{blockOf(3, "a"), blockOf(2, "b")} }, func(p [][][]byte) [][]byte { return p[1] }, true},
		{"an earlier round's proposal is decided", func() [][][]byte { return [][][]byte{blockOf(3, "a"), blockOf(2, "b")} }, func(p [][][]byte) [][]byte { return p[0] }, false},
		{"a block this node never accepted is decided", func() [][][]byte { return [][][]byte{blockOf(3, "a")} }, func([][][]byte) [][]byte { return blockOf(3, "c") }, false},
		{"no proposal (replay, block sync)", func() [][][]byte { return nil }, func([][][]byte) [][]byte { return blockOf(4, "d") }, false},
		{"an empty block", func() [][][]byte { return [][][]byte{nil} }, func([][][]byte) [][]byte { return nil }, true},
	} {
		t.Run(st.name, func(t *testing.T) {
			height := on.store.Height() + 1
			accepted := st.accepted()
			decided := st.decided(accepted)
			for _, p := range accepted {
				res, err := appOn.ProcessProposal(ctx, &abcitypes.RequestProcessProposal{Height: height, Txs: p})
				if err != nil || res.Status != abcitypes.ResponseProcessProposal_ACCEPT {
					t.Fatalf("proposal refused: %v %v", res, err)
				}
			}
			before := appOn.OptimisticBlocks()
			req := &abcitypes.RequestFinalizeBlock{Height: height, Txs: decided}
			got, err := appOn.FinalizeBlock(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			want, err := appOff.FinalizeBlock(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if used := appOn.OptimisticBlocks() > before; used != st.used {
				t.Errorf("speculative result used: %v, want %v", used, st.used)
			}
			if !bytes.Equal(got.AppHash, want.AppHash) {
				t.Fatalf("app hash %X, without optimistic execution %X", got.AppHash, want.AppHash)
			}
			if len(got.TxResults) != len(decided) || len(want.TxResults) != len(decided) {
				t.Fatalf("%d and %d results for %d transactions", len(got.TxResults), len(want.TxResults), len(decided))
			}
			for j := range got.TxResults {
				if g, w := got.TxResults[j], want.TxResults[j]; g.String() != w.String() {
					t.Fatalf("result %d: %v, without optimistic execution %v", j, g, w)
				}
				if got.TxResults[j].Code != 0 {
					t.Fatalf("result %d failed: %v", j, got.TxResults[j])
				}
			}
			for _, app := range []*abci.App{appOn, appOff} {
				if _, err := app.Commit(ctx, &abcitypes.RequestCommit{}); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(on.store.AppHash(), off.store.AppHash()) {
				t.Fatalf("committed app hashes differ after step %d", i)
			}
			nonce += uint64(len(decided))
		})
	}
}
