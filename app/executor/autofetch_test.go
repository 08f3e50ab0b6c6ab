package executor_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestAutoFetchPending: a node with a Fetcher that sees a scheduled switch to a version
// it lacks asks for it, once, gets it before the start height and executes the switch
// block without pausing, with the app hash of a node that had the version all along.
// (The real fetcher over real peers: internal/modfetch, testnet/fetch_test.go.)
func TestAutoFetchPending(t *testing.T) {
	ready, lacking := newChain(t), newChain(t)
	v1, v2 := testwasm.Module(t, "v1"), testwasm.Module(t, "v2")
	if _, err := ready.rm.Install(context.Background(), 2, v2); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	lacking.exec.SetFetcher(func(ctx context.Context, v uint64, sha runtime.Hash) (executor.FetchReport, error) {
		calls.Add(1)
		if v != 2 || sha != runtime.Hash(sha256.Sum256(v2)) {
			return executor.FetchReport{}, errors.New("asked for the wrong version")
		}
		_, err := lacking.rm.Install(ctx, v, v2) // what the node's fetcher does with verified bytes
		return executor.FetchReport{Peers: []string{"test"}, From: "test"}, err
	})
	both := func(txs ...[]byte) *executor.BlockResult {
		lacking.block(txs...)
		return ready.block(txs...)
	}
	both(ready.tx(admin, register(2, v2)), ready.tx(operators[0], attest(0, map[uint64][]byte{1: v1, 2: v2})),
		ready.tx(operators[1], attest(1, map[uint64][]byte{2: v2})), ready.tx(operators[2], attest(2, map[uint64][]byte{2: v2})))
	both(ready.tx(admin, schedule(2, in(2))))
	for deadline := time.Now().Add(10 * time.Second); lacking.exec.Query("/runtime/module/2", nil).Code != executor.QueryOK; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("v2 not fetched after the schedule (%d calls)", calls.Load())
		}
	}
	both()
	want := both(ready.call(key(31), "kv", "append", `{"key":"a","value":"b"}`))
	got := lacking.exec.LastBlock() // the switch block, executed without a pause
	if want.RuntimeVersion != 2 || string(got.AppHash) != string(want.AppHash) || lacking.exec.Paused() != nil {
		t.Fatalf("switch block: v%d, app hash %X vs %X", want.RuntimeVersion, got.AppHash, want.AppHash)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("fetcher called %d times, want once", n)
	}
}
