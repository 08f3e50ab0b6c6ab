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
		raws := signedCalls(t, n)
		good := n
		if c.bad >= 0 {
			raws[c.bad] = tamperSig(t, raws[c.bad])
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

// TestPreverify: Preverify remembers a batch's signatures only when every one verifies, and
// only from minPreverify unverified ones; what it leaves, DecodeCached verifies alone.
func TestPreverify(t *testing.T) {
	lim := Limits{ChainID: "c", MaxGasPerTx: 10}
	for _, tc := range []struct {
		name   string
		raws   [][]byte
		cached int // how many Preverify remembers
		bad    int // index of a bad signature, or -1
	}{
		{"a batch", signedCalls(t, minPreverify+2), minPreverify + 2, -1},
		{"too few", signedCalls(t, minPreverify-1), 0, -1},
		{"one bad signature", append(signedCalls(t, minPreverify+1), tamperSig(t, signedCalls(t, 1)[0])), 0, minPreverify + 1},
		{"undecodable bytes are skipped", append(signedCalls(t, minPreverify), []byte{0xff, 0x01}), minPreverify, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, warm := range []bool{false, true} { // keys seen first, then expanded
				cache := NewSigCache(100)
				if warm {
					for _, r := range tc.raws {
						if p, _, cerr := parseCached(r, nil); cerr == nil {
							warmKey(&cache.keys, p.env.PubKey)
						}
					}
				}
				Preverify(tc.raws, cache)
				if cache.Len() != tc.cached {
					t.Fatalf("warm keys %v: %d remembered, want %d", warm, cache.Len(), tc.cached)
				}
				for i, r := range tc.raws {
					if _, _, cerr := parseCached(r, nil); cerr != nil {
						continue
					}
					_, cerr := DecodeCached(r, lim, cache)
					if i == tc.bad {
						if cerr == nil || cerr.Code != codes.BadSignature {
							t.Errorf("bad signature %d decodes: %v", i, cerr)
						}
					} else if cerr != nil {
						t.Errorf("transaction %d: %v", i, cerr)
					}
				}
			}
		})
	}
}

// signedCalls returns n calls of chain "c", each signed by its own key.
func signedCalls(t *testing.T, n int) [][]byte {
	var raws [][]byte
	for i := 0; i < n; i++ {
		priv := ed25519.NewKeyFromSeed(sha256.New().Sum([]byte{byte(i)})[:32])
		r, err := Sign(priv, &txv1.TxBody{ChainId: "c", Nonce: 1, GasLimit: 1, Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "get"}}})
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, r)
	}
	return raws
}

// tamperSig returns raw with one bit of its signature flipped.
func tamperSig(t *testing.T, raw []byte) []byte {
	var env txv1.Tx
	if err := env.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	env.Signature[3] ^= 1
	bad, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// has reports whether c remembers the transaction of hash h.
func (c *SigCache) has(h [32]byte) bool { return c.lookup(h) != nil }

// TestSigCacheParse: a transaction the cache has seen decodes, from the cache, to what it
// decodes to without one, whichever path remembered it (CheckTx alone, Preverify's batch,
// a block's batch); each caller gets its own Tx, so what one does to it reaches no other;
// and the limits are checked again on every decode.
func TestSigCacheParse(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(sha256.New().Sum([]byte("parse"))[:32])
	lim := Limits{ChainID: "c", MaxGasPerTx: 10}
	var raws [][]byte
	for n := uint64(1); n <= 3*minBatch; n++ {
		r, err := Sign(priv, &txv1.TxBody{ChainId: "c", Nonce: n, GasLimit: 5,
			Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "set", Args: []byte(`{"key":"k"}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, r)
	}
	cache := NewSigCache(1000)
	first, cerr := DecodeCached(raws[0], lim, cache) // one by one
	if cerr != nil {
		t.Fatal(cerr)
	}
	first.Body.Nonce = 999                   // the cache must have kept its own
	Preverify(raws[1:minBatch], cache)       // a CheckTx batch
	DecodeBlock(raws[minBatch:], lim, cache) // a block's batches
	if cache.Len() != len(raws) {
		t.Fatalf("cache holds %d of %d", cache.Len(), len(raws))
	}
	for i, raw := range raws {
		want, cerr := Decode(raw, lim)
		if cerr != nil {
			t.Fatal(cerr)
		}
		a, cerr := DecodeCached(raw, lim, cache)
		if cerr != nil {
			t.Fatalf("tx %d from the cache: %v", i, cerr)
		}
		b := DecodeBlock([][]byte{raw}, lim, cache)[0]
		if b.Err != nil {
			t.Fatalf("tx %d in a block, from the cache: %v", i, b.Err)
		}
		for _, got := range []*Tx{a, b.Tx} {
			if got.Hash != want.Hash || got.Sender != want.Sender || got.Body.String() != want.Body.String() {
				t.Fatalf("tx %d from the cache: %+v, want %+v", i, got, want)
			}
		}
		if a == b.Tx {
			t.Fatalf("tx %d: two decodes share one Tx", i)
		}
		a.Body.Nonce, a.Sender = 999, Address{}
		if c, _ := DecodeCached(raw, lim, cache); c.Body.Nonce != want.Body.Nonce || c.Sender != want.Sender {
			t.Fatalf("tx %d: a caller's change reached the cache: nonce %d, sender %s", i, c.Body.Nonce, c.Sender)
		}
		if _, cerr := DecodeCached(raw, Limits{ChainID: "other", MaxGasPerTx: 10}, cache); cerr == nil || cerr.Code != codes.WrongChain {
			t.Fatalf("tx %d from the cache on another chain: %v", i, cerr)
		}
		if _, cerr := DecodeCached(raw, Limits{ChainID: "c", MaxGasPerTx: 4}, cache); cerr == nil || cerr.Code != codes.BadGasLimit {
			t.Fatalf("tx %d from the cache above the gas limit: %v", i, cerr)
		}
	}
}
