package node

import (
	"context"
	"fmt"
	"strings"
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
	mp := newMempool(t, newBarrierApp(n), checkWindow)

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

// batchApp is a Preverifier: it records the batches it is given, and refuses the
// transactions that start with "bad". Its rechecks take recheckFor each.
type batchApp struct {
	abcitypes.BaseApplication
	recheckFor time.Duration

	mu      sync.Mutex
	batches []int
	seen    map[string]int // preverifications per transaction
}

func (a *batchApp) PreverifyTxs(txs [][]byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.batches = append(a.batches, len(txs))
	for _, tx := range txs {
		a.seen[string(tx)]++
	}
}

func (a *batchApp) CheckTx(_ context.Context, req *abcitypes.RequestCheckTx) (*abcitypes.ResponseCheckTx, error) {
	if req.Type == abcitypes.CheckTxType_Recheck {
		time.Sleep(a.recheckFor)
	}
	if strings.HasPrefix(string(req.Tx), "bad") {
		return &abcitypes.ResponseCheckTx{Code: 7, Log: "bad"}, nil
	}
	return &abcitypes.ResponseCheckTx{}, nil
}

// newMempool returns CometBFT's mempool on a started concurrentChecks client of app, whose
// window for batches is window.
func newMempool(t *testing.T, app abcitypes.Application, window time.Duration) *mempool.CListMempool {
	cli, err := NewConcurrentCheckClientCreator(app).NewABCIClient()
	if err != nil {
		t.Fatal(err)
	}
	cli.(*checkClient).window = window
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Stop() })
	cfg := cmtcfg.TestMempoolConfig()
	cfg.Size = 100_000
	return mempool.NewCListMempool(cfg, proxy.NewAppConnMempool(cli, proxy.NopMetrics()), 0)
}

// TestBatchedChecks: with a Preverifier, checks of new transactions are answered in
// batches of checkBatch, the rest at Flush; each caller gets its own answer, every
// transaction is preverified once, and the good ones enter the mempool in the order sent.
func TestBatchedChecks(t *testing.T) {
	app := &batchApp{seen: map[string]int{}}
	mp := newMempool(t, app, time.Hour) // no window: only full batches and Flush
	n := 2*checkBatch + 5
	codes := make([]uint32, n)
	answered := make([]bool, n)
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		tx := fmt.Sprintf("tx-%03d", i)
		if i%10 == 3 {
			tx = fmt.Sprintf("bad-%03d", i)
		}
		err := mp.CheckTx([]byte(tx), func(r *abcitypes.ResponseCheckTx) {
			mu.Lock()
			codes[i], answered[i] = r.Code, true
			mu.Unlock()
		}, mempool.TxInfo{})
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	if err := mp.FlushAppConn(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	good := 0
	for i := 0; i < n; i++ {
		want := uint32(0)
		if i%10 == 3 {
			want = 7
		} else {
			good++
		}
		if !answered[i] || codes[i] != want {
			t.Fatalf("tx %d after Flush: answered %v, code %d, want %d", i, answered[i], codes[i], want)
		}
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	if fmt.Sprint(app.batches) != fmt.Sprint([]int{checkBatch, checkBatch, 5}) {
		t.Errorf("batches %v, want [%d %d 5]", app.batches, checkBatch, checkBatch)
	}
	for tx, k := range app.seen {
		if k != 1 {
			t.Errorf("%s preverified %d times", tx, k)
		}
	}
	if mp.Size() != good {
		t.Fatalf("mempool holds %d, want %d", mp.Size(), good)
	}
	txs := mp.ReapMaxTxs(-1)
	for j := 1; j < len(txs); j++ {
		if string(txs[j-1]) >= string(txs[j]) {
			t.Fatalf("mempool order: %s before %s", txs[j-1], txs[j])
		}
	}
}

// TestBatchedChecksAcrossCommits: transactions keep arriving, from several goroutines,
// while blocks commit and the mempool rechecks, as on a node under load. CometBFT panics if
// a new transaction's answer arrives during a recheck; Flush must have answered all first.
// Every transaction is answered, and every one still in the mempool was admitted.
func TestBatchedChecksAcrossCommits(t *testing.T) {
	app := &batchApp{seen: map[string]int{}, recheckFor: 20 * time.Microsecond}
	mp := newMempool(t, app, checkWindow)
	const senders, each = 4, 300
	var answered sync.WaitGroup
	answered.Add(senders * each)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := 0; s < senders; s++ {
			go func(s int) {
				for i := 0; i < each; i++ {
					err := mp.CheckTx([]byte(fmt.Sprintf("tx-%d-%d", s, i)), func(*abcitypes.ResponseCheckTx) { answered.Done() }, mempool.TxInfo{})
					if err != nil {
						t.Errorf("tx %d-%d: %v", s, i, err)
						answered.Done()
					}
				}
			}(s)
		}
		answered.Wait()
	}()
	for h := int64(1); ; h++ {
		select {
		case <-done:
			if app.seenAll(senders * each) {
				return
			}
			t.Fatal("a transaction was answered without being preverified")
		case <-time.After(2 * time.Millisecond):
		}
		block := mp.ReapMaxTxs(50) // the proposal, then the commit
		mp.Lock()
		if err := mp.FlushAppConn(); err != nil {
			t.Fatal(err)
		}
		res := make([]*abcitypes.ExecTxResult, len(block))
		for i := range res {
			res[i] = &abcitypes.ExecTxResult{}
		}
		if err := mp.Update(h, block, res, nil, nil); err != nil {
			t.Fatal(err)
		}
		mp.Unlock()
	}
}

func (a *batchApp) seenAll(n int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seen) == n
}
