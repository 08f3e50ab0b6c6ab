package testnet

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/p2p"

	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/node"
	"github.com/vchain/vchain/internal/testwasm"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// TestInitialHeight starts a 4-validator network whose genesis sets initial_height 100:
// the first block is 100 and runs the genesis runtime, recorded since 100; a kv.set
// commits; v2 scheduled in 3 blocks switches exactly there, header version.app included.
// A validator stopped before the switch catches up across it; stopped again and
// restarted with its app store from before the switch, CometBFT's handshake replays the
// blocks its app lacks, across the switch, to the same app hash.
func TestInitialHeight(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-validator network")
	}
	const h0 = 100
	ctx := context.Background()
	v2 := testwasm.Module(t, "v2")
	net := Start(t, Options{Validators: 4, InitialHeight: h0})
	net.WaitHeight(t, h0+1, 60*time.Second)
	for _, n := range net.Nodes {
		if b := n.Comet.BlockStore().Base(); b != h0 {
			t.Fatalf("%s: first block %d, want %d", n.Name, b, h0)
		}
		if h := n.History(t); len(h) != 1 || h[0].Height != h0 || h[0].Version != 1 {
			t.Fatalf("%s: history %+v, want v1 since %d", n.Name, h, h0)
		}
		if v := n.AppVersionAt(t, h0); v != 1 {
			t.Fatalf("%s: version.app %d at %d, want 1", n.Name, v, h0)
		}
	}

	r := net.Nodes[1].Send(t, net.Admin, func(b *txv1.TxBody) {
		b.Msg = &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "set", Args: []byte(`{"key":"a","value":"1"}`)}}
	})
	if r.Code != 0 || r.Height < h0 {
		t.Fatalf("kv.set: code %d at %d: %s", r.Code, r.Height, r.Log)
	}
	// The block is committed where node1 indexed it; node2 may commit it a moment later.
	net.WaitHeight(t, r.Height, 30*time.Second)
	q, err := net.Nodes[2].Client.Query(ctx, "/state/kv", []byte("a"))
	if err != nil || q.Code != 0 || string(q.Value) != "1" {
		t.Fatalf("kv a: %+v %v", q, err)
	}

	// node3 stops before the upgrade; the other three (3/4 of the power) go on.
	const i = 3
	name := net.Nodes[i].Name
	peers := strings.Join(append(append([]string{}, net.peers[:i]...), net.peers[i+1:]...), ",")
	snapA, appA := net.stopCopy(t, i)

	net.Register(t, 2, v2)
	for _, n := range net.Nodes {
		n.Install(t, 2, v2)
	}
	r = net.Schedule(t, 2, 3)
	if r.Code != 0 {
		t.Fatalf("schedule v2 in 3: %s", r.Log)
	}
	start := r.Height + 3
	if appA >= start {
		t.Fatalf("node3 stopped at %d, not before the switch at %d", appA, start)
	}
	net.WaitHeight(t, start, 90*time.Second)
	for _, n := range net.Nodes {
		h := n.History(t)
		if len(h) != 2 || h[0].Height != h0 || h[1].Height != start || h[1].Version != 2 {
			t.Fatalf("%s: history %+v, want v1 from %d and v2 from %d", n.Name, h, h0, start)
		}
		if n.AppVersionAt(t, start-1) != 1 || n.AppVersionAt(t, start) != 2 {
			t.Fatalf("%s: header version.app %d at %d and %d at %d", n.Name, n.AppVersionAt(t, start-1), start-1, n.AppVersionAt(t, start), start)
		}
	}

	// node3 restarts from where it stopped, with v2 installed, and catches up across the
	// switch.
	homeB := copyHome(t, snapA, name+"-b")
	installOffline(t, homeB, 2, v2)
	net.Nodes = append(net.Nodes, net.startNode(t, homeB, name, peers))
	net.checkSameChain(t, h0, start)

	// node3 stops again and restarts with its app store as it was before the switch:
	// CometBFT's handshake replays every block since then through FinalizeBlock and Commit.
	stateB := net.Nodes[len(net.Nodes)-1].Comet.BlockStore().Height()
	snapB, _ := net.stopCopy(t, len(net.Nodes)-1)
	homeC := copyHome(t, snapB, name+"-c")
	appDB := filepath.Join("data", "vchain.db")
	if err := os.RemoveAll(filepath.Join(homeC.Root, appDB)); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(snapA.Root, appDB), filepath.Join(homeC.Root, appDB)).CombinedOutput(); err != nil {
		t.Fatalf("restore the app store: %v: %s", err, out)
	}
	// A new p2p identity: the peers redialled node3's address while it was stopping, and
	// CometBFT v0.38's transport still completed those handshakes, so each peer can hold a
	// connection to the stopped node under its old id for a minute (until the ping
	// timeout) and refuses that id meanwhile ("duplicate ID"). The validator key is kept.
	keyFile := filepath.Join(homeC.Root, "config", "node_key.json")
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if _, err := p2p.LoadOrGenNodeKey(keyFile); err != nil {
		t.Fatal(err)
	}
	// The handshake runs before the node starts and fails it unless the replayed app
	// hashes match CometBFT's: an app at CometBFT's height can only come from the replay.
	n := net.startNode(t, homeC, name, peers)
	net.Nodes = append(net.Nodes, n)
	if lb := n.App.Exec.LastBlock(); lb.Height < stateB {
		t.Fatalf("after the handshake the app is at %d, want at least %d (CometBFT's)", lb.Height, stateB)
	}
	t.Logf("handshake replayed blocks %d..%d across the switch at %d", appA+1, stateB, start)
	net.checkSameChain(t, h0, start)
}

