package executor_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestMaxBlockGasSurvivesRestart: block.max_gas reaches the app only in InitChain, which
// CometBFT does not call again once the app has committed a block. The executor keeps it in
// the stored chain parameters, so a node reopened on its store (before or after the
// genesis writes are committed, on a chain starting at 1 or above) still refuses a proposal
// over it and still cuts its own proposals at it.
func TestMaxBlockGasSurvivesRestart(t *testing.T) {
	const maxGas = 50_000_000 // two default transactions (20,000,000 each) fit, three do not
	for _, h0 := range []int64{1, 100} {
		t.Run(fmt.Sprintf("initial height %d", h0), func(t *testing.T) {
			open := onDisk(t, t.TempDir())
			n := open()
			n.initChainMaxGas("v1", h0, maxGas)
			a, b := key(90), key(91)
			over := [][]byte{
				signed(t, a, 1, "kv", "set", `{"key":"a1","value":"1"}`),
				signed(t, a, 2, "kv", "set", `{"key":"a2","value":"1"}`),
				signed(t, b, 1, "kv", "set", `{"key":"b1","value":"1"}`),
			}
			enforced := func(n *node, when string) {
				t.Helper()
				if p := n.exec.Params(); p == nil || p.MaxBlockGas != maxGas {
					t.Fatalf("%s: params %+v, want max_block_gas %d", when, p, uint64(maxGas))
				}
				err := n.exec.ValidateProposal(over)
				if err == nil || !strings.Contains(err.Error(), "block.max_gas 50000000") {
					t.Fatalf("%s: a proposal over block.max_gas: %v", when, err)
				}
				if got := n.exec.PrepareProposal(over, 0); len(got) != 2 {
					t.Fatalf("%s: own proposal holds %d transactions, want the 2 under block.max_gas", when, len(got))
				}
			}
			enforced(n, "after InitChain")

			// Stopped before the first commit: nothing is stored and CometBFT initialises
			// the chain again, with the same block.max_gas.
			n.store.Close()
			n = open()
			if n.exec.Params() != nil {
				t.Fatal("uncommitted chain parameters reached the disk")
			}
			n.initChainMaxGas("v1", h0, maxGas)
			if _, err := n.exec.FinalizeBlock(t.Context(), h0, over[:1]); err != nil {
				t.Fatal(err)
			}
			if _, err := n.exec.Commit(); err != nil {
				t.Fatal(err)
			}
			n.store.Close()

			// Restarted after a commit: no InitChain, the stored parameters hold.
			n = open()
			defer n.store.Close()
			over = over[1:]
			over = append(over, signed(t, b, 2, "kv", "set", `{"key":"b2","value":"1"}`))
			enforced(n, "after a restart")
		})
	}
}

// TestInitChainMaxBlockGas: InitChain takes block.max_gas as CometBFT has it; -1 is no
// bound, and 0 (which CometBFT accepts, but which admits no transaction) or less than -1
// is refused.
func TestInitChainMaxBlockGas(t *testing.T) {
	for _, tc := range []struct {
		maxGas int64
		want   uint64
		refuse bool
	}{
		{executor.NoMaxBlockGas, 0, false},
		{1, 1, false},
		{10_000_000_000, 10_000_000_000, false},
		{0, 0, true},
		{-2, 0, true},
	} {
		t.Run(fmt.Sprint(tc.maxGas), func(t *testing.T) {
			n := newNode(t, nil, "", "v1")
			_, err := n.exec.InitChain(chainID, 1, appState(t, testwasm.Module(t, "v1")), genesisValidators(), tc.maxGas)
			switch {
			case tc.refuse && err == nil:
				t.Fatal("accepted")
			case tc.refuse:
				if n.exec.Params() != nil {
					t.Fatal("a refused InitChain recorded parameters")
				}
			case err != nil:
				t.Fatal(err)
			case n.exec.Params().MaxBlockGas != tc.want:
				t.Fatalf("max_block_gas %d, want %d", n.exec.Params().MaxBlockGas, tc.want)
			}
		})
	}
}
