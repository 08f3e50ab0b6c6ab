package tx

import (
	"crypto/ed25519"
	"crypto/sha256"
	"testing"

	"github.com/vchain/vchain/app/codes"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// TestSigCacheSkipsOnlyIdenticalBytes: a cached verification is reused only for the very
// same bytes; any other transaction, even one differing only in its signature, is verified.
func TestSigCacheSkipsOnlyIdenticalBytes(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(sha256.New().Sum(nil)[:32])
	lim := Limits{ChainID: "c", MaxGasPerTx: 10}
	raw, err := Sign(priv, &txv1.TxBody{ChainId: "c", Nonce: 1, GasLimit: 1,
		Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "get"}}})
	if err != nil {
		t.Fatal(err)
	}
	cache := NewSigCache(10)
	if _, cerr := DecodeCached(raw, lim, cache); cerr != nil || cache.Len() != 1 {
		t.Fatalf("first decode: %v, cache %d", cerr, cache.Len())
	}
	if _, cerr := DecodeCached(raw, lim, cache); cerr != nil {
		t.Fatalf("cached decode: %v", cerr)
	}
	var env txv1.Tx
	if err := env.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	env.Signature[5] ^= 1
	bad, _ := env.Marshal()
	if _, cerr := DecodeCached(bad, lim, cache); cerr == nil || cerr.Code != codes.BadSignature {
		t.Fatalf("tampered signature with a warm cache: %v", cerr)
	}
	cache.Forget(sha256.Sum256(raw))
	if cache.Len() != 0 {
		t.Fatal("forget left the entry")
	}
	// A full cache forgets its older half only: with generations of one entry, the last
	// two transactions stay, the first goes.
	small := NewSigCache(2)
	var raws [][]byte
	for n := uint64(1); n <= 3; n++ {
		r, err := Sign(priv, &txv1.TxBody{ChainId: "c", Nonce: n, GasLimit: 1, Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "get"}}})
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, r)
		if _, cerr := DecodeCached(r, lim, small); cerr != nil {
			t.Fatal(cerr)
		}
	}
	if small.Len() != 2 {
		t.Fatalf("a full cache holds %d, want 2", small.Len())
	}
	for i, want := range []bool{false, true, true} {
		if got := small.has(sha256.Sum256(raws[i])); got != want {
			t.Errorf("transaction %d cached: %v, want %v", i+1, got, want)
		}
	}
}

// TestDecodeBlockRemembers: the signatures DecodeBlock verifies, in a batch or one by one,
// are in the cache afterwards, so the block's second decoding (FinalizeBlock after
// ProcessProposal) verifies none again; a bad signature is not remembered.
func TestDecodeBlockRemembers(t *testing.T) {
	lim := Limits{ChainID: "c", MaxGasPerTx: 10}
	for _, c := range []struct {
		n   int
		bad int // the position of a bad signature, -1 for none
	}{{3, 1}, {3 * minBatch, 1}, {3 * minBatch, -1}} { // one by one; a failed batch, then one by one; batches
		n := c.n
		var raws [][]byte
		for i := 0; i < n; i++ {
			priv := ed25519.NewKeyFromSeed(sha256.New().Sum([]byte{byte(i)})[:32])
			r, err := Sign(priv, &txv1.TxBody{ChainId: "c", Nonce: 1, GasLimit: 1, Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "get"}}})
			if err != nil {
				t.Fatal(err)
			}
			raws = append(raws, r)
		}
		good := n
		if c.bad >= 0 {
			var env txv1.Tx
			if err := env.Unmarshal(raws[c.bad]); err != nil {
				t.Fatal(err)
			}
			env.Signature[3] ^= 1
			raws[c.bad], _ = env.Marshal()
			good--
		}
		cache := NewSigCache(1000)
		for i, d := range DecodeBlock(raws, lim, cache) {
			if (d.Err != nil) != (i == c.bad) {
				t.Fatalf("%d txs, tx %d: %v", n, i, d.Err)
			}
		}
		if cache.Len() != good || (c.bad >= 0 && cache.has(sha256.Sum256(raws[c.bad]))) {
			t.Fatalf("%d txs, bad %d: the cache holds %d entries, want the %d good ones", n, c.bad, cache.Len(), good)
		}
	}
}
