package executor

import (
	"fmt"
	"sort"

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
// intended: each sender's transactions in nonce order (in the slots they already occupy,
// so the order between senders is kept), and only those that continue the sender's
// committed nonce without a gap. CometBFT's v0.38 mempool keeps transactions in the order
// they arrived, which need not be nonce order (a client sends several at once, peers
// gossip them, and CheckTx holds a nonce ahead of a gap: MaxNonceAhead), and it has no
// "queued" state: everything in it may be reaped. A block in arrival order would fail
// them with nonce gaps. What is left out, such as a held nonce whose predecessor is
// missing, stays in the mempool for a later block, and holds back no other sender.
// Undecodable or unsigned transactions are left out too: they would only fail, and
// ValidateProposal refuses a block holding one. The block stops before its summed gas
// limits would pass block.max_gas (CometBFT reaps the mempool under that bound already,
// but the proposal must not depend on it: the other validators check it). The result is
// this proposer's choice; every node still executes the block by the strict rules.
func (e *Executor) PrepareProposal(txs [][]byte, maxBytes int64) [][]byte {
	p := e.Params()
	if p == nil {
		return nil
	}
	lim := tx.Limits{ChainID: p.ChainID, MaxGasPerTx: p.App.MaxGasPerTx}
	type item struct {
		raw    []byte
		sender tx.Address
		nonce  uint64
		gas    uint64
	}
	items := make([]item, 0, len(txs))
	slots := map[tx.Address][]int{} // positions of each sender's transactions
	for _, raw := range txs {
		t, cerr := tx.DecodeCached(raw, lim, e.sigs)
		if cerr != nil {
			continue
		}
		slots[t.Sender] = append(slots[t.Sender], len(items))
		items = append(items, item{raw: raw, sender: t.Sender, nonce: t.Body.Nonce, gas: t.Body.GasLimit})
	}
	for _, pos := range slots {
		if len(pos) < 2 {
			continue
		}
		mine := make([]item, len(pos))
		for i, at := range pos {
			mine[i] = items[at]
		}
		sort.SliceStable(mine, func(i, j int) bool { return mine[i].nonce < mine[j].nonce })
		for i, at := range pos {
			items[at] = mine[i]
		}
	}
	maxGas, bounded := p.MaxBlockGas, p.MaxBlockGas != 0
	next := map[tx.Address]uint64{}
	out := make([][]byte, 0, len(items))
	var size int64
	var gas uint64
	for _, it := range items {
		want, ok := next[it.sender]
		if !ok {
			committed, err := readNonce(e.store, it.sender)
			if err != nil {
				continue
			}
			want = committed + 1
		}
		if it.nonce != want {
			next[it.sender] = want
			continue // a gap or a replay: it would fail
		}
		if maxBytes > 0 && size+int64(len(it.raw)) > maxBytes {
			break
		}
		if bounded && it.gas > maxGas-gas {
			break
		}
		size += int64(len(it.raw))
		gas += it.gas
		next[it.sender] = want + 1
		out = append(out, it.raw)
	}
	return out
}
