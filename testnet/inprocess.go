// Package testnet runs vchain networks on 127.0.0.1 for end-to-end tests: here, networks
// of in-process nodes (each a full CometBFT node with its own vchain app, store and
// runtime directory, talking over real loopback TCP).
package testnet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/proxy"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/vchain/vchain/abci"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/keyring"
	"github.com/vchain/vchain/internal/localnet"
	"github.com/vchain/vchain/internal/node"
	"github.com/vchain/vchain/internal/testwasm"
)

// Options configure an in-process network.
type Options struct {
	Validators int
	// TimeoutCommit is CometBFT's pause after each commit (default 200ms: fast tests).
	TimeoutCommit time.Duration
	// Runtime is the contracts/ folder built as runtime v1 (default "v1").
	Runtime string
	// ABCI, if set, returns the application CometBFT of node i (in start order) talks to,
	// given the node's own: a test wraps it to make one node misbehave.
	ABCI func(i int, app *abci.App) abcitypes.Application
	// InitialHeight is the genesis's initial_height, the first block's height (default 1).
	InitialHeight int64
}

// Network is a running in-process network.
type Network struct {
	ChainID string
	Dir     string
	Admin   *keyring.Key
	Nodes   []*Node

	peers   []string
	genesis *cmttypes.GenesisDoc
	abci    func(i int, app *abci.App) abcitypes.Application
}

// Node is one running node.
type Node struct {
	Name   string
	Home   home.Paths
	App    *node.App
	Comet  *nm.Node
	RPC    string
	Client *client.Client
}

// AppConfig is the app config of test nodes: defaults, with compiled runtime code shared
// by every node and test of the machine.
func AppConfig() home.AppConfig {
	c := home.DefaultAppConfig()
	c.RuntimeCacheDir = testwasm.CacheDir()
	return c
}

// FreePorts returns n distinct free TCP ports on 127.0.0.1.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// Start builds and starts a network; it is stopped when the test ends.
func Start(t testing.TB, o Options) *Network {
	t.Helper()
	if o.Validators == 0 {
		o.Validators = 4
	}
	if o.TimeoutCommit == 0 {
		o.TimeoutCommit = 200 * time.Millisecond
	}
	if o.Runtime == "" {
		o.Runtime = "v1"
	}
	ctx := context.Background()
	wasm := testwasm.Module(t, o.Runtime)
	net := &Network{ChainID: "testnet-" + strings.ToLower(t.Name()), Dir: t.TempDir(), abci: o.ABCI}
	if len(net.ChainID) > 50 {
		net.ChainID = net.ChainID[:50]
	}
	ports := FreePorts(t, 2*o.Validators)
	var homes []*home.Node
	for i := 0; i < o.Validators; i++ {
		p2pPort, rpcPort := ports[2*i], ports[2*i+1]
		hn, err := home.InitNode(ctx, filepath.Join(net.Dir, fmt.Sprintf("node%d", i)), home.NodeOptions{
			Moniker: fmt.Sprintf("node%d", i),
			Runtime: wasm,
			App:     AppConfig(),
			Config: func(c *cmtcfg.Config) {
				c.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", p2pPort)
				c.RPC.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", rpcPort)
				c.P2P.AllowDuplicateIP = true
				c.P2P.AddrBookStrict = false
				c.Consensus.TimeoutCommit = o.TimeoutCommit
				c.Consensus.TimeoutPropose = time.Second
				c.Consensus.PeerQueryMaj23SleepDuration = 200 * time.Millisecond // shortens node.Stop
				c.Instrumentation.Prometheus = false
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		homes = append(homes, hn)
	}
	admin, err := keyring.Open(homes[0].Paths.Keyring()).Add(home.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	net.Admin = admin
	sum := sha256.Sum256(wasm)
	doc, err := home.BuildGenesis(homes, home.GenesisOptions{
		ChainID: net.ChainID, Admins: []string{admin.Address.String()}, RuntimeSHA256: hex.EncodeToString(sum[:]),
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.InitialHeight != 0 {
		doc.InitialHeight = o.InitialHeight
	}
	if err := home.WriteGenesis(doc, homes); err != nil {
		t.Fatal(err)
	}
	for i, hn := range homes {
		net.peers = append(net.peers, fmt.Sprintf("%s@127.0.0.1:%d", hn.NodeID, ports[2*i]))
	}
	for i, hn := range homes {
		n := net.startNode(t, hn.Paths, hn.Moniker, strings.Join(append(append([]string{}, net.peers[:i]...), net.peers[i+1:]...), ","))
		net.Nodes = append(net.Nodes, n)
	}
	net.genesis = doc
	t.Cleanup(net.Stop)
	return net
}

func (net *Network) startNode(t testing.TB, p home.Paths, name, peers string) *Node {
	t.Helper()
	ctx := context.Background()
	cfg, err := node.LoadCometConfig(p.Root, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.P2P.PersistentPeers = peers
	logger := cmtlog.NewFilter(cmtlog.NewTMLogger(cmtlog.NewSyncWriter(testWriter{t, name})), cmtlog.AllowError())
	app, err := node.OpenApp(ctx, p, AppConfig(), logger)
	if err != nil {
		t.Fatal(err)
	}
	app.Exec.SetMempoolLimit(cfg.Mempool.Size)
	var comet *nm.Node
	if net.abci != nil {
		comet, err = node.NewCometWithClient(cfg, proxy.NewConnSyncLocalClientCreator(net.abci(len(net.Nodes), app.ABCI)), logger)
	} else {
		comet, err = node.NewComet(cfg, app, logger)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := comet.Start(); err != nil {
		t.Fatal(err)
	}
	rpc := cfg.RPC.ListenAddress
	c, err := client.New(rpc)
	if err != nil {
		t.Fatal(err)
	}
	return &Node{Name: name, Home: p, App: app, Comet: comet, RPC: rpc, Client: c}
}

// Clients returns each node's RPC client.
func (net *Network) Clients() []*client.Client {
	var cs []*client.Client
	for _, n := range net.Nodes {
		cs = append(cs, n.Client)
	}
	return cs
}

// Stop stops every node (a paused one gives up its block first).
func (net *Network) Stop() {
	for _, n := range net.Nodes {
		n.App.Exec.Shutdown()
	}
	for _, n := range net.Nodes {
		node.Stop(n.Comet, cmtlog.NewNopLogger())
		_ = n.App.Close(context.Background())
	}
	net.Nodes = nil
}

// WaitHeight waits until every node has committed height h.
func (net *Network) WaitHeight(t testing.TB, h int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, n := range net.Nodes {
		for n.App.Exec.Height() < h {
			if time.Now().After(deadline) {
				t.Fatalf("%s at height %d after %s, want %d", n.Name, n.App.Exec.Height(), timeout, h)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// CheckConsistency checks that every node computed the same chain (see
// localnet.SameResults: each node's own results at every height, read through its RPC from
// its state store, and its app's committed app hash), every one of them up to the highest
// height one has reached, and returns that height.
func (net *Network) CheckConsistency(t testing.TB) int64 {
	t.Helper()
	top, err := net.Consistency(localnet.CatchUpWait)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// Consistency is CheckConsistency returning its finding as an error, waiting up to wait
// for a node that is behind.
func (net *Network) Consistency(wait time.Duration) (int64, error) {
	var peers []localnet.Peer
	for _, n := range net.Nodes {
		peers = append(peers, localnet.Peer{Name: n.Name, Client: n.Client})
	}
	return localnet.SameResults(context.Background(), peers, wait)
}

// testWriter sends a node's log lines to the test log.
type testWriter struct {
	t    testing.TB
	name string
}

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
