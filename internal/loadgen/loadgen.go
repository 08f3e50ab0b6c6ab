// Package loadgen sends a steady stream of signed kv.set calls to vchain nodes through
// their RPC and checks, at the end, that everything the nodes accepted was committed, and
// executed by the runtime version the on-chain history names for its height. The demo and
// the end-to-end tests use it.
package loadgen

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/keyring"
)

// CallGas is the gas limit of the load's kv.set calls: what the call needs (the same at
// any position in a block; see the golden vectors in app/executor) with a wide margin. A
// block holds at most block.max_gas of summed limits, so an inflated limit would cap blocks
// below what the chain can execute.
const CallGas = 1_000_000

// Load is a running load.
type Load struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	sent [][]byte
	errs []error
}

// Start runs one goroutine per sender, each sending one call every interval through its
// own node (sender i uses clients[i mod n]): a node's mempool counts the sender's pending
// nonces, and another node may not have seen them yet. Keys are created in keyDir.
func Start(chainID string, clients []*client.Client, senders int, interval time.Duration, keyDir string) (*Load, error) {
	l := &Load{stop: make(chan struct{})}
	kr := keyring.Open(keyDir)
	for s := 0; s < senders; s++ {
		key, err := kr.Add(fmt.Sprintf("load%d", s))
		if err != nil {
			return nil, err
		}
		c := clients[s%len(clients)]
		l.wg.Add(1)
		go l.send(chainID, c, key, s, interval)
	}
	return l, nil
}

func (l *Load) send(chainID string, c *client.Client, key *keyring.Key, s int, interval time.Duration) {
	defer l.wg.Done()
	nonce := uint64(0) // the last nonce the node accepted from this sender
	for i := 1; ; i++ {
		select {
		case <-l.stop:
			return
		case <-time.After(interval):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		raw, _, err := c.SignCall(ctx, key, client.CallTx{
			ChainID: chainID, Contract: "kv", Method: "set", GasLimit: CallGas, Nonce: nonce + 1,
			Args: []byte(fmt.Sprintf(`{"key":"load%d-%d","value":"%d"}`, s, i, i)),
		})
		var h []byte
		if err == nil {
			h, err = c.Broadcast(ctx, raw)
		}
		cancel()
		l.mu.Lock()
		if err == nil {
			nonce++
			l.sent = append(l.sent, h)
		} else {
			l.errs = append(l.errs, err)
		}
		l.mu.Unlock()
	}
}

// Sent returns how many transactions the nodes accepted so far, and how many they refused.
func (l *Load) Sent() (accepted, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sent), len(l.errs)
}

// Result counts what a load sent and what became of it.
type Result struct {
	Sent      int `json:"sent"`
	Refused   int `json:"refused"`
	Committed int `json:"committed"`
	Failed    int `json:"failed"`
	// WrongVersion counts results whose runtime_version is not the history's.
	WrongVersion int `json:"wrong_version"`
	// FirstError describes the first problem found.
	FirstError string `json:"first_error,omitempty"`
}

// OK reports a load where everything sent was committed successfully by the right version.
func (r Result) OK() bool {
	return r.Refused == 0 && r.Failed == 0 && r.WrongVersion == 0 && r.Committed == r.Sent
}

// Stop stops sending and checks every accepted transaction through c, waiting at most
// timeout for each to be committed.
func (l *Load) Stop(c *client.Client, timeout time.Duration) (Result, error) {
	close(l.stop)
	l.wg.Wait()
	r := Result{Sent: len(l.sent) + len(l.errs), Refused: len(l.errs)}
	if len(l.errs) > 0 {
		r.FirstError = fmt.Sprintf("refused: %v", l.errs[0])
	}
	ctx := context.Background()
	var hist []executor.HistoryEntry
	if err := c.QueryJSON(ctx, "/upgrade/history", &hist); err != nil {
		return r, err
	}
	versionAt := func(h int64) string { return strconv.FormatUint(executor.VersionAt(hist, h), 10) }
	note := func(format string, args ...any) {
		if r.FirstError == "" {
			r.FirstError = fmt.Sprintf(format, args...)
		}
	}
	for _, hash := range l.sent {
		res, err := c.WaitTx(ctx, hash, timeout)
		if err != nil {
			return r, fmt.Errorf("tx %X never committed: %w", hash, err)
		}
		if res.TxResult.Code != 0 {
			r.Failed++
			note("tx %X failed at %d: %s", hash, res.Height, res.TxResult.Log)
			continue
		}
		r.Committed++
		if got, want := client.RuntimeVersion(&res.TxResult), versionAt(res.Height); got != want {
			r.WrongVersion++
			note("tx at height %d executed by runtime %s; the history says %s", res.Height, got, want)
		}
	}
	return r, nil
}
