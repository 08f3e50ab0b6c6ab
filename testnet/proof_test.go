package testnet

import (
	"bytes"
	"context"
	"testing"
	"time"

	rpcclient "github.com/cometbft/cometbft/rpc/client"

	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/keyring"
)

// TestProvenQuery asks a real node abci_query /state/kv with prove=true over RPC, for a
// key a transaction wrote and for one never written, and verifies each answer's ProofOps
// with CometBFT's merkle.ProofRuntime against the app hash in the header of the next
// height (where CometBFT puts the app hash of the answer's height). A value or a proof
// changed by one byte in transit is refused.
func TestProvenQuery(t *testing.T) {
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
	raw, _, err := n.Client.SignCall(ctx, key, client.CallTx{ChainID: net.ChainID, Contract: "kv", Method: "set",
		Args: []byte(`{"key":"proven","value":"42"}`), GasLimit: 5_000_000, Nonce: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.Client.Broadcast(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := n.Client.WaitTx(ctx, h, 60*time.Second); err != nil || res.TxResult.Code != 0 {
		t.Fatalf("set: %v %+v", err, res)
	}

	for _, c := range []struct {
		key    string
		absent bool
	}{{"proven", false}, {"never-written", true}} {
		res, err := n.Client.RPC.ABCIQueryWithOptions(ctx, "/state/kv", []byte(c.key), rpcclient.ABCIQueryOptions{Prove: true})
		if err != nil {
			t.Fatal(err)
		}
		r := res.Response
		if r.Code != 0 || r.ProofOps == nil || (r.Value == nil) != c.absent {
			t.Fatalf("%s: code %d log %q value %q proof %v", c.key, r.Code, r.Log, r.Value, r.ProofOps)
		}
		net.WaitHeight(t, r.Height+1, 30*time.Second)
		next := r.Height + 1
		commit, err := n.Client.RPC.Commit(ctx, &next)
		if err != nil {
			t.Fatal(err)
		}
		appHash := commit.SignedHeader.Header.AppHash
		kp, err := state.KeyPath(state.ContractKey("kv", []byte(c.key)))
		if err != nil {
			t.Fatal(err)
		}
		prt := state.ProofRuntime()
		verify := func(value []byte) error {
			if value == nil {
				return prt.VerifyAbsence(r.ProofOps, appHash, kp)
			}
			return prt.VerifyValue(r.ProofOps, appHash, kp, value)
		}
		if err := verify(r.Value); err != nil {
			t.Fatalf("%s at height %d: a genuine proof is refused: %v", c.key, r.Height, err)
		}
		if c.absent {
			if verify([]byte("42")) == nil {
				t.Fatalf("%s: an absence proof verified a value", c.key)
			}
		} else {
			if !bytes.Contains(r.Value, []byte("42")) {
				t.Fatalf("%s: value %q", c.key, r.Value)
			}
			bad := append([]byte(nil), r.Value...)
			bad[len(bad)-1] ^= 0x01
			if verify(bad) == nil {
				t.Fatalf("%s: a value changed by one byte verified", c.key)
			}
		}
		for i := range r.ProofOps.Ops {
			op := &r.ProofOps.Ops[i]
			orig := op.Data
			op.Data = append([]byte(nil), orig...)
			op.Data[len(op.Data)/2] ^= 0x01
			if verify(r.Value) == nil {
				t.Fatalf("%s: op %d (%s) changed by one byte verified", c.key, i, op.Type)
			}
			op.Data = orig
		}
		t.Logf("%s: proof of %d ops, %d bytes, verified against the header of height %d", c.key, len(r.ProofOps.Ops), r.ProofOps.Size(), next)
	}
}
