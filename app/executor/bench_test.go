package executor_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/codes"
)

// BenchmarkFinalizeBlock executes blocks of 100 signed kv.set transactions from 10
// senders on one node: per block a fresh runtime instance, and per transaction signature
// verification, nonce checks, a contract call and the write set. It is the node's
// execution throughput, reported as tx/s. Signing and Commit (measured on its own by
// state.BenchmarkCommit) run with the timer stopped.
func BenchmarkFinalizeBlock(b *testing.B) {
	const senders, perBlock = 10, 100
	ctx := context.Background()
	n := newNode(b, nil, "", "v1")
	n.initChain("v1")
	nextBlock := kvSetBlocks(b, senders, perBlock, func(s, j int, _ uint64) string { return fmt.Sprintf("s%d-%d", s, j) })
	n.block(nextBlock()...) // the first block also writes genesis: keep it out of the figures

	var gas uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		txs := nextBlock()
		b.StartTimer()
		res, err := n.exec.FinalizeBlock(ctx, n.store.Height()+1, txs)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		for j, r := range res.TxResults {
			if r.Code != codes.OK {
				b.Fatalf("tx %d: %s %s", j, r.Code, r.Log)
			}
			gas += r.GasUsed
		}
		if _, err := n.exec.Commit(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(perBlock*b.N)/b.Elapsed().Seconds(), "tx/s")
	b.ReportMetric(float64(gas)/float64(perBlock*b.N), "gas/tx")
}

// kvSetBlocks returns a maker of blocks of perBlock signed kv.set calls from senders
// senders moving in step (each sends one transaction per round, with its next nonce),
// the key of sender s's call in round j at nonce named by keyOf, the value its nonce.
func kvSetBlocks(b *testing.B, senders, perBlock int, keyOf func(s, j int, nonce uint64) string) func() [][]byte {
	keys := make([]ed25519.PrivateKey, senders)
	for i := range keys {
		keys[i] = key(byte(100 + i))
	}
	var nonce uint64
	return func() [][]byte {
		txs := make([][]byte, 0, perBlock)
		for j := 0; j < perBlock/senders; j++ {
			nonce++
			for s, k := range keys {
				txs = append(txs, signed(b, k, nonce, "kv", "set", fmt.Sprintf(`{"key":%q,"value":"%d"}`, keyOf(s, j, nonce), nonce)))
			}
		}
		return txs
	}
}

// BenchmarkCheckTx is the mempool admission of one valid kv.set transaction: decoding,
// signature verification, the chain and gas checks and the sender's nonce lookup. Every
// transaction a node hears of pays it, also the ones that never make it into a block.
// Each iteration uses a fresh sender so no nonce collides; keys and signatures are made
// before the timer starts.
func BenchmarkCheckTx(b *testing.B) {
	n := newNode(b, nil, "", "v1")
	n.initChain("v1")
	n.block()
	txs := make([][]byte, b.N)
	for i := range txs {
		seed := sha256.Sum256([]byte("bench-sender-" + strconv.Itoa(i)))
		txs[i] = signed(b, ed25519.NewKeyFromSeed(seed[:]), 1, "kv", "set", `{"key":"k","value":"v"}`)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, cerr := n.exec.CheckTx(txs[i]); cerr != nil {
			b.Fatal(cerr)
		}
	}
}

