package testnet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/vchain/vchain/abci"
	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/app/tx"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// byzantine is a validator's app whose PrepareProposal spoils every block it builds, in
// turn with an undecodable transaction and with valid transactions whose gas limits sum
// over block.max_gas. Everything else, ProcessProposal included, is its honest app.
type byzantine struct {
	*abci.App

	mu        sync.Mutex
	chainID   string   // known once the network has started
	overGas   [][]byte // valid transactions summing over block.max_gas, built for chainID
	proposals []badProposal
	proposer  []byte
}

type badProposal struct {
	height int64
	kind   string
}

// undecodablePrefix starts every undecodable transaction the byzantine node proposes.
const undecodablePrefix = "byzantine "

func (b *byzantine) setChainID(t testing.TB, chainID string) {
	// One sender, consecutive nonces, the largest gas limit a transaction may ask: each
	// is valid on its own; one more than block.max_gas admits.
	priv := ed25519.NewKeyFromSeed(sha256.New().Sum([]byte("byzantine"))[:32])
	var txs [][]byte
	for i := uint64(1); i <= genesis.DefaultMaxGasPerBlock/genesis.DefaultMaxGasPerTx+1; i++ {
		raw, err := tx.Sign(priv, &txv1.TxBody{ChainId: chainID, Nonce: i, GasLimit: genesis.DefaultMaxGasPerTx,
			Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "set", Args: []byte(`{"key":"byzantine","value":"1"}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, raw)
	}
	b.mu.Lock()
	b.chainID, b.overGas = chainID, txs
	b.mu.Unlock()
}

func (b *byzantine) PrepareProposal(ctx context.Context, req *abcitypes.RequestPrepareProposal) (*abcitypes.ResponsePrepareProposal, error) {
	res, err := b.App.PrepareProposal(ctx, req)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.proposer = req.ProposerAddress
	kind := "undecodable"
	if b.overGas != nil && len(b.proposals)%2 == 1 {
		kind = "over max_gas"
		res.Txs = append(res.Txs, b.overGas...)
	} else {
		res.Txs = append(res.Txs, []byte(fmt.Sprintf("%s%d/%d", undecodablePrefix, req.Height, len(b.proposals))))
	}
	b.proposals = append(b.proposals, badProposal{height: req.Height, kind: kind})
	return res, nil
}

// made returns the bad proposals so far and how many of each kind.
func (b *byzantine) made() ([]badProposal, map[string]int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	kinds := map[string]int{}
	for _, p := range b.proposals {
		kinds[p.kind]++
	}
	return append([]badProposal{}, b.proposals...), kinds
}

// TestByzantineProposer: one of four validators proposes blocks no correct proposer
// builds. The three honest ones reject them in ProcessProposal, each such round moves to
// another proposer, and the chain goes on: no committed block holds a bad transaction or
// was proposed by the byzantine validator, heights advance past its turns, transactions
// sent through it are committed, and every node computed the same chain.
func TestByzantineProposer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-validator network")
	}
	const byz = 3
	var bad *byzantine
	net := Start(t, Options{Validators: 4, ABCI: func(i int, app *abci.App) abcitypes.Application {
		if i != byz {
			return app
		}
		bad = &byzantine{App: app}
		return bad
	}})
	bad.setChainID(t, net.ChainID)
	overGas := map[string]bool{}
	for _, raw := range bad.overGas {
		overGas[string(raw)] = true
	}

	// Wait for the byzantine validator's turns: at least two bad proposals of each kind.
	deadline := time.Now().Add(4 * time.Minute)
	for {
		_, kinds := bad.made()
		if kinds["undecodable"] >= 2 && kinds["over max_gas"] >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the byzantine validator made %v bad proposals by height %d", kinds, net.Nodes[0].App.Exec.Height())
		}
		time.Sleep(200 * time.Millisecond)
	}
	proposals, kinds := bad.made()
	last := proposals[len(proposals)-1].height

	// A transaction sent through the byzantine node's mempool reaches an honest proposer.
	sender := net.Admin
	r := net.Nodes[byz].Send(t, sender, func(b *txv1.TxBody) {
		b.Msg = &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "set", Args: []byte(`{"key":"honest","value":"1"}`)}}
	})
	if r.Code != 0 {
		t.Fatalf("a transaction through the byzantine node: code %d: %s", r.Code, r.Log)
	}
	net.WaitHeight(t, last+2, 2*time.Minute)
	top := net.CheckConsistency(t)

	// Walk every committed block: none holds a bad transaction or comes from the
	// byzantine validator, and the heights it proposed for were committed by others.
	bad.mu.Lock()
	proposer := bad.proposer
	bad.mu.Unlock()
	store := net.Nodes[0].Comet.BlockStore()
	for h := int64(1); h <= top; h++ {
		blk := store.LoadBlock(h)
		if blk == nil {
			t.Fatalf("block %d missing from %s", h, net.Nodes[0].Name)
		}
		if bytes.Equal(blk.ProposerAddress, proposer) {
			t.Errorf("block %d, proposed by the byzantine validator, was committed", h)
		}
		var spoiled int
		for _, raw := range blk.Txs {
			if bytes.HasPrefix(raw, []byte(undecodablePrefix)) || overGas[string(raw)] {
				spoiled++
			}
		}
		if spoiled > 0 {
			t.Errorf("block %d holds %d byzantine transactions (of %d)", h, spoiled, len(blk.Txs))
		}
	}
	var rejected uint64
	for i, n := range net.Nodes {
		if i != byz {
			rejected += n.App.ABCI.RejectedProposals()
			t.Logf("%s rejected %d proposals", n.Name, n.App.ABCI.RejectedProposals())
		}
	}
	if rejected == 0 {
		t.Errorf("the honest validators rejected none of %d bad proposals", len(proposals))
	}
	if top <= last {
		t.Fatalf("the chain stopped at %d, before the byzantine proposal at %d", top, last)
	}
	t.Logf("%d bad proposals (%v) up to height %d, %d rejections by honest validators; chain at %d",
		len(proposals), kinds, last, rejected, top)
}
