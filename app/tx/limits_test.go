package tx_test

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/contracts/abi"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// TestCallLimits: each static limit of a call is enforced by Decode, just past the limit,
// and not at it, so nothing CheckTx admits can be refused by the runtime for its shape.
// DecodeBlock gives the same verdict, as FinalizeBlock uses it.
func TestCallLimits(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))
	name64 := strings.Repeat("a", 64)
	cases := []struct {
		name             string
		contract, method string
		args             int
		want             codes.Code
	}{
		{"args at the limit", "kv", "set", abi.MaxArgsLen, codes.OK},
		{"args one past the limit", "kv", "set", abi.MaxArgsLen + 1, codes.InvalidMessage},
		{"names of 64", name64, name64, 0, codes.OK},
		{"contract of 65", name64 + "a", "set", 0, codes.InvalidMessage},
		{"method of 65", "kv", name64 + "a", 0, codes.InvalidMessage},
		{"empty contract", "", "set", 0, codes.InvalidMessage},
		{"empty method", "kv", "", 0, codes.InvalidMessage},
		{"upper case", "KV", "set", 0, codes.InvalidMessage},
		{"args past the tx size", "kv", "set", tx.MaxTxBytes, codes.TxTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tx.Sign(priv, &txv1.TxBody{ChainId: fuzzChain, Nonce: 1, GasLimit: 1_000_000,
				Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: tc.contract, Method: tc.method, Args: make([]byte, tc.args)}}})
			if err != nil {
				t.Fatal(err)
			}
			_, cerr := tx.Decode(raw, fuzzLimits)
			block := tx.DecodeBlock([][]byte{raw}, fuzzLimits, nil)[0].Err
			for _, got := range []*codes.Error{cerr, block} {
				switch {
				case tc.want == codes.OK && got != nil:
					t.Fatalf("refused: %v", got)
				case tc.want != codes.OK && (got == nil || got.Code != tc.want):
					t.Fatalf("got %v, want %s", got, tc.want)
				}
			}
		})
	}
}
