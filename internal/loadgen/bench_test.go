package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/keyring"
)

// TestPresign: each sender's presigned transactions are the ones it would sign as it sends
// (the same bytes, its k-th at nonce k+1), valid for the chain, and no sender gets another's.
func TestPresign(t *testing.T) {
	const senders, each = 5, 7
	c, err := client.New("tcp://127.0.0.1:1") // never dialled: the chain id and nonces are given
	if err != nil {
		t.Fatal(err)
	}
	kr := keyring.Open(t.TempDir())
	keys := make([]*keyring.Key, senders)
	for s := range keys {
		if keys[s], err = kr.Add(fmt.Sprintf("s%d", s)); err != nil {
			t.Fatal(err)
		}
	}
	b := &bench{cfg: BenchConfig{Target: Vchain, ChainID: "presign", Clients: []*client.Client{c}, Senders: senders, Presign: each}}
	ready, err := b.presign(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(ready) != senders {
		t.Fatalf("%d senders' transactions, want %d", len(ready), senders)
	}
	for s, txs := range ready {
		if len(txs) != each {
			t.Fatalf("sender %d: %d transactions, want %d", s, len(txs), each)
		}
		for k, raw := range txs {
			d, cerr := tx.Decode(raw, tx.Limits{ChainID: "presign", MaxGasPerTx: CallGas})
			if cerr != nil {
				t.Fatalf("sender %d tx %d: %v", s, k, cerr)
			}
			if d.Sender != keys[s].Address || d.Body.Nonce != uint64(k)+1 {
				t.Fatalf("sender %d tx %d: from %s at nonce %d, want %s at %d", s, k, d.Sender, d.Body.Nonce, keys[s].Address, k+1)
			}
			want, err := b.newTx(context.Background(), c, keys[s], s, k)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, want) {
				t.Fatalf("sender %d tx %d: presigned bytes differ from the ones sending would sign", s, k)
			}
		}
	}

	b.cfg.Presign = 0
	if ready, err = b.presign(context.Background(), keys); err != nil || len(ready) != senders || ready[0] != nil {
		t.Fatalf("no presigning: %d senders, first %d txs, err %v", len(ready), len(ready[0]), err)
	}
}
