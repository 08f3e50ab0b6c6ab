package tx_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"testing"

	"github.com/vchain/vchain/app/tx"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

const benchChainID = "bench-chain"

var benchKey = func() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("tx-bench"))
	return ed25519.NewKeyFromSeed(seed[:])
}()

// benchBody is a typical contract call: a kv.set with short JSON arguments.
func benchBody() *txv1.TxBody {
	return &txv1.TxBody{ChainId: benchChainID, Nonce: 1, GasLimit: 20_000_000,
		Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "set", Args: []byte(`{"key":"a","value":"1"}`)}}}
}

// BenchmarkDecodeVerify is tx.Decode of a signed call: envelope and body decoding, the
// ed25519 signature check and the stateless checks. CheckTx and every transaction of a
// block pay it, and the signature check dominates it.
func BenchmarkDecodeVerify(b *testing.B) {
	raw, err := tx.Sign(benchKey, benchBody())
	if err != nil {
		b.Fatal(err)
	}
	lim := tx.Limits{ChainID: benchChainID, MaxGasPerTx: 1 << 30}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, cerr := tx.Decode(raw, lim); cerr != nil {
			b.Fatal(cerr)
		}
	}
	b.ReportMetric(float64(len(raw)), "tx-bytes")
}

// BenchmarkSign is tx.Sign of a call: body encoding, ed25519 signing and envelope
// encoding. It is the client-side cost of producing a transaction (wallets, load
// generators), so it bounds how fast one client process can submit.
func BenchmarkSign(b *testing.B) {
	body := benchBody()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tx.Sign(benchKey, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCached is tx.DecodeCached of a signed call the cache has seen verify:
// what CheckTx pays after Preverify's batch, and a block pays for each transaction the
// node checked. Each node decodes a transaction so two or three times.
func BenchmarkDecodeCached(b *testing.B) {
	raw, err := tx.Sign(benchKey, benchBody())
	if err != nil {
		b.Fatal(err)
	}
	lim := tx.Limits{ChainID: benchChainID, MaxGasPerTx: 1 << 30}
	cache := tx.NewSigCache(16)
	if _, cerr := tx.DecodeCached(raw, lim, cache); cerr != nil {
		b.Fatal(cerr)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, cerr := tx.DecodeCached(raw, lim, cache); cerr != nil {
			b.Fatal(cerr)
		}
	}
}
