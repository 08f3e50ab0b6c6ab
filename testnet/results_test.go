package testnet

import (
	"context"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/keyring"
)

// TestTxOutcomes reads a real block's results through client.TxOutcomes, the load
// generator's lean decode of /block_results, and checks it gives the same codes and logs
// as CometBFT's own client for a block with a success and a failure.
func TestTxOutcomes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	net := Start(t, Options{Validators: 1})
	net.WaitHeight(t, 2, 60*time.Second)
	n := net.Nodes[0]
	ctx := context.Background()
	key, err := keyring.Open(t.TempDir()).Add("alice")
	if err != nil {
		t.Fatal(err)
	}
	var hashes [][]byte
	for i, method := range []string{"set", "no_such_method"} {
		call := client.CallTx{ChainID: net.ChainID, Contract: "kv", Method: method,
			Args: []byte(`{"key":"k","value":"v"}`), GasLimit: 5_000_000, Nonce: uint64(i + 1)}
		raw, _, err := n.Client.SignCall(ctx, key, call)
		if err != nil {
			t.Fatal(err)
		}
		h, err := n.Client.Broadcast(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	heights := map[int64]bool{}
	for _, h := range hashes {
		res, err := n.Client.WaitTx(ctx, h, 60*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		heights[res.Height] = true
	}
	failures := 0
	for h := range heights {
		want, err := n.Client.RPC.BlockResults(ctx, &h)
		if err != nil {
			t.Fatal(err)
		}
		got, err := n.Client.TxOutcomes(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want.TxsResults) {
			t.Fatalf("height %d: %d outcomes, %d results", h, len(got), len(want.TxsResults))
		}
		for i, r := range want.TxsResults {
			if got[i].Code != r.Code || got[i].Log != r.Log {
				t.Fatalf("height %d tx %d: outcome %+v, result code %d log %q", h, i, got[i], r.Code, r.Log)
			}
			if r.Code != 0 {
				failures++
			}
		}
	}
	if failures != 1 {
		t.Fatalf("%d failed transactions, want the one calling no_such_method", failures)
	}
	if _, err := n.Client.TxOutcomes(ctx, 1_000_000); err == nil {
		t.Fatal("results of a height not reached yet were returned")
	}
}
