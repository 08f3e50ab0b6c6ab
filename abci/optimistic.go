package abci

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/vchain/vchain/app/executor"
)

// Optimistic execution. A validator that accepts a proposal starts executing it at once,
// in the background, while the prevotes and precommits go round; FinalizeBlock of the same
// block then takes that result instead of executing it again. Under load the vote rounds
// and the execution each take a few hundred milliseconds, one after the other without it.
//
// The result is the one FinalizeBlock would compute: the executor's FinalizeBlock depends
// on the height, the transactions and the committed state only, and CometBFT calls
// ProcessProposal of a height after Commit of the one before, on the connection that then
// calls FinalizeBlock, so no commit comes between. A block other than the one executed
// (a later round's, or a block decided without this node processing its proposal) is
// executed again once the background run has ended: the executor's staged state and
// pending block are replaced by each FinalizeBlock (state.Store.Stage).

// speculation is a block executing, or executed, ahead of FinalizeBlock.
type speculation struct {
	height int64
	txs    [][]byte
	done   chan struct{}
	res    *executor.BlockResult
	err    error
	took   time.Duration // execution time, less any pause for a missing runtime
}

// SetOptimistic turns optimistic execution on or off (on by default). Call it before
// CometBFT starts.
func (a *App) SetOptimistic(on bool) { a.noOptimistic = !on }

// speculate starts executing an accepted proposal. An earlier speculation still running
// is waited for first: executions never overlap.
func (a *App) speculate(height int64, txs [][]byte) {
	if a.noOptimistic {
		return
	}
	a.specMu.Lock()
	defer a.specMu.Unlock()
	if a.spec != nil {
		<-a.spec.done
	}
	s := &speculation{height: height, txs: txs, done: make(chan struct{})}
	a.spec = s
	go func() {
		defer close(s.done)
		s.res, s.took, s.err = a.execute(context.Background(), height, txs)
	}()
}

// speculated returns the result of a speculation on exactly this block, after waiting
// for it, or nil if there is none (then any speculation has ended, and the block must be
// executed).
func (a *App) speculated(height int64, txs [][]byte) (*executor.BlockResult, time.Duration) {
	a.specMu.Lock()
	s := a.spec
	a.spec = nil
	a.specMu.Unlock()
	if s == nil {
		return nil, 0
	}
	<-s.done
	if s.err != nil || s.height != height || !slices.EqualFunc(s.txs, txs, bytes.Equal) {
		return nil, 0
	}
	a.specUsed.Add(1)
	return s.res, s.took
}

// OptimisticBlocks returns how many blocks FinalizeBlock has taken from optimistic
// execution since start.
func (a *App) OptimisticBlocks() uint64 { return a.specUsed.Load() }

// execute runs the executor's FinalizeBlock and times it, leaving out a pause.
func (a *App) execute(ctx context.Context, height int64, txs [][]byte) (*executor.BlockResult, time.Duration, error) {
	start := time.Now()
	_, pausedBefore := a.exec.PausedFor()
	res, err := a.exec.FinalizeBlock(ctx, height, txs)
	_, pausedAfter := a.exec.PausedFor()
	return res, time.Since(start) - (pausedAfter - pausedBefore), err
}
