package node

import (
	"context"
	"fmt"
	"sync"

	nm "github.com/cometbft/cometbft/node"
	sm "github.com/cometbft/cometbft/state"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
)

// cometBlocks is the executor's BlockSource (dry runs) in an embedded node: blocks from
// CometBFT's block store, their recorded results from its state store, read in process.
// Both stores are CometBFT's, safe for the concurrent reads its RPC makes too.
type cometBlocks struct {
	n *nm.Node

	once  sync.Once
	state sm.Store
	err   error
}

// stateStore reaches CometBFT's state store through the RPC environment, the only way
// the node exposes it. It is built on first use: by then the node is running, so a
// remote signer (whose public key the environment reads) is connected.
func (c *cometBlocks) stateStore() (sm.Store, error) {
	c.once.Do(func() {
		env, err := c.n.ConfigureRPC()
		if err != nil {
			c.err = fmt.Errorf("CometBFT state store: %w", err)
			return
		}
		c.state = env.StateStore
	})
	return c.state, c.err
}

// RecordedBlock implements executor.BlockSource.
func (c *cometBlocks) RecordedBlock(_ context.Context, height int64) (*executor.RecordedBlock, error) {
	bs := c.n.BlockStore()
	blk := bs.LoadBlock(height)
	if blk == nil {
		return nil, fmt.Errorf("block %d is not in this node's block store (it holds %d..%d)", height, bs.Base(), bs.Height())
	}
	ss, err := c.stateStore()
	if err != nil {
		return nil, err
	}
	res, err := ss.LoadFinalizeBlockResponse(height)
	if err != nil {
		return nil, fmt.Errorf("results of block %d: %w", height, err)
	}
	out := &executor.RecordedBlock{Results: make([]executor.TxResult, len(res.TxResults))}
	for _, t := range blk.Txs {
		out.Txs = append(out.Txs, t)
	}
	for i, r := range res.TxResults {
		out.Results[i] = executor.TxResult{Code: codes.Code(r.Code), Data: r.Data, Log: r.Log, GasWanted: uint64(r.GasWanted), GasUsed: uint64(r.GasUsed)}
	}
	return out, nil
}
