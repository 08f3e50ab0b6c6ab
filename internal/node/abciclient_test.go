package node

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/mempool"
	"github.com/cometbft/cometbft/proxy"
)

// barrierApp admits a transaction only when `want` checks are under way at once: a client
// that serialises CheckTx (or Query) never gets there, and each check gives up after wait.
type barrierApp struct {
	abcitypes.BaseApplication
	want int
	wait time.Duration

	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func newBarrierApp(want int) *barrierApp {
	return &barrierApp{want: want, wait: 5 * time.Second, all: make(chan struct{})}
}

func (a *barrierApp) meet() bool {
	a.mu.Lock()
	a.arrived++
	if a.arrived == a.want {
		close(a.all)
	}
	a.mu.Unlock()
	select {
	case <-a.all:
		return true
	case <-time.After(a.wait):
		return false
	}
}

func (a *barrierApp) CheckTx(context.Context, *abcitypes.RequestCheckTx) (*abcitypes.ResponseCheckTx, error) {
	if !a.meet() {
		return &abcitypes.ResponseCheckTx{Code: 1, Log: "checked alone"}, nil
	}
	return &abcitypes.ResponseCheckTx{}, nil
}

func (a *barrierApp) Query(context.Context, *abcitypes.RequestQuery) (*abcitypes.ResponseQuery, error) {
	if !a.meet() {
		return &abcitypes.ResponseQuery{Code: 1, Log: "queried alone"}, nil
	}
	return &abcitypes.ResponseQuery{}, nil
}

// TestConcurrentChecksThroughMempool sends transactions through CometBFT's own mempool
// from several goroutines, as its RPC and gossip do: all are checked at once, each
// caller's callback sees its answer, and every one enters the mempool.
func TestConcurrentChecksThroughMempool(t *testing.T) {
	const n = 4
	app := newBarrierApp(n)
	cli, err := NewConcurrentCheckClientCreator(app).NewABCIClient()
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cli.Stop() }()
	mp := mempool.NewCListMempool(cmtcfg.TestMempoolConfig(), proxy.NewAppConnMempool(cli, proxy.NopMetrics()), 0)

	var wg sync.WaitGroup
	codes := make([]uint32, n)
	answered := make([]bool, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := mp.CheckTx([]byte(fmt.Sprintf("tx-%d", i)), func(r *abcitypes.ResponseCheckTx) {
				codes[i], answered[i] = r.Code, true
			}, mempool.TxInfo{})
			if err != nil {
				t.Errorf("tx %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		if !answered[i] || codes[i] != 0 {
			t.Fatalf("tx %d: answered %v, code %d: the checks did not run at once", i, answered[i], codes[i])
		}
	}
	if mp.Size() != n {
		t.Fatalf("mempool holds %d transactions, want %d", mp.Size(), n)
	}
}

// TestConcurrentQueries: queries do not wait for each other either.
func TestConcurrentQueries(t *testing.T) {
	const n = 3
	app := newBarrierApp(n)
	cli, err := NewConcurrentCheckClientCreator(app).NewABCIClient()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := cli.Query(context.Background(), &abcitypes.RequestQuery{Path: "/x"})
			if err != nil || r.Code != 0 {
				t.Errorf("query: %v %v", err, r)
			}
		}()
	}
	wg.Wait()
}