// BenchmarkAdversarialBlock compares a block of 5,000 transactions that each fail (half
// trap with a panic, half run out of gas in an endless loop with a limit of 200,000) with
// a block of 5,000 ordinary kv.set calls, on the same module (testmod, which has both).
// Every call starts from the instance's snapshot, so a failure costs a restore, not a new
// instance: the issue asks for the failing block to take at most twice as long. A third
// block of 5,000 os.Exit calls checks that an exit, which wazero's WASI answers by closing
// the instance, is restored like a trap. (A call that grows the memory still needs a new
// instance, a wasm memory never shrinking: runtime's BenchmarkReplaceInstance prices
// that.) Reported: ms per block and the ratios to kv.set.
func BenchmarkAdversarialBlock(b *testing.B) {
	const senders, perBlock = 100, 5000
	n := newNode(b, nil, "", "testmod")
	n.initChain("testmod")
	keys := make([]ed25519.PrivateKey, senders)
	for i := range keys {
		keys[i] = key(byte(100 + i))
	}
	var nonce uint64
	makeBlock := func(kind string) [][]byte {
		txs := make([][]byte, 0, perBlock)
		for j := 0; j < perBlock/senders; j++ {
			nonce++
			for s, k := range keys {
				var raw []byte
				switch {
				case kind == "kv.set":
					raw = signed(b, k, nonce, "kv", "set", fmt.Sprintf(`{"key":"s%d-%d","value":"%d"}`, s, j, nonce))
				case kind == "exit":
					raw = signed(b, k, nonce, "fault", "exit", "")
				case (s+j)%2 == 0:
					raw = signed(b, k, nonce, "fault", "panic", "")
				default:
					raw = signed(b, k, nonce, "fault", "loop", "", gasLimit(200_000))
				}
				txs = append(txs, raw)
			}
		}
		return txs
	}
	run := func(kind string) time.Duration {
		b.StopTimer()
		txs := makeBlock(kind)
		b.StartTimer()
		start := time.Now()
		res, err := n.exec.FinalizeBlock(context.Background(), n.store.Height()+1, txs)
		d := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		for j, r := range res.TxResults {
			if ok := r.Code == codes.OK; ok != (kind == "kv.set") {
				b.Fatalf("%s block, tx %d: %s %s", kind, j, r.Code, r.Log)
			}
		}
		if _, err := n.exec.Commit(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		return d
	}
	run("kv.set") // genesis and the module's snapshot: keep them out of the figures
	var kv, bad, exit time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		kv += run("kv.set")
		bad += run("trap/out of gas")
		exit += run("exit")
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(b.N) / 1e6 }
	b.ReportMetric(ms(kv), "kvset-ms/block")
	b.ReportMetric(ms(bad), "failing-ms/block")
	b.ReportMetric(ms(exit), "exit-ms/block")
	b.ReportMetric(float64(bad)/float64(kv), "failing/kvset")
	b.ReportMetric(float64(exit)/float64(kv), "exit/kvset")
}

// BenchmarkFinalizeBlockScale is BenchmarkFinalizeBlock on a pebble store preloaded with
// a contract state of 10^4 or 10^5 keys (10^6 with VCHAIN_BENCH_1M set: its preload takes
// minutes), in blocks of 2,000 kv.set calls from 32 senders that write new keys, as the
// bench's load does. Per block it measures FinalizeBlock (execution and the app hash) and
// Commit including the wait for the background save, which the next block would wait for.
// The figure to watch is how ms/block grows with the state.
func BenchmarkFinalizeBlockScale(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if os.Getenv("VCHAIN_BENCH_1M") != "" {
		sizes = append(sizes, 1_000_000)
	}
	for _, size := range sizes {
		b.Run(fmt.Sprintf("%dk", size/1000), func(b *testing.B) {
			const senders, perBlock = 32, 2000
			db, err := dbm.NewDB("bench", dbm.PebbleDBBackend, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			preload := make(map[string]string, size)
			for i := 0; i < size; i++ {
				h := sha256.Sum256([]byte(strconv.Itoa(i)))
				preload[fmt.Sprintf("pre-%x", h[:8])] = fmt.Sprintf("%x", h)
			}
			c := migChainOn(b, db, 0, map[string]map[string]string{"kv": preload})
			b.Cleanup(func() { c.store.Close() })
			c.block() // the first block saves the genesis state
			if err := c.store.WaitSaved(); err != nil {
				b.Fatal(err)
			}
			nextBlock := kvSetBlocks(b, senders, perBlock, func(s, _ int, nonce uint64) string { return fmt.Sprintf("bench-%d-%d", s, nonce) })
			b.ResetTimer()
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				txs := nextBlock()
				b.StartTimer()
				res, err := c.exec.FinalizeBlock(context.Background(), c.store.Height()+1, txs)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.exec.Commit(); err != nil {
					b.Fatal(err)
				}
				if err := c.store.WaitSaved(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				for j, r := range res.TxResults {
					if r.Code != codes.OK {
						b.Fatalf("tx %d: %s %s", j, r.Code, r.Log)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/block")
			b.ReportMetric(float64(perBlock*b.N)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}
