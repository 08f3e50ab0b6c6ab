package localnet

import (
	"context"
	"fmt"
	"time"

	"github.com/vchain/vchain/internal/client"
)

// Status is one node's state as the status table shows it.
type Status struct {
	Name string `json:"name"`
	PID  int    `json:"pid,omitempty"`
	// Local is set when this machine runs the node's process (its PID file names a live
	// one); a node in a container or on another host has none here but may still be Up.
	Local bool `json:"local_process"`
	// Up is set when the node answers RPC or its local process is alive.
	Up      bool   `json:"up"`
	Height  int64  `json:"height"`
	AppHash string `json:"app_hash"`
	Runtime uint64 `json:"runtime_version"`
	// HeaderApp is version.app of the latest block's header: the runtime that executes
	// (or executed) that block, even before the app has committed it.
	HeaderApp uint64 `json:"header_app_version"`
	// Paused is set while the node waits for a runtime version it lacks.
	Paused     bool   `json:"paused"`
	PausedFor  uint64 `json:"paused_for_version,omitempty"`
	Peers      int    `json:"peers"`
	CatchingUp bool   `json:"catching_up"`
	Err        string `json:"error,omitempty"`
}

// Status asks n for its status, within timeout.
func (m *Manifest) Status(ctx context.Context, n Node, timeout time.Duration) Status {
	s := Status{Name: n.Name}
	s.PID, s.Local = m.PID(n)
	s.Up = s.Local
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := client.New(n.RPCAddr())
	if err != nil {
		s.Err = err.Error()
		return s
	}
	st, err := c.RPC.Status(ctx)
	if err != nil {
		s.Err = "rpc: " + err.Error()
		return s
	}
	s.Up = true
	s.Height, s.CatchingUp = st.SyncInfo.LatestBlockHeight, st.SyncInfo.CatchingUp
	s.AppHash = fmt.Sprintf("%X", st.SyncInfo.LatestAppHash)
	if h, err := c.RPC.Header(ctx, &s.Height); err == nil {
		s.HeaderApp = h.Header.Version.App
	}
	if ni, err := c.RPC.NetInfo(ctx); err == nil {
		s.Peers = ni.NPeers
	}
	if us, err := c.UpgradeStatus(ctx, 0); err == nil {
		s.Runtime = us.Effective.Version
		if us.Paused != nil {
			s.Paused, s.PausedFor = true, us.Paused.Version
		}
	} else {
		s.Err = err.Error()
	}
	return s
}

// StatusAll asks every node, concurrently.
func (m *Manifest) StatusAll(ctx context.Context, timeout time.Duration) []Status {
	out := make([]Status, len(m.Nodes))
	done := make(chan struct{}, len(m.Nodes))
	for i, n := range m.Nodes {
		go func(i int, n Node) {
			out[i] = m.Status(ctx, n, timeout)
			done <- struct{}{}
		}(i, n)
	}
	for range m.Nodes {
		<-done
	}
	return out
}
