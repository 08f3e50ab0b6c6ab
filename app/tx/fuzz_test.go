package tx_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/tx"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

const fuzzChain = "fuzz-chain"

var fuzzLimits = tx.Limits{ChainID: fuzzChain, MaxGasPerTx: 50_000_000}

// rejectionCodes are the codes Decode may return: the stateless rejections of app/codes.
var rejectionCodes = map[codes.Code]bool{
	codes.Undecodable: true, codes.Unsigned: true, codes.BadSignature: true, codes.WrongChain: true,
	codes.NonceReplayed: true, codes.BadGasLimit: true, codes.InvalidMessage: true, codes.TxTooLarge: true,
}

// decodeSeeds are valid transactions of every message type, then broken variants of them:
// truncated, bit-flipped, re-signed for another chain, unsigned.
func decodeSeeds(t testing.TB) [][]byte {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	sum := sha256.Sum256([]byte("module"))
	msgs := []func(*txv1.TxBody){
		func(b *txv1.TxBody) {
			b.Msg = &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "set", Args: []byte(`{"key":"a","value":"1"}`)}}
		},
		func(b *txv1.TxBody) {
			b.Msg = &txv1.TxBody_RegisterRelease{RegisterRelease: &txv1.RegisterRelease{Version: 2, CodeSha256: sum[:], Note: "n", Profile: 1}}
		},
		func(b *txv1.TxBody) {
			b.Msg = &txv1.TxBody_ScheduleUpgrade{ScheduleUpgrade: &txv1.ScheduleUpgrade{Version: 2,
				Activation: &txv1.ScheduleUpgrade_InBlocks{InBlocks: 3}}}
		},
		func(b *txv1.TxBody) {
			b.Msg = &txv1.TxBody_ScheduleUpgrade{ScheduleUpgrade: &txv1.ScheduleUpgrade{Version: 2,
				Activation: &txv1.ScheduleUpgrade_Height{Height: 10}}}
		},
		func(b *txv1.TxBody) { b.Msg = &txv1.TxBody_CancelUpgrade{CancelUpgrade: &txv1.CancelUpgrade{}} },
		func(b *txv1.TxBody) {
			b.Msg = &txv1.TxBody_AttestInstall{AttestInstall: &txv1.AttestInstall{Validator: tx.AddressOf(priv.Public().(ed25519.PublicKey)).String(),
				Versions: []*txv1.InstalledVersion{{Version: 1, CodeSha256: sum[:]}}}}
		},
	}
	sign := func(set func(*txv1.TxBody), chain string) []byte {
		body := &txv1.TxBody{ChainId: chain, Nonce: 1, GasLimit: 1_000_000}
		set(body)
		raw, err := tx.Sign(priv, body)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	var seeds [][]byte
	for _, m := range msgs {
		seeds = append(seeds, sign(m, fuzzChain))
	}
	good := seeds[0]
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 1
	seeds = append(seeds,
		nil,
		[]byte("not a transaction"),
		good[:len(good)/2],
		good[:len(good)-1],
		flipped,
		sign(msgs[0], "other-chain"),
		sign(func(b *txv1.TxBody) { b.Msg = nil }, fuzzChain),
	)
	return seeds
}

// FuzzDecode: Decode never panics; a rejection carries a stateless rejection code and a
// log; an accepted transaction really is valid (its signature verifies over the domain and
// the exact body bytes, for this chain) and decodes the same way again, with or without
// the signature cache, and after its envelope is re-encoded.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, cerr := tx.Decode(raw, fuzzLimits)
		if cerr != nil {
			if got != nil {
				t.Fatalf("rejection %v also returned a transaction", cerr)
			}
			if !rejectionCodes[cerr.Code] || cerr.Msg == "" {
				t.Fatalf("rejection with code %d (%s) and log %q", cerr.Code, cerr.Code, cerr.Msg)
			}
			return
		}
		var env txv1.Tx
		if err := env.Unmarshal(raw); err != nil {
			t.Fatalf("accepted bytes are not an envelope: %v", err)
		}
		if !ed25519.Verify(env.PubKey, tx.SignBytes(env.Body), env.Signature) {
			t.Fatal("accepted a signature that does not verify")
		}
		if got.Hash != sha256.Sum256(raw) || got.Sender != tx.AddressOf(env.PubKey) {
			t.Fatal("hash or sender not derived from the bytes")
		}
		if got.Body.ChainId != fuzzChain || got.Body.Nonce == 0 || got.Body.GasLimit == 0 || got.Body.GasLimit > fuzzLimits.MaxGasPerTx {
			t.Fatalf("accepted an invalid body: %+v", got.Body)
		}
		// The decoded body re-encodes to bytes that decode to the same body.
		canon, err := got.Body.Marshal()
		if err != nil {
			t.Fatalf("re-encode body: %v", err)
		}
		var again txv1.TxBody
		if err := again.Unmarshal(canon); err != nil {
			t.Fatalf("re-decode body: %v", err)
		}
		if re, _ := again.Marshal(); !bytes.Equal(re, canon) {
			t.Fatal("body encoding is not stable")
		}
		// Same answer through the cache, twice (first verifies, second skips).
		cache := tx.NewSigCache(4)
		for i := 0; i < 2; i++ {
			c, cerr := tx.DecodeCached(raw, fuzzLimits, cache)
			if cerr != nil || c.Hash != got.Hash || c.Sender != got.Sender {
				t.Fatalf("cached decode %d differs: %v", i, cerr)
			}
		}
		// A re-encoded envelope keeps the signed body bytes, so it stays valid.
		reenv, err := env.Marshal()
		if err != nil {
			t.Fatalf("re-encode envelope: %v", err)
		}
		r, cerr := tx.Decode(reenv, fuzzLimits)
		if cerr != nil || r.Sender != got.Sender {
			t.Fatalf("re-encoded envelope refused: %v", cerr)
		}
		if b1, _ := r.Body.Marshal(); !bytes.Equal(b1, canon) {
			t.Fatal("re-encoded envelope decodes to another body")
		}
	})
}
