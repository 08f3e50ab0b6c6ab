package testnet

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmtlog "github.com/cometbft/cometbft/libs/log"

	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/node"
	"github.com/vchain/vchain/internal/testwasm"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// TestInitialHeight starts a 4-validator network whose genesis sets initial_height 100:
// the first block is 100 and runs the genesis runtime, recorded since 100; a kv.set
// commits; v2 scheduled in 3 blocks switches exactly there, header version.app included;
// a validator stopped and restarted (Info, handshake, catching up) rejoins on the same
// chain.
func TestInitialHeight(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-validator network")
	}
	const h0 = 100
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
	q, err := net.Nodes[2].Client.Query(context.Background(), "/state/kv", []byte("a"))
	if err != nil || q.Code != 0 || string(q.Value) != "1" {
		t.Fatalf("kv a: %+v %v", q, err)
	}

	net.Register(t, 2, v2)
	for _, n := range net.Nodes[:3] {
		n.Install(t, 2, v2)
	}
	r = net.Schedule(t, 2, 3)
	if r.Code != 0 {
		t.Fatalf("schedule v2 in 3: %s", r.Log)
	}
	start := r.Height + 3
	net.Nodes[3].Install(t, 2, v2)
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

	// Stop one validator, let the others go on, and start it again on a copy of its home:
	// CometBFT v0.38 leaves its tx_index and evidence databases open (and locked) when it
	// stops, so a second node of this process cannot open the same ones; the copy is what a
	// killed node leaves on disk.
	i := 3
	old := net.Nodes[i]
	stoppedAt := old.App.Exec.Height()
	old.App.Exec.Shutdown()
	node.Stop(old.Comet, cmtlog.NewNopLogger())
	if err := old.App.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	net.Nodes = append(net.Nodes[:i:i], net.Nodes[i+1:]...)
	net.WaitHeight(t, stoppedAt+2, 60*time.Second)
	peers := append(append([]string{}, net.peers[:i]...), net.peers[i+1:]...)
	moved := home.Paths{Root: filepath.Join(t.TempDir(), old.Name)}
	if out, err := exec.Command("cp", "-a", old.Home.Root, moved.Root).CombinedOutput(); err != nil {
		t.Fatalf("copy %s's home: %v: %s", old.Name, err, out)
	}
	n := net.startNode(t, moved, old.Name, strings.Join(peers, ","))
	net.Nodes = append(net.Nodes, n)
	top := net.Nodes[0].App.Exec.Height()
	net.WaitHeight(t, top+2, 90*time.Second)
	// localnet.SameResults walks blocks from 1; here the headers from h0 on must agree.
	for h := int64(h0); h <= top+2; h++ {
		want := net.Nodes[0].Comet.BlockStore().LoadBlockMeta(h)
		for _, n := range net.Nodes[1:] {
			got := n.Comet.BlockStore().LoadBlockMeta(h)
			if want == nil || got == nil || got.BlockID.Hash.String() != want.BlockID.Hash.String() {
				t.Fatalf("%s: block %d differs from node0's (or is missing)", n.Name, h)
			}
		}
	}
	if a, b := net.Nodes[0].App.Exec.LastBlock(), n.App.Exec.LastBlock(); a.Height == b.Height && string(a.AppHash) != string(b.AppHash) {
		t.Fatalf("restarted node's app hash at %d differs", a.Height)
	}
	if h := n.History(t); len(h) != 2 || h[0].Height != h0 || h[1].Height != start {
		t.Fatalf("restarted node's history %+v", h)
	}
}
