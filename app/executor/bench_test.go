package executor_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strconv"
	"testing"

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
	keys := make([]ed25519.PrivateKey, senders)
	for i := range keys {
		keys[i] = key(byte(100 + i))
	}
	var nonce uint64 // the senders move in step: each sends one tx per round
	nextBlock := func() [][]byte {
		txs := make([][]byte, 0, perBlock)
		for j := 0; j < perBlock/senders; j++ {
			nonce++
			for s, k := range keys {
				txs = append(txs, signed(b, k, nonce, "kv", "set", fmt.Sprintf(`{"key":"s%d-%d","value":"%d"}`, s, j, nonce)))
			}
		}
		return txs
	}
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
