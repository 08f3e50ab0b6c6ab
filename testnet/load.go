package testnet

import (
	"testing"
	"time"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/loadgen"
)

// Load is a loadgen.Load bound to a test.
type Load struct{ *loadgen.Load }

// StartLoad starts a load of senders through clients (see loadgen.Start).
func StartLoad(t testing.TB, chainID string, clients []*client.Client, senders int, interval time.Duration) *Load {
	l, err := loadgen.Start(chainID, clients, senders, interval, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &Load{l}
}

// StopAndCheck stops the load and fails the test unless every accepted transaction was
// committed successfully, executed by the version the on-chain history names.
func (l *Load) StopAndCheck(t testing.TB, c *client.Client) loadgen.Result {
	t.Helper()
	r, err := l.Stop(c, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("load: %+v", r)
	}
	return r
}
