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
	small := NewSigCache(1)
	DecodeCached(raw, lim, small)
	raw2, _ := Sign(priv, &txv1.TxBody{ChainId: "c", Nonce: 2, GasLimit: 1, Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "get"}}})
	DecodeCached(raw2, lim, small)
	if small.Len() != 1 {
		t.Fatalf("a full cache grew to %d", small.Len())
	}
}
