package executor

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"reflect"
	"runtime"
	"testing"

	"github.com/vchain/vchain/app/tx"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// TestDecodeBlockMatchesSerial: spread over the cores, with a cold or a warm signature
// cache, a block decodes exactly as one transaction after another would: the same
// transactions accepted, the same codes and messages for the refused ones, in order.
func TestDecodeBlockMatchesSerial(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one core: decodeBlock is serial")
	}
	lim := tx.Limits{ChainID: "c", MaxGasPerTx: 1000}
	var txs [][]byte
	for i := 0; i < 3*parallelDecodeMin; i++ {
		seed := sha256.Sum256([]byte(fmt.Sprint("sender", i%7)))
		priv := ed25519.NewKeyFromSeed(seed[:])
		chain := "c"
		if i%11 == 0 {
			chain = "other"
		}
		raw, err := tx.Sign(priv, &txv1.TxBody{ChainId: chain, Nonce: uint64(i + 1), GasLimit: 10,
			Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "set"}}})
		if err != nil {
			t.Fatal(err)
		}
		switch i % 5 {
		case 1:
			raw[len(raw)-3] ^= 1 // inside the signature
		case 3:
			raw = raw[:len(raw)/2]
		}
		txs = append(txs, raw)
	}
	var want []decoded
	for _, raw := range txs {
		d, cerr := tx.Decode(raw, lim)
		want = append(want, decoded{d, cerr})
	}
	cache := tx.NewSigCache(1000)
	for _, round := range []string{"cold cache", "warm cache"} {
		got := decodeBlock(txs, lim, cache)
		if !reflect.DeepEqual(got, want) {
			for i := range got {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("%s, tx %d: got %+v, serial decoding gives %+v", round, i, got[i], want[i])
				}
			}
		}
	}
	accepted := 0
	for _, d := range want {
		if d.cerr == nil {
			accepted++
		}
	}
	if accepted == 0 || accepted == len(want) {
		t.Fatalf("%d of %d accepted: the block should mix valid and invalid transactions", accepted, len(want))
	}
}
