package testnet

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/vchain/vchain/app/executor"
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
		b.Msg = &txv1.TxBody_RegisterRelease{RegisterRelease: &txv1.RegisterRelease{Version: version, CodeSha256: sum[:]}}
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

// Load sends kv.set calls from several senders through every node until stopped, and
// remembers what it sent.
type Load struct {
	net  *Network
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	sent []sentTx
	errs []error
}

type sentTx struct {
	hash []byte
	node *Node
}

// StartLoad starts senders goroutines, each sending one call every interval through its
// own node (sender i uses node i mod n).
func (net *Network) StartLoad(t testing.TB, senders int, interval time.Duration) *Load {
	l := &Load{net: net, stop: make(chan struct{})}
	kr := keyring.Open(t.TempDir())
	nodes := append([]*Node{}, net.Nodes...)
	for s := 0; s < senders; s++ {
		key, err := kr.Add(fmt.Sprintf("load%d", s))
		if err != nil {
			t.Fatal(err)
		}
		l.wg.Add(1)
		go func(s int) {
			defer l.wg.Done()
			nonce := uint64(0) // last nonce the node accepted from this sender
			for i := 1; ; i++ {
				select {
				case <-l.stop:
					return
				case <-time.After(interval):
				}
				// A sender sticks to one node: its mempool counts the sender's pending
				// nonces, and another node may not have seen them yet (a gap).
				n := nodes[s%len(nodes)]
				if n.App.Exec.Paused() != nil {
					continue // a paused node's mempool is not the one to use
				}
				raw, _, err := n.Client.SignCall(context.Background(), key, client.CallTx{
					ChainID: net.ChainID, Contract: "kv", Method: "set", GasLimit: 5_000_000, Nonce: nonce + 1,
					Args: []byte(fmt.Sprintf(`{"key":"load%d-%d","value":"%d"}`, s, i, i)),
				})
				if err == nil {
					var h []byte
					if h, err = n.Client.Broadcast(context.Background(), raw); err == nil {
						nonce++
						l.mu.Lock()
						l.sent = append(l.sent, sentTx{hash: h, node: n})
						l.mu.Unlock()
						continue
					}
				}
				l.mu.Lock()
				l.errs = append(l.errs, err)
				l.mu.Unlock()
			}
		}(s)
	}
	return l
}

// StopAndCheck stops the load, waits for every transaction and checks that each one is
// committed successfully and that its runtime_version is the version the on-chain history
// says was effective at its height. It returns the number of transactions checked.
func (l *Load) StopAndCheck(t testing.TB) int {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	if len(l.errs) > 0 {
		t.Fatalf("load: %d broadcasts failed, first: %v", len(l.errs), l.errs[0])
	}
	hist, err := l.net.Nodes[0].App.Exec.History()
	if err != nil {
		t.Fatal(err)
	}
	versionAt := func(h int64) string {
		v := uint64(0)
		for _, e := range hist {
			if e.Height <= h {
				v = e.Version
			}
		}
		return strconv.FormatUint(v, 10)
	}
	for _, s := range l.sent {
		res, err := l.net.Nodes[0].Client.WaitTx(context.Background(), s.hash, 60*time.Second)
		if err != nil {
			t.Fatalf("load tx %X (sent to %s) never committed: %v", s.hash, s.node.Name, err)
		}
		if res.TxResult.Code != 0 {
			t.Fatalf("load tx %X failed at %d: %s", s.hash, res.Height, res.TxResult.Log)
		}
		if got, want := client.RuntimeVersion(&res.TxResult), versionAt(res.Height); got != want {
			t.Fatalf("tx at height %d executed by runtime %s; the history says %s", res.Height, got, want)
		}
	}
	return len(l.sent)
}

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
