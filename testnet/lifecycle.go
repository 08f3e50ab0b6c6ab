package testnet

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/keyring"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// ValidatorAddress returns the node's CometBFT validator address (upper-case hex).
func (n *Node) ValidatorAddress(t testing.TB) string {
	pk, err := n.Comet.PrivValidator().GetPubKey()
	if err != nil {
		t.Fatal(err)
	}
	return pk.Address().String()
}

// Install installs wasm as version on the node while it runs, and, as `vchaind runtime
// install` does, has its operator attest every installed version on chain.
func (n *Node) Install(t testing.TB, version uint64, wasm []byte) {
	t.Helper()
	ctx := context.Background()
	if _, err := n.App.Runtimes.Install(ctx, version, wasm); err != nil {
		t.Fatalf("%s: install v%d: %v", n.Name, version, err)
	}
	list, err := n.App.Runtimes.List()
	if err != nil {
		t.Fatal(err)
	}
	versions := map[uint64][32]byte{}
	for _, in := range list {
		versions[in.Version] = in.SHA256
	}
	op, err := keyring.Open(n.Home.Keyring()).Get(home.OperatorKey)
	if err != nil {
		t.Fatal(err)
	}
	res := n.Send(t, op, client.AttestMsg(n.ValidatorAddress(t), versions))
	if res.Code != 0 {
		t.Fatalf("%s: attestation failed: %s", n.Name, res.Log)
	}
}

// Result is a committed transaction's outcome.
type Result struct {
	Height int64
	Code   uint32
	Log    string
	Data   []byte
}

// Send signs a transaction with key, broadcasts it through n and waits for its block.
func (n *Node) Send(t testing.TB, key *keyring.Key, setMsg func(*txv1.TxBody)) Result {
	t.Helper()
	ctx := context.Background()
	raw, _, err := n.Client.Sign(ctx, key, "", 0, 5_000_000, setMsg)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := n.Client.Broadcast(ctx, raw)
	if err != nil {
		t.Fatalf("%s: broadcast: %v", n.Name, err)
	}
	res, err := n.Client.WaitTx(ctx, hash, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return Result{Height: res.Height, Code: res.TxResult.Code, Log: res.TxResult.Log, Data: res.TxResult.Data}
}

// Register has the admin register wasm as version.
func (net *Network) Register(t testing.TB, version uint64, wasm []byte) {
	t.Helper()
	sum := sha256.Sum256(wasm)
	r := net.Nodes[0].Send(t, net.Admin, func(b *txv1.TxBody) {
		b.Msg = &txv1.TxBody_RegisterRelease{RegisterRelease: &txv1.RegisterRelease{Version: version, CodeSha256: sum[:], Profile: profile.Latest()}}
	})
	if r.Code != 0 {
		t.Fatalf("register v%d: %s", version, r.Log)
	}
}

// Schedule has the admin schedule version in blocks after the including block (0: next
// block) and returns the result.
func (net *Network) Schedule(t testing.TB, version, in uint64) Result {
	t.Helper()
	return net.Nodes[0].Send(t, net.Admin, func(b *txv1.TxBody) {
		s := &txv1.ScheduleUpgrade{Version: version, Activation: &txv1.ScheduleUpgrade_InBlocks{InBlocks: in}}
		if in == 0 {
			s.Activation = &txv1.ScheduleUpgrade_NextBlock{NextBlock: true}
		}
		b.Msg = &txv1.TxBody_ScheduleUpgrade{ScheduleUpgrade: s}
	})
}

// AddFullNode starts a node that is not a validator, with the given runtime versions
// installed, and syncs it from genesis through its peers.
func (net *Network) AddFullNode(t testing.TB, name string, versions map[uint64][]byte) *Node {
	t.Helper()
	ctx := context.Background()
	ports := FreePorts(t, 2)
	hn, err := home.InitNode(ctx, filepath.Join(net.Dir, name), home.NodeOptions{
		Moniker: name, Runtime: versions[1], App: AppConfig(),
		Config: func(c *cmtcfg.Config) {
			c.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports[0])
			c.RPC.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports[1])
			c.P2P.AllowDuplicateIP = true
			c.P2P.AddrBookStrict = false
			c.Consensus.PeerQueryMaj23SleepDuration = 200 * time.Millisecond
			c.Instrumentation.Prometheus = false
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := home.WriteGenesis(net.genesis, []*home.Node{hn}); err != nil {
		t.Fatal(err)
	}
	n := net.startNode(t, hn.Paths, name, joinPeers(net.peers))
	for v, wasm := range versions {
		if _, err := n.App.Runtimes.Install(ctx, v, wasm); err != nil {
			t.Fatal(err)
		}
	}
	net.Nodes = append(net.Nodes, n)
	return n
}

func joinPeers(p []string) string { return strings.Join(p, ",") }

// History returns node n's recorded switches.
func (n *Node) History(t testing.TB) []executor.HistoryEntry {
	h, err := n.App.Exec.History()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// AppVersionAt returns the version.app of the header at height h on node n.
func (n *Node) AppVersionAt(t testing.TB, h int64) uint64 {
	m := n.Comet.BlockStore().LoadBlockMeta(h)
	if m == nil {
		t.Fatalf("%s: no block %d", n.Name, h)
	}
	return m.Header.Version.App
}