// stopCopy stops node i, removes it from the network and returns a copy of its home and
// the height its app had committed.
// CometBFT v0.38 leaves its tx_index and evidence databases open (and locked) when it
// stops, so a node of this process cannot reopen the same ones; the copy is what a killed
// node leaves on disk.
func (net *Network) stopCopy(t *testing.T, i int) (home.Paths, int64) {
	t.Helper()
	old := net.Nodes[i]
	old.App.Exec.Shutdown()
	node.Stop(old.Comet, cmtlog.NewNopLogger())
	if err := old.App.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	net.Nodes = append(net.Nodes[:i:i], net.Nodes[i+1:]...)
	return copyHome(t, old.Home, old.Name+"-stopped"), old.App.Exec.Height()
}

func copyHome(t *testing.T, from home.Paths, name string) home.Paths {
	t.Helper()
	to := home.Paths{Root: filepath.Join(t.TempDir(), name)}
	if out, err := exec.Command("cp", "-a", from.Root, to.Root).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v: %s", from.Root, err, out)
	}
	return to
}

// installOffline installs wasm as version into a stopped node's runtime directory, as
// `vchaind runtime install` does on a stopped node.
func installOffline(t *testing.T, p home.Paths, version uint64, wasm []byte) {
	t.Helper()
	ctx := context.Background()
	m, err := runtime.NewManager(ctx, p.Runtime(), AppConfig().RuntimeOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	if _, err := m.Install(ctx, version, wasm); err != nil {
		t.Fatal(err)
	}
}

// checkSameChain checks that every node computed the same results from h0 on and is at
// the tip (CheckConsistency starts at the first height the nodes store), and holds the
// same runtime history, with the switch at start.
func (net *Network) checkSameChain(t *testing.T, h0, start int64) {
	t.Helper()
	if top := net.CheckConsistency(t); top < start {
		t.Fatalf("compared up to %d, before the switch at %d", top, start)
	}
	for _, n := range net.Nodes {
		if h := n.History(t); len(h) != 2 || h[0].Height != h0 || h[1].Height != start {
			t.Fatalf("%s: history %+v, want v1 from %d and v2 from %d", n.Name, h, h0, start)
		}
	}
}
