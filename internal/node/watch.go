package node

import (
	"fmt"
	"sync"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

// consensusFailure is what CometBFT v0.38 logs when its consensus routine panics: a block
// or vote it could not write (a full or read-only disk), a block the app could not execute
// or commit. Consensus has then stopped for good, while P2P, RPC and the process go on.
const consensusFailure = "CONSENSUS FAILURE!!!"

// FailureWatch is a CometBFT logger that also reports the first consensus failure it
// logs, so the node can stop instead of staying up as a validator that will never sign
// again (CometBFT v0.38 gives no other signal for it).
type FailureWatch struct {
	cmtlog.Logger
	w *watch
}

type watch struct {
	once   sync.Once
	failed chan struct{}
	err    error
}

// WatchConsensus wraps log; use the result for CometBFT.
func WatchConsensus(log cmtlog.Logger) *FailureWatch {
	return &FailureWatch{Logger: log, w: &watch{failed: make(chan struct{})}}
}

// Failed is closed when CometBFT has logged a consensus failure.
func (f *FailureWatch) Failed() <-chan struct{} { return f.w.failed }

// Err describes the consensus failure once Failed is closed.
func (f *FailureWatch) Err() error {
	select {
	case <-f.w.failed:
		return f.w.err
	default:
		return nil
	}
}

// Error logs, and notes a consensus failure.
func (f *FailureWatch) Error(msg string, keyvals ...any) {
	f.Logger.Error(msg, keyvals...)
	if msg != consensusFailure {
		return
	}
	f.w.once.Do(func() {
		cause := any("unknown")
		for i := 0; i+1 < len(keyvals); i += 2 {
			if keyvals[i] == "err" {
				cause = keyvals[i+1]
			}
		}
		f.w.err = fmt.Errorf("consensus failed: %v", cause)
		close(f.w.failed)
	})
}

// With returns a logger with keyvals that reports to the same watch.
func (f *FailureWatch) With(keyvals ...any) cmtlog.Logger {
	return &FailureWatch{Logger: f.Logger.With(keyvals...), w: f.w}
}
