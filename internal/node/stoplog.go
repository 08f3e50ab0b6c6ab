package node

import (
	"errors"
	"net"
	"sync/atomic"

	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/libs/service"
)

// ShutdownFilter is a CometBFT logger that, once Stopping was called, logs at info level
// the errors a clean stop of a v0.38 node logs although nothing went wrong, so that an
// operator (or a log alert) sees error lines only when something did:
//
//   - "Error closing switch: already stopped": Stop stops the P2P switch before the node
//     (see Stop), and the node's OnStop stops it again;
//   - "Stopped accept routine, as transport is closed": the switch's accept loop ends when
//     OnStop closes the transport, and says so at error level;
//   - "Error serving server: use of closed network connection": the RPC server's accept
//     loop ends when OnStop closes its listener;
//   - with peers: "Stopping peer for error: use of closed network connection" and "error
//     while stopping peer: already stopped" (the switch closed that connection itself),
//     "Won't start a peer - switch is not running" (a peer dialed in while it stopped),
//     and "Error stopping pool: already stopped" (block sync had already finished).
//
// The same messages with any other cause, or before Stopping, stay errors.
type ShutdownFilter struct {
	cmtlog.Logger
	stopping *atomic.Bool
}

// FilterShutdown wraps log; use the result for CometBFT, and call Stopping before Stop.
func FilterShutdown(log cmtlog.Logger) *ShutdownFilter {
	return &ShutdownFilter{Logger: log, stopping: new(atomic.Bool)}
}

// Stopping marks the start of a deliberate stop.
func (f *ShutdownFilter) Stopping() { f.stopping.Store(true) }

// Error logs at info level an error that a deliberate stop causes, else at error level.
func (f *ShutdownFilter) Error(msg string, keyvals ...any) {
	if f.stopping.Load() && expectedOnStop(msg, keyvals) {
		f.Logger.Info(msg, append(keyvals, "on_stop", "expected")...)
		return
	}
	f.Logger.Error(msg, keyvals...)
}

// With returns a logger with keyvals that shares the stopping mark.
func (f *ShutdownFilter) With(keyvals ...any) cmtlog.Logger {
	return &ShutdownFilter{Logger: f.Logger.With(keyvals...), stopping: f.stopping}
}

func expectedOnStop(msg string, keyvals []any) bool {
	var err error
	for i := 0; i+1 < len(keyvals); i += 2 {
		if e, ok := keyvals[i+1].(error); ok && (keyvals[i] == "err" || keyvals[i] == "error") {
			err = e
		}
	}
	switch msg {
	case "Error closing switch", "error while stopping peer", "Error stopping pool":
		return errors.Is(err, service.ErrAlreadyStopped)
	case "Stopped accept routine, as transport is closed", "Won't start a peer - switch is not running":
		return true
	case "Error serving server", "Error serving server with TLS", "Stopping peer for error":
		return errors.Is(err, net.ErrClosed)
	}
	return false
}
