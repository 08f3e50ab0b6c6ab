package executor

import (
	"fmt"

	"github.com/vchain/vchain/app/proposal"
	"github.com/vchain/vchain/app/tx"
)

// ValidateProposal decides whether this node accepts a proposed block (ProcessProposal). It
// refuses what no correct proposer builds: a transaction that fails a stateless check
// (size, encoding, signature, chain id, gas limit bounds, message shape), or summed gas
// limits over block.max_gas. It accepts a transaction that would only fail against state,
// such as a nonce gap or an unauthorized call: the proposer built the block on the state
// it had, and FinalizeBlock executes such a transaction into a failed result, the same on
// every node. The error says which transaction broke which rule.
func (e *Executor) ValidateProposal(txs [][]byte) error {
	p := e.Params()
	if p == nil {
		return fmt.Errorf("no chain parameters: the chain is not initialised")
	}
	max, bounded := p.MaxBlockGas, p.MaxBlockGas != 0
	var gas uint64
	for i, d := range tx.DecodeBlock(txs, tx.Limits{ChainID: p.ChainID, MaxGasPerTx: p.App.MaxGasPerTx}, e.sigs) {
		if d.Err != nil {
			return fmt.Errorf("transaction %d of %d is invalid: %w", i, len(txs), d.Err)
		}
		// Compared as what is left, so a sum that would overflow is refused too.
		if bounded && d.Tx.Body.GasLimit > max-gas {
			return fmt.Errorf("transaction %d of %d takes the summed gas limits over block.max_gas %d", i, len(txs), max)
		}
		gas += d.Tx.Body.GasLimit
	}
	return nil
}

// PrepareProposal orders the transactions CometBFT reaped into a block that executes as
// intended (see package proposal): each sender's transactions in nonce order, only those
// that continue the sender's committed nonce without a gap, within the block's bytes and
// block.max_gas (CometBFT reaps the mempool under that bound already, but the proposal must
// not depend on it: the other validators check it). Undecodable or unsigned transactions
// are left out too: they would only fail, and ValidateProposal refuses a block holding one.
func (e *Executor) PrepareProposal(txs [][]byte, maxBytes int64) [][]byte {
	p := e.Params()
	if p == nil {
		return nil
	}
	lim := tx.Limits{ChainID: p.ChainID, MaxGasPerTx: p.App.MaxGasPerTx}
	items := make([]proposal.Item, 0, len(txs))
	for _, raw := range txs {
		t, cerr := tx.DecodeCached(raw, lim, e.sigs)
		if cerr != nil {
			continue
		}
		items = append(items, proposal.Item{Raw: raw, Sender: t.Sender, Nonce: t.Body.Nonce, Gas: t.Body.GasLimit})
	}
	committed := func(a tx.Address) (uint64, error) { return readNonce(e.store, a) }
	return proposal.Build(items, committed, proposal.Bounds{MaxBytes: maxBytes, MaxGas: p.MaxBlockGas})
}
