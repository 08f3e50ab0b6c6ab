package testnet

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/keyring"
)

// Load sends kv.set calls from several senders until stopped, and remembers what the
// nodes accepted, to check at the end that all of it was committed correctly.
type Load struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	sent [][]byte
	errs []error
}

// StartLoad starts one goroutine per sender, each sending one call every interval through
// its own node (sender i uses clients[i mod n]): a node's mempool counts the sender's
// pending nonces, and another node may not have seen them yet.
func StartLoad(t testing.TB, chainID string, clients []*client.Client, senders int, interval time.Duration) *Load {
	l := &Load{stop: make(chan struct{})}
	kr := keyring.Open(t.TempDir())
	for s := 0; s < senders; s++ {
		key, err := kr.Add(fmt.Sprintf("load%d", s))
		if err != nil {
			t.Fatal(err)
		}
		c := clients[s%len(clients)]
		l.wg.Add(1)
		go func(s int) {
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
					ChainID: chainID, Contract: "kv", Method: "set", GasLimit: 5_000_000, Nonce: nonce + 1,
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
		}(s)
	}
	return l
}

// LoadResult counts what a load sent.
type LoadResult struct {
	Sent, Committed, Failed, Refused int
}

// StopAndCheck stops the load and checks, through c, that every accepted transaction was
// committed successfully and executed by the runtime version the on-chain history names
// for its height.
func (l *Load) StopAndCheck(t testing.TB, c *client.Client) LoadResult {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	r := LoadResult{Sent: len(l.sent) + len(l.errs), Refused: len(l.errs)}
	if len(l.errs) > 0 {
		t.Errorf("load: %d broadcasts refused, first: %v", len(l.errs), l.errs[0])
	}
	ctx := context.Background()
	var hist []executor.HistoryEntry
	if err := c.QueryJSON(ctx, "/upgrade/history", &hist); err != nil {
		t.Fatal(err)
	}
	versionAt := func(h int64) string {
		v := uint64(0)
		for _, e := range hist {
			if e.Height <= h {
				v = e.Version
			}
		}
		return strconv.FormatUint(v, 10)
	}
	for _, hash := range l.sent {
		res, err := c.WaitTx(ctx, hash, 60*time.Second)
		if err != nil {
			t.Fatalf("load tx %X never committed: %v", hash, err)
		}
		if res.TxResult.Code != 0 {
			r.Failed++
			t.Errorf("load tx %X failed at %d: %s", hash, res.Height, res.TxResult.Log)
			continue
		}
		r.Committed++
		if got, want := client.RuntimeVersion(&res.TxResult), versionAt(res.Height); got != want {
			t.Fatalf("tx at height %d executed by runtime %s; the history says %s", res.Height, got, want)
		}
	}
	return r
}
