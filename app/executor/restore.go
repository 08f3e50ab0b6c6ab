package executor

import (
	"errors"
	"fmt"

	"github.com/vchain/vchain/app/state"
)

// Empty reports whether the app holds no state at all: no block committed and no InitChain
// run. Only such a node may be restored from a state sync snapshot.
func (e *Executor) Empty() bool {
	return e.store.Height() == 0 && e.Params() == nil
}

// AfterRestore loads what the executor keeps in memory from the state a snapshot restore
// just wrote into the store (app/snapshot), as New does from a reopened store: from here
// the node executes the block after the snapshot's height like any node.
func (e *Executor) AfterRestore() error {
	if e.store.Height() == 0 {
		return errors.New("after restore: the store holds no height")
	}
	raw, err := e.store.Get(state.KeyParams)
	if err != nil {
		return fmt.Errorf("after restore: %w", err)
	}
	if raw == nil {
		return errors.New("after restore: the restored state has no chain parameters")
	}
	p, err := decodeParams(raw)
	if err != nil {
		return fmt.Errorf("after restore: stored chain parameters are corrupt: %w", err)
	}
	e.mu.Lock()
	e.params, e.genesis, e.pending = p, nil, nil
	e.mu.Unlock()
	e.pool.Reset()
	e.preparePending() // a switch pending at the snapshot's height: compile its runtime now
	lb := e.LastBlock()
	e.log.Info("state restored from a snapshot", "height", lb.Height, "app_hash", fmt.Sprintf("%X", lb.AppHash),
		"chain_id", p.ChainID, "next_app_version", lb.AppVersion)
	return nil
}
