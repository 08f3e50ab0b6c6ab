package tx

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"reflect"
	"testing"

	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// TestDecodeBlockMatchesDecode: a block decodes exactly as its transactions do one by one
// (the same accepted, the same codes and messages for the refused, in order), with a cold
// cache (batches), a warm one (lookups), and batches that hold bad signatures (each then
// verified alone).
func TestDecodeBlockMatchesDecode(t *testing.T) {
	lim := Limits{ChainID: "c", MaxGasPerTx: 1000}
	for _, tc := range []struct {
		name     string
		n        int
		badEvery int // every badEvery-th signature is tampered with (0: none)
	}{
		{"small block, serial", minBatch - 1, 0},
		{"valid signatures, batched", 300, 0},
		{"some bad signatures", 300, 37},
		{"many bad signatures", 300, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raws [][]byte
			for i := 0; i < tc.n; i++ {
				seed := sha256.Sum256([]byte(fmt.Sprint("sender", i%7)))
				chain := "c"
				if i%11 == 0 {
					chain = "other"
				}
				raw, err := Sign(ed25519.NewKeyFromSeed(seed[:]), &txv1.TxBody{ChainId: chain, Nonce: uint64(i + 1), GasLimit: 10,
					Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "set"}}})
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case tc.badEvery > 0 && i%tc.badEvery == 1:
					raw[len(raw)-3] ^= 1 // inside the signature
				case i%13 == 3:
					raw = raw[:len(raw)/2]
				}
				raws = append(raws, raw)
			}
			var want []Decoded
			accepted := 0
			for _, raw := range raws {
				d, cerr := Decode(raw, lim)
				want = append(want, Decoded{d, cerr})
				if cerr == nil {
					accepted++
				}
			}
			if accepted == 0 || accepted == len(want) {
				t.Fatalf("%d of %d accepted: the block should mix valid and invalid transactions", accepted, len(want))
			}
			cache := NewSigCache(1000)
			for _, round := range []string{"cold cache", "warm cache"} {
				got := DecodeBlock(raws, lim, cache)
				for i := range got {
					if !reflect.DeepEqual(got[i], want[i]) {
						t.Fatalf("%s, tx %d: got %+v, one by one %+v", round, i, got[i], want[i])
					}
				}
				for _, raw := range raws { // warm the cache for the next round, as CheckTx would
					DecodeCached(raw, lim, cache)
				}
			}
		})
	}
}

// BenchmarkDecodeBlock decodes a block of 1,000 transactions from 32 senders with a cold
// signature cache: the cost a node pays for a block whose transactions it never saw.
func BenchmarkDecodeBlock(b *testing.B) {
	lim := Limits{ChainID: "c", MaxGasPerTx: 1000}
	var raws [][]byte
	for i := 0; i < 1000; i++ {
		seed := sha256.Sum256([]byte(fmt.Sprint("sender", i%32)))
		raw, err := Sign(ed25519.NewKeyFromSeed(seed[:]), &txv1.TxBody{ChainId: "c", Nonce: uint64(i + 1), GasLimit: 10,
			Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "set", Args: []byte(`{"key":"k","value":"v"}`)}}})
		if err != nil {
			b.Fatal(err)
		}
		raws = append(raws, raw)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range DecodeBlock(raws, lim, nil) {
			if d.Err != nil {
				b.Fatal(d.Err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(raws)), "ns/tx")
}

// BenchmarkPreverify is CheckTx's signature checks for a batch of n new transactions from
// 32 accounts whose keys the cache holds expanded, as on a node under load: Preverify, then
// DecodeCached for each (a cache hit). n=1 is below minPreverify: each is verified alone,
// as CheckTx did before batches.
func BenchmarkPreverify(b *testing.B) {
	lim := Limits{ChainID: "c", MaxGasPerTx: 1000}
	keys := make([]ed25519.PrivateKey, 32)
	for i := range keys {
		seed := sha256.Sum256([]byte(fmt.Sprint("sender", i)))
		keys[i] = ed25519.NewKeyFromSeed(seed[:])
	}
	for _, n := range []int{1, 4, 8, 16, 64} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			sigs := NewSigCache(1 << 20)
			nonce := uint64(0)
			next := func() [][]byte {
				raws := make([][]byte, n)
				for j := range raws {
					nonce++
					raw, err := Sign(keys[nonce%32], &txv1.TxBody{ChainId: "c", Nonce: nonce, GasLimit: 10,
						Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "set", Args: []byte(`{"key":"k","value":"v"}`)}}})
					if err != nil {
						b.Fatal(err)
					}
					raws[j] = raw
				}
				return raws
			}
			for _, k := range keys { // expanded, as for accounts that send often
				warmKey(&sigs.keys, k.Public().(ed25519.PublicKey))
			}
			b.ResetTimer()
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				raws := next()
				b.StartTimer()
				Preverify(raws, sigs)
				for _, raw := range raws {
					if _, cerr := DecodeCached(raw, lim, sigs); cerr != nil {
						b.Fatal(cerr)
					}
				}
				b.StopTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/tx")
		})
	}
}
