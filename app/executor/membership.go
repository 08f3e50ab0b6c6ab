package executor

import (
	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/app/upgrade"
)

// checkMembership runs a membership change, proposal or approval against committed state
// as the next block would, in a write set it then drops: CheckTx refuses what the block
// would refuse (a duplicate key, an unknown validator, too large a change, ...) instead of
// letting it into a block to fail there. Changes waiting in the mempool are not counted:
// the block still checks each against the changes before it.
func (e *Executor) checkMembership(p *Params, t *tx.Tx) *codes.Error {
	if !upgrade.IsMembership(t.Body.Msg) {
		return nil
	}
	height := e.NextHeight()
	k := upgrade.NewKeeper(state.NewCache(e.committed()))
	if err := k.BeginBlockValidators(height); err != nil {
		return codes.Errorf(codes.Internal, "read validator set: %v", err)
	}
	res, err := k.Deliver(lifecycleContext(p, height, t), t.Body.Msg)
	if err != nil {
		return codes.Errorf(codes.Internal, "check %s: %v", tx.MsgName(t.Body.Msg), err)
	}
	return res.Refusal
}
