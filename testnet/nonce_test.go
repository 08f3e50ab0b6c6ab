package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	coretypes "github.com/cometbft/cometbft/rpc/core/types"

	"github.com/vchain/vchain/internal/client"
)

// TestBurstNonces sends 20 transactions of one sender, nonces 1..20, at once: signed
// with explicit nonces, broadcast with broadcast_tx_sync in parallel and in shuffled
// order, spread over the four nodes, so many reach a node (directly or by gossip) before
// their predecessor. Every one must be admitted and commit with code 0, in nonce order.
// Then the CLI does the same with a future --nonce: `tx call --nonce 22` waits in the
// mempool until `tx call --nonce 21` fills the gap, and both commit.
func TestBurstNonces(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-validator network")
	}
	net := Start(t, Options{Validators: 4})
	net.WaitHeight(t, 2, 60*time.Second)
	ctx := context.Background()

	const burst = 20
	raws := make([][]byte, burst+1) // by nonce
	for n := uint64(1); n <= burst; n++ {
		raw, _, err := net.Nodes[0].Client.SignCall(ctx, net.Admin, client.CallTx{
			ChainID: net.ChainID, Contract: "kv", Method: "set", GasLimit: 5_000_000, Nonce: n,
			Args: []byte(fmt.Sprintf(`{"key":"burst-%d","value":"%d"}`, n, n)),
		})
		if err != nil {
			t.Fatal(err)
		}
		raws[n] = raw
	}
	order := rand.New(rand.NewPCG(10, 20)).Perm(burst) // fixed: a failure replays the same order
	hashes := make([][]byte, burst+1)
	errs := make([]error, burst+1)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range order {
		nonce := uint64(p + 1)
		node := net.Nodes[i%len(net.Nodes)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start // all at once: their arrival order is the network's
			hashes[nonce], errs[nonce] = node.Client.Broadcast(ctx, raws[nonce])
		}()
	}
	close(start)
	wg.Wait()
	for n := 1; n <= burst; n++ {
		if errs[n] != nil {
			t.Errorf("nonce %d: %v", n, errs[n])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	results := make([]*coretypes.ResultTx, burst+1)
	for n := 1; n <= burst; n++ {
		res, err := net.Nodes[0].Client.WaitTx(ctx, hashes[n], 90*time.Second)
		if err != nil {
			t.Fatalf("nonce %d (%X): %v", n, hashes[n], err)
		}
		if res.TxResult.Code != 0 {
			t.Fatalf("nonce %d committed with code %d: %s", n, res.TxResult.Code, res.TxResult.Log)
		}
		results[n] = res
	}
	heights := map[int64]int{}
	for n := 1; n <= burst; n++ {
		heights[results[n].Height]++
		if n > 1 {
			prev, cur := results[n-1], results[n]
			if cur.Height < prev.Height || (cur.Height == prev.Height && cur.Index <= prev.Index) {
				t.Fatalf("nonce %d at %d/%d executed before nonce %d at %d/%d", n, cur.Height, cur.Index, n-1, prev.Height, prev.Index)
			}
		}
	}
	t.Logf("broadcast order %v: all %d committed with code 0, over blocks %v", order, burst, heights)
	net.WaitHeight(t, results[burst].Height, 60*time.Second) // node0 saw the last block first
	for _, nd := range net.Nodes {
		a, err := nd.Client.Account(ctx, net.Admin.Address)
		if err != nil || a.Nonce != burst {
			t.Fatalf("%s: account %+v %v, want nonce %d", nd.Name, a, err, burst)
		}
	}

	t.Run("cli", func(t *testing.T) {
		bin := Binary(t)
		n0 := net.Nodes[0]
		call := func(nonce int) (string, error) {
			cmd := exec.Command(bin, "tx", "call", "kv", "set", fmt.Sprintf(`{"key":"cli-%d","value":"%d"}`, nonce, nonce),
				"--from", "admin", "--nonce", fmt.Sprint(nonce), "--timeout", "90s", "-o", "json",
				"--home", n0.Home.Root, "--node", n0.RPC)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				return "", fmt.Errorf("vchaind tx call --nonce %d: %w\nstdout: %s\nstderr: %s", nonce, err, out, stderr.String())
			}
			return string(out), nil
		}
		ahead := make(chan error, 1)
		var aheadOut string
		go func() {
			var err error
			aheadOut, err = call(burst + 2)
			ahead <- err
		}()
		// Nonce 22 is held until 21 arrives: wait until the node reports it held.
		deadline := time.Now().Add(60 * time.Second)
		for {
			a, err := n0.Client.Account(ctx, net.Admin.Address)
			if err != nil {
				t.Fatal(err)
			}
			if a.Held == 1 && a.NextNonce == burst+1 {
				break
			}
			select {
			case err := <-ahead:
				t.Fatalf("the call with nonce %d ended before the gap was filled: %v %s", burst+2, err, aheadOut)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("nonce %d never held by %s: account %+v", burst+2, n0.Name, a)
			}
			time.Sleep(50 * time.Millisecond)
		}
		fill, err := call(burst + 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-ahead; err != nil {
			t.Fatal(err)
		}
		var first, second struct {
			Height int64  `json:"height"`
			Code   uint32 `json:"code"`
			Nonce  uint64 `json:"nonce"`
		}
		if err := json.Unmarshal([]byte(fill), &first); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(aheadOut), &second); err != nil {
			t.Fatal(err)
		}
		if first.Code != 0 || second.Code != 0 || first.Nonce != burst+1 || second.Nonce != burst+2 || second.Height < first.Height {
			t.Fatalf("--nonce %d: %+v; --nonce %d: %+v", burst+1, first, burst+2, second)
		}
	})

	var top int64
	for _, nd := range net.Nodes {
		top = max(top, nd.App.Exec.Height())
	}
	net.WaitHeight(t, top+1, 60*time.Second)
	net.CheckConsistency(t)
}
