// Package proposal builds a block proposal from the transactions CometBFT reaped from the
// mempool: each sender's transactions in nonce order, only those that continue the sender's
// committed nonce without a gap, within the block's byte and gas bounds.
//
// CometBFT's v0.38 mempool keeps transactions in the order they arrived, which need not be
// nonce order (a client sends several at once, peers gossip them, and CheckTx holds a nonce
// ahead of a gap: package admission), and it has no "queued" state: everything in it may be
// reaped. A block in arrival order would fail them with nonce gaps. What is left out, such
// as a held nonce whose predecessor is missing, stays in the mempool for a later block, and
// holds back no other sender. The result is the proposer's choice; every node still
// executes the block by the strict rules.
package proposal

import (
	"sort"

	"github.com/vchain/vchain/app/tx"
)

// Item is one reaped transaction: its bytes and what ordering needs of it.
type Item struct {
	Raw    []byte
	Sender tx.Address
	Nonce  uint64
	Gas    uint64 // its gas limit
}

// Bounds are the block's limits: maxBytes of transactions (0: none) and maxGas of summed
// gas limits (0: none).
type Bounds struct {
	MaxBytes int64
	MaxGas   uint64
}

// Build returns the proposal's transactions: items with each sender's transactions sorted
// by nonce in the slots they already occupy (so the order between senders is kept), each
// kept only when it carries its sender's next nonce (committed gives a sender's last
// committed nonce; a sender it fails for is left out), stopping before the block would
// pass a bound. It reorders items in place.
func Build(items []Item, committed func(tx.Address) (uint64, error), b Bounds) [][]byte {
	slots := map[tx.Address][]int{} // positions of each sender's transactions
	for i, it := range items {
		slots[it.Sender] = append(slots[it.Sender], i)
	}
	for _, pos := range slots {
		if len(pos) < 2 {
			continue
		}
		mine := make([]Item, len(pos))
		for i, at := range pos {
			mine[i] = items[at]
		}
		sort.SliceStable(mine, func(i, j int) bool { return mine[i].Nonce < mine[j].Nonce })
		for i, at := range pos {
			items[at] = mine[i]
		}
	}
	next := map[tx.Address]uint64{}
	out := make([][]byte, 0, len(items))
	var size int64
	var gas uint64
	for _, it := range items {
		want, ok := next[it.Sender]
		if !ok {
			last, err := committed(it.Sender)
			if err != nil {
				continue
			}
			want = last + 1
		}
		if it.Nonce != want {
			next[it.Sender] = want
			continue // a gap or a replay: it would fail
		}
		if b.MaxBytes > 0 && size+int64(len(it.Raw)) > b.MaxBytes {
			break
		}
		// Compared as what is left, so a sum that would overflow stops the block too.
		if b.MaxGas != 0 && it.Gas > b.MaxGas-gas {
			break
		}
		size += int64(len(it.Raw))
		gas += it.Gas
		next[it.Sender] = want + 1
		out = append(out, it.Raw)
	}
	return out
}
