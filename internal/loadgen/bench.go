package loadgen

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/keyring"
)

// Target says which application a benchmark load talks to.
type Target int

// Targets.
const (
	// Vchain sends signed kv.set calls.
	Vchain Target = iota
	// KVStore sends CometBFT kvstore transactions ("key=value"), unsigned.
	KVStore
)

// BenchConfig is a load profile. The same profile runs against vchain and kvstore.
type BenchConfig struct {
	Target  Target
	ChainID string // vchain only
	Clients []*client.Client
	Senders int
	// Rate is the total transactions per second to send; 0 sends as fast as the nodes
	// accept them (each sender waits for its broadcast_tx_sync to return).
	Rate     float64
	Duration time.Duration
	// Drain is how long to wait, after sending stops, for accepted transactions to commit.
	Drain  time.Duration
	KeyDir string
	// Presign is how many transactions each sender makes before the clock starts; it
	// makes more as it needs them. The load tool shares the machine with the nodes it
	// measures, and every signature it makes while they run is CPU they do not get.
	Presign int
	// OnStart, if set, is called when the clock starts, after the presigning.
	OnStart func()
	// Progress, if set, is called about once a second.
	Progress func(sent, committed int, height int64)
}

// Report is what a benchmark load measured.
type Report struct {
	Sent      int `json:"sent"`
	Accepted  int `json:"accepted"`
	Rejected  int `json:"rejected"`
	Committed int `json:"committed"`
	Failed    int `json:"failed"`
	// Seconds is the span from the first send to the last commit observed.
	Seconds      float64 `json:"seconds"`
	CommittedTPS float64 `json:"committed_tps"`
	LatencyP50   float64 `json:"latency_p50_ms"`
	LatencyP90   float64 `json:"latency_p90_ms"`
	LatencyP99   float64 `json:"latency_p99_ms"`
	IntervalP50  float64 `json:"block_interval_p50_ms"`
	IntervalP99  float64 `json:"block_interval_p99_ms"`
	// Blocks counts the blocks from the first watched to the last that committed a
	// transaction of the load (the intervals are theirs): the empty blocks of the wait
	// for stragglers after sending stopped are left out.
	Blocks      int    `json:"blocks"`
	FirstHeight int64  `json:"first_height"`
	LastHeight  int64  `json:"last_height"`
	FirstError  string `json:"first_error,omitempty"`
}

type bench struct {
	cfg     BenchConfig
	mu      sync.Mutex
	pending map[[32]byte]time.Time // sent at
	lat     []time.Duration
	r       Report
	first   time.Time
	last    time.Time
	times   []time.Time // block header times, by height order
	loaded  int         // len(times) when the last block holding a load transaction was seen
}

// Bench runs a load profile and measures it: broadcast-to-commit latency is from just
// before broadcast_tx_sync to when the block holding the transaction is seen committed.
func Bench(ctx context.Context, cfg BenchConfig) (*Report, error) {
	b := &bench{cfg: cfg, pending: map[[32]byte]time.Time{}}
	st, err := cfg.Clients[0].RPC.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	start := st.SyncInfo.LatestBlockHeight
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan error, 1)
	go func() { watchDone <- b.watch(watchCtx, start+1) }()

	kr := keyring.Open(cfg.KeyDir)
	keys := make([]*keyring.Key, cfg.Senders)
	if cfg.Target == Vchain {
		for s := range keys {
			if keys[s], err = kr.Add(fmt.Sprintf("bench%d-%d", time.Now().UnixNano(), s)); err != nil {
				stopWatch()
				return nil, err
			}
		}
	}
	ready, err := b.presign(ctx, keys)
	if err != nil {
		stopWatch()
		return nil, err
	}
	if cfg.OnStart != nil {
		cfg.OnStart()
	}
	var wg sync.WaitGroup
	deadline := time.Now().Add(cfg.Duration)
	b.first = time.Now()
	for s := range keys {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			b.send(ctx, s, keys[s], ready[s], deadline)
		}(s)
	}
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	sendDone := make(chan struct{})
	go func() { wg.Wait(); close(sendDone) }()
	drainUntil := time.Time{}
	for {
		select {
		case <-sendDone:
			sendDone = nil
			drainUntil = time.Now().Add(cfg.Drain)
		case <-ticker.C:
		}
		b.mu.Lock()
		left, sent, committed, h := len(b.pending), b.r.Sent, b.r.Committed+b.r.Failed, b.r.LastHeight
		b.mu.Unlock()
		if cfg.Progress != nil {
			cfg.Progress(sent, committed, h)
		}
		if sendDone == nil && (left == 0 || time.Now().After(drainUntil)) {
			break
		}
	}
	stopWatch()
	<-watchDone
	return b.report(), nil
}

