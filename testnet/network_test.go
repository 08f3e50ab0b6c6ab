package testnet

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/keyring"
)

// TestFourValidators commits transactions from several senders, each sending through a
// different node and several per block, and checks that all four nodes hold identical
// blocks and app hashes at every height and the same contract state.
func TestFourValidators(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-validator network")
	}
	net := Start(t, Options{Validators: 4})
	net.WaitHeight(t, 2, 60*time.Second)

	kr := keyring.Open(t.TempDir())
	const senders, perSender = 4, 6
	ctx := context.Background()
	type sent struct {
		hash []byte
		node *Node
	}
	var mu sync.Mutex
	var all []sent
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for s := 0; s < senders; s++ {
		key, err := kr.Add(fmt.Sprintf("sender%d", s))
		if err != nil {
			t.Fatal(err)
		}
		n := net.Nodes[s%len(net.Nodes)]
		wg.Add(1)
		go func(s int, key *keyring.Key, n *Node) {
			defer wg.Done()
			// Nonces are chosen here, back to back, so several land in one block.
			for i := 1; i <= perSender; i++ {
				args := fmt.Sprintf(`{"key":"s%d-%d","value":"%d"}`, s, i, i)
				raw, _, err := n.Client.SignCall(ctx, key, client.CallTx{
					ChainID: net.ChainID, Contract: "kv", Method: "set", Args: []byte(args), GasLimit: 5_000_000, Nonce: uint64(i),
				})
				if err != nil {
					errs <- err
					return
				}
				h, err := n.Client.Broadcast(ctx, raw)
				if err != nil {
					errs <- fmt.Errorf("sender %d nonce %d: %w", s, i, err)
					return
				}
				mu.Lock()
				all = append(all, sent{h, n})
				mu.Unlock()
			}
		}(s, key, n)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	heights := map[int64]int{}
	for _, s := range all {
		res, err := s.node.Client.WaitTx(ctx, s.hash, 60*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if res.TxResult.Code != 0 {
			t.Fatalf("tx %X failed: %s", s.hash, res.TxResult.Log)
		}
		if v := client.RuntimeVersion(&res.TxResult); v != "1" {
			t.Fatalf("tx %X: runtime_version %q", s.hash, v)
		}
		heights[res.Height]++
	}
	t.Logf("%d transactions committed in %d blocks: %v", len(all), len(heights), heights)
	if len(heights) >= len(all) {
		t.Fatalf("never more than one transaction per block: %v", heights)
	}

	var top int64
	for h := range heights {
		top = max(top, h)
	}
	net.WaitHeight(t, top+2, 60*time.Second)
	checked := net.CheckConsistency(t)
	t.Logf("identical blocks and app hashes on %d nodes at heights 1..%d", len(net.Nodes), checked)
	for s := 0; s < senders; s++ {
		for i := 1; i <= perSender; i++ {
			for _, n := range net.Nodes {
				res, err := n.Client.Query(ctx, "/state/kv", []byte(fmt.Sprintf("s%d-%d", s, i)))
				if err != nil || string(res.Value) != fmt.Sprint(i) {
					t.Fatalf("%s: kv s%d-%d: %v %v", n.Name, s, i, res, err)
				}
			}
		}
	}
}
