package testnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/localnet"
	"github.com/vchain/vchain/internal/testwasm"
)

// ProcNet is a testnet of real vchaind processes made by `vchaind testnet init`'s code,
// driven through the real CLI and RPC.
type ProcNet struct {
	M   *localnet.Manifest
	Bin string
	// Modules holds the built runtime modules by name ("v1", "v2", "testmod") as files.
	Modules map[string]string
}

// StartProcNet creates a testnet of validators + fullNodes and starts the validators.
func StartProcNet(t *testing.T, validators, fullNodes int) *ProcNet {
	t.Helper()
	p := NewProcNet(t, validators, fullNodes)
	for _, n := range p.M.Validators() {
		p.Start(t, n.Name)
	}
	return p
}

// NewProcNet creates a testnet of validators + fullNodes and starts none of them; every
// node is stopped when the test ends.
func NewProcNet(t *testing.T, validators, fullNodes int) *ProcNet {
	t.Helper()
	p := &ProcNet{Bin: Binary(t), Modules: map[string]string{}}
	dir := t.TempDir()
	for _, name := range []string{"v1", "v2", "testmod"} {
		path := filepath.Join(dir, name+".wasm")
		if err := os.WriteFile(path, testwasm.Module(t, name), 0o644); err != nil {
			t.Fatal(err)
		}
		p.Modules[name] = path
	}
	m, err := localnet.Init(context.Background(), filepath.Join(dir, "net"), localnet.Options{
		Validators: validators, FullNodes: fullNodes, ChainID: "proc-" + strings.ToLower(t.Name()[4:min(len(t.Name()), 30)]),
		Runtime: testwasm.Module(t, "v1"), Ports: FreePorts(t, localnet.PortsPerNode*(validators+fullNodes)),
		TimeoutCommit: 300 * time.Millisecond, RuntimeCacheDir: testwasm.CacheDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	p.M = m
	t.Cleanup(func() {
		for _, n := range m.Nodes {
			_ = m.StopNode(n, 10*time.Second)
		}
		if t.Failed() {
			for _, n := range m.Nodes {
				if b, err := os.ReadFile(filepath.Join(m.HomeOf(n), localnet.LogFile)); err == nil {
					t.Logf("--- %s log (last 3000 bytes):\n%s", n.Name, b[max(0, len(b)-3000):])
				}
			}
		}
	})
	return p
}

// Node returns the node called name.
func (p *ProcNet) Node(t testing.TB, name string) localnet.Node {
	n, ok := p.M.Node(name)
	if !ok {
		t.Fatalf("no node %s", name)
	}
	return n
}

// Start starts a node's process and waits for its RPC.
func (p *ProcNet) Start(t testing.TB, name string) {
	t.Helper()
	n := p.Node(t, name)
	if _, err := p.M.StartNode(p.Bin, n); err != nil {
		t.Fatal(err)
	}
	if err := p.M.WaitRPC(context.Background(), n, 60*time.Second); err != nil {
		t.Fatal(err)
	}
}

// Client returns an RPC client of the node called name.
func (p *ProcNet) Client(t testing.TB, name string) *client.Client {
	c, err := client.New(p.Node(t, name).RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Clients returns clients of the named nodes.
func (p *ProcNet) Clients(t testing.TB, names ...string) []*client.Client {
	var cs []*client.Client
	for _, n := range names {
		cs = append(cs, p.Client(t, n))
	}
	return cs
}

// CLI runs vchaind with args against node name (its home and RPC) and returns stdout;
// the exit code must be wantExit.
func (p *ProcNet) CLI(t testing.TB, name string, wantExit int, args ...string) string {
	t.Helper()
	out, err := p.M.Run(p.Bin, p.Node(t, name), args...)
	code := 0
	var re *localnet.RunError
	if errors.As(err, &re) {
		code = re.Code
	} else if err != nil {
		t.Fatal(err)
	}
	if code != wantExit {
		t.Fatalf("on %s: exit %d, want %d: %v", name, code, wantExit, err)
	}
	return out
}

// Admin runs an admin command through node0 (whose keyring holds the admin key) and
// returns the height of the block that included it.
func (p *ProcNet) Admin(t testing.TB, args ...string) int64 {
	t.Helper()
	h, err := p.M.AdminTx(p.Bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Status returns a node's status.
func (p *ProcNet) Status(t testing.TB, name string) localnet.Status {
	return p.M.Status(context.Background(), p.Node(t, name), 3*time.Second)
}

// WaitHeight waits until every named node reports at least height h.
func (p *ProcNet) WaitHeight(t testing.TB, h int64, timeout time.Duration, names ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, name := range names {
		for {
			s := p.Status(t, name)
			if s.Height >= h {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s at height %d after %s, want %d (%s)", name, s.Height, timeout, h, s.Err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// CheckConsistency checks that the named nodes computed the same chain (see
// localnet.SameResults: each node's own results at every height and its app's committed
// app hash), every one of them up to the highest height one has reached, and returns that
// height. A node left out of names (one stopped on purpose) is not checked.
func (p *ProcNet) CheckConsistency(t testing.TB, names ...string) int64 {
	t.Helper()
	top, err := p.Consistency(names...)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// Consistency is CheckConsistency returning its finding as an error.
func (p *ProcNet) Consistency(names ...string) (int64, error) {
	var nodes []localnet.Node
	for _, name := range names {
		n, ok := p.M.Node(name)
		if !ok {
			return 0, fmt.Errorf("no node %s", name)
		}
		nodes = append(nodes, n)
	}
	return localnet.SameBlocks(context.Background(), nodes)
}

// History returns a node's on-chain switch history.
func (p *ProcNet) History(t testing.TB, name string) []executor.HistoryEntry {
	var h []executor.HistoryEntry
	if err := p.Client(t, name).QueryJSON(context.Background(), "/upgrade/history", &h); err != nil {
		t.Fatal(err)
	}
	return h
}