// presign makes each sender's first cfg.Presign transactions, the senders' shares spread
// over the machine's cores.
func (b *bench) presign(ctx context.Context, keys []*keyring.Key) ([][][]byte, error) {
	ready := make([][][]byte, len(keys))
	if b.cfg.Presign <= 0 {
		return ready, nil
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	work := make(chan int, len(keys))
	for s := range keys {
		work <- s
	}
	close(work)
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range work {
				txs := make([][]byte, b.cfg.Presign)
				for k := range txs {
					raw, err := b.newTx(ctx, b.cfg.Clients[0], keys[s], s, k)
					if err != nil {
						mu.Lock()
						first = cmp.Or(first, err)
						mu.Unlock()
						return
					}
					txs[k] = raw
				}
				ready[s] = txs
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, fmt.Errorf("presign: %w", first)
	}
	return ready, nil
}

// send broadcasts sender s's transactions, the k-th (from 0) with nonce k+1, taking them
// from ready while it lasts.
func (b *bench) send(ctx context.Context, s int, key *keyring.Key, ready [][]byte, deadline time.Time) {
	c := b.cfg.Clients[s%len(b.cfg.Clients)]
	var every time.Duration
	if b.cfg.Rate > 0 {
		every = time.Duration(float64(time.Second) * float64(b.cfg.Senders) / b.cfg.Rate)
	}
	k := 0
	next := time.Now()
	var raw []byte // a refused transaction, sent again as it is: no second signature
	for time.Now().Before(deadline) {
		if every > 0 {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			next = next.Add(every)
		}
		if raw == nil && k < len(ready) {
			raw, ready[k] = ready[k], nil
		} else if raw == nil {
			var err error
			if raw, err = b.newTx(ctx, c, key, s, k); err != nil {
				b.fail(err)
				continue
			}
		}
		h := sha256.Sum256(raw)
		b.mu.Lock()
		b.pending[h] = time.Now()
		b.r.Sent++
		b.mu.Unlock()
		res, err := c.RPC.BroadcastTxSync(ctx, raw)
		b.mu.Lock()
		if err != nil || res.Code != 0 {
			delete(b.pending, h)
			b.r.Rejected++
			if b.r.FirstError == "" {
				if err != nil {
					b.r.FirstError = err.Error()
				} else {
					b.r.FirstError = fmt.Sprintf("code %d: %s", res.Code, res.Log)
				}
			}
			b.mu.Unlock()
			time.Sleep(20 * time.Millisecond) // mempool full or node busy: back off
			continue
		}
		b.r.Accepted++
		b.mu.Unlock()
		k++
		raw = nil
	}
}

// newTx makes sender s's k-th transaction (from 0), which vchain takes at nonce k+1.
func (b *bench) newTx(ctx context.Context, c *client.Client, key *keyring.Key, s, k int) ([]byte, error) {
	if b.cfg.Target == KVStore {
		return []byte(fmt.Sprintf("bench-%d-%d=%d", s, k, k)), nil
	}
	raw, _, err := c.SignCall(ctx, key, client.CallTx{ChainID: b.cfg.ChainID, Contract: "kv", Method: "set",
		Args: []byte(fmt.Sprintf(`{"key":"bench-%d-%d","value":"%d"}`, s, k, k)), GasLimit: CallGas, Nonce: uint64(k) + 1})
	return raw, err
}

func (b *bench) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.r.Rejected++
	if b.r.FirstError == "" {
		b.r.FirstError = err.Error()
	}
}

// watch follows the chain from height from, matching committed transactions.
func (b *bench) watch(ctx context.Context, from int64) error {
	c := b.cfg.Clients[0]
	h := from
	for ctx.Err() == nil {
		blk, err := c.RPC.Block(ctx, &h)
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		res, err := c.TxOutcomes(ctx, h)
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		now := time.Now()
		b.mu.Lock()
		b.times = append(b.times, blk.Block.Time)
		if b.r.FirstHeight == 0 {
			b.r.FirstHeight = h
		}
		for i, tx := range blk.Block.Txs {
			k := sha256.Sum256(tx)
			sent, ok := b.pending[k]
			if !ok {
				continue
			}
			delete(b.pending, k)
			b.loaded, b.r.LastHeight = len(b.times), h
			if i < len(res) && res[i].Code != 0 {
				b.r.Failed++
				if b.r.FirstError == "" {
					b.r.FirstError = res[i].Log
				}
				continue
			}
			b.r.Committed++
			b.lat = append(b.lat, now.Sub(sent))
			b.last = now
		}
		b.mu.Unlock()
		h++
	}
	return nil
}

func (b *bench) report() *Report {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.r
	if !b.last.IsZero() {
		r.Seconds = b.last.Sub(b.first).Seconds()
		r.CommittedTPS = float64(r.Committed) / r.Seconds
	}
	sort.Slice(b.lat, func(i, j int) bool { return b.lat[i] < b.lat[j] })
	r.LatencyP50, r.LatencyP90, r.LatencyP99 = Percentile(b.lat, 50), Percentile(b.lat, 90), Percentile(b.lat, 99)
	times := b.times[:b.loaded]
	var iv []time.Duration
	for i := 1; i < len(times); i++ {
		iv = append(iv, times[i].Sub(times[i-1]))
	}
	sort.Slice(iv, func(i, j int) bool { return iv[i] < iv[j] })
	r.IntervalP50, r.IntervalP99 = Percentile(iv, 50), Percentile(iv, 99)
	r.Blocks = len(times)
	return &r
}

// Percentile returns the p-th percentile of sorted durations, in milliseconds.
func Percentile(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return float64(sorted[min(i, len(sorted)-1)].Microseconds()) / 1000
}
