// Package localnet creates and runs multi-node vchain networks of real processes: one home
// per node under one directory, a shared genesis, distinct ports, peers wired, and a
// manifest (testnet.json) that the start, stop and status commands, the demo, the
// end-to-end tests and docker-compose all read.
package localnet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/keyring"
	"github.com/vchain/vchain/internal/node"
)

// ManifestFile is the name of the manifest in a testnet directory.
const ManifestFile = "testnet.json"

// Node is one node of a testnet.
type Node struct {
	Name      string `json:"name"`
	Home      string `json:"home"` // relative to the testnet directory
	Validator bool   `json:"validator"`
	NodeID    string `json:"node_id"`
	Host      string `json:"host"` // how peers reach it: 127.0.0.1, or a docker service name
	P2P       int    `json:"p2p_port"`
	RPC       int    `json:"rpc_port"`
	ABCI      int    `json:"abci_port"`
	Metrics   int    `json:"metrics_port"`
	// Console is the read-only web console's port (see ConsoleURL).
	Console  int    `json:"console_port,omitempty"`
	Operator string `json:"operator,omitempty"`
}

// RPCAddr is the node's RPC address as seen from this machine.
func (n Node) RPCAddr() string { return fmt.Sprintf("tcp://127.0.0.1:%d", n.RPC) }

// ConsoleURL is the node's web console as seen from this machine ("" when it has none).
func (n Node) ConsoleURL() string {
	if n.Console == 0 {
		return ""
	}
	return fmt.Sprintf("http://127.0.0.1:%d/", n.Console)
}

// Manifest describes a testnet.
type Manifest struct {
	ChainID string `json:"chain_id"`
	// Admin is the admin address; its key is in the keyring of AdminHome.
	Admin     string `json:"admin"`
	AdminHome string `json:"admin_home"`
	Docker    bool   `json:"docker"`
	Nodes     []Node `json:"nodes"`

	dir string
}

// Dir returns the testnet directory.
func (m *Manifest) Dir() string { return m.dir }

// HomeOf returns the absolute home directory of n.
func (m *Manifest) HomeOf(n Node) string { return filepath.Join(m.dir, n.Home) }

// Validators returns the validator nodes.
func (m *Manifest) Validators() []Node {
	var out []Node
	for _, n := range m.Nodes {
		if n.Validator {
			out = append(out, n)
		}
	}
	return out
}

// Node returns the node called name.
func (m *Manifest) Node(name string) (Node, bool) {
	for _, n := range m.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// Options configure Init.
type Options struct {
	Validators int
	FullNodes  int
	ChainID    string
	// Runtime is the v1 module.
	Runtime []byte
	// BasePort: node i uses BasePort+10*i for p2p, +1 RPC, +2 ABCI, +3 metrics, +4 console.
	BasePort int
	// Ports, if set, gives PortsPerNode ports per node instead (p2p, rpc, abci, metrics,
	// console).
	Ports []int
	// TimeoutCommit is CometBFT's wait after a commit (default 1s, CometBFT's own).
	TimeoutCommit time.Duration
	// Hosts, one per node, spreads the network over machines: each node listens on all
	// interfaces and its peers reach it at its host. Without Hosts, everything is on
	// 127.0.0.1.
	Hosts []string
	// Docker lays the network out for docker-compose: Hosts are the service names
	// (node0, node1...).
	Docker bool
	// RuntimeCacheDir, if set, is shared by every node's compiled runtime code.
	RuntimeCacheDir string
	// SnapshotInterval is every node's app.toml snapshot.interval: a state sync snapshot
	// every this many heights (0: none).
	SnapshotInterval int64
	// Progress, if set, receives one line per step.
	Progress func(string)
	// Tune, if set, adjusts each node's CometBFT config last (benchmarks use it to give
	// a reference network the identical settings).
	Tune func(*cmtcfg.Config)
	// ContractState, if set, is the genesis's app_state.contract_state.
	ContractState map[string]map[string]string
}

// PortsPerNode is how many ports each node of a testnet listens on.
const PortsPerNode = 5

// Init creates a testnet in dir, which must not exist or be empty.
func Init(ctx context.Context, dir string, o Options) (*Manifest, error) {
	if o.Validators < 1 {
		return nil, fmt.Errorf("--validators must be at least 1")
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%s is not empty: remove it or choose another --output", dir)
	}
	if o.ChainID == "" {
		o.ChainID = "vchain-testnet"
	}
	if o.BasePort == 0 {
		o.BasePort = 26600
	}
	total := o.Validators + o.FullNodes
	if o.Docker && o.Hosts == nil {
		for i := 0; i < total; i++ {
			o.Hosts = append(o.Hosts, fmt.Sprintf("node%d", i))
		}
	}
	if o.Hosts != nil && len(o.Hosts) != total {
		return nil, fmt.Errorf("%d hosts given for %d nodes: give one per node", len(o.Hosts), total)
	}
	if o.Ports != nil && len(o.Ports) < PortsPerNode*total {
		return nil, fmt.Errorf("%d ports given for %d nodes, want %d each", len(o.Ports), total, PortsPerNode)
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	m := &Manifest{ChainID: o.ChainID, Docker: o.Docker, dir: abs}
	var homes []*home.Node
	for i := 0; i < total; i++ {
		n := Node{Name: fmt.Sprintf("node%d", i), Home: fmt.Sprintf("node%d", i), Validator: i < o.Validators, Host: "127.0.0.1"}
		if o.Ports != nil {
			p := o.Ports[PortsPerNode*i:]
			n.P2P, n.RPC, n.ABCI, n.Metrics, n.Console = p[0], p[1], p[2], p[3], p[4]
		} else {
			b := o.BasePort + 10*i
			n.P2P, n.RPC, n.ABCI, n.Metrics, n.Console = b, b+1, b+2, b+3, b+4
		}
		listen := "127.0.0.1"
		if o.Hosts != nil {
			n.Host, listen = o.Hosts[i], "0.0.0.0"
		}
		app := home.DefaultAppConfig()
		app.ABCIAddress = fmt.Sprintf("tcp://%s:%d", listen, n.ABCI)
		app.RuntimeCacheDir = o.RuntimeCacheDir
		app.Snapshot.Interval = o.SnapshotInterval
		// The console stays on loopback even when the node listens on all interfaces,
		// except in a container, where only that makes the published port reach it
		// (docker-compose.yml publishes it on the host's loopback only).
		consoleHost := "127.0.0.1"
		if o.Docker {
			consoleHost = "0.0.0.0"
		}
		app.Console.Laddr = fmt.Sprintf("%s:%d", consoleHost, n.Console)
		kind := "validator"
		if !n.Validator {
			kind = "full node"
		}
		progress(fmt.Sprintf("%s (%s): p2p %d, rpc %d, abci %d, metrics %d, console %d", n.Name, kind, n.P2P, n.RPC, n.ABCI, n.Metrics, n.Console))
		hn, err := home.InitNode(ctx, filepath.Join(abs, n.Home), home.NodeOptions{
			Moniker: n.Name, Runtime: o.Runtime, App: app,
			Config: func(c *cmtcfg.Config) {
				c.P2P.ListenAddress = fmt.Sprintf("tcp://%s:%d", listen, n.P2P)
				c.RPC.ListenAddress = fmt.Sprintf("tcp://%s:%d", listen, n.RPC)
				c.ProxyApp = app.ABCIAddress
				c.Instrumentation.Prometheus = true
				c.Instrumentation.PrometheusListenAddr = fmt.Sprintf("%s:%d", listen, n.Metrics)
				c.P2P.AllowDuplicateIP = true
				c.P2P.AddrBookStrict = false
				if o.TimeoutCommit > 0 {
					c.Consensus.TimeoutCommit = o.TimeoutCommit
				}
				if o.Tune != nil {
					o.Tune(c)
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		n.NodeID, n.Operator = hn.NodeID, hn.Operator.Address.String()
		m.Nodes = append(m.Nodes, n)
		homes = append(homes, hn)
	}
	admin, err := keyring.Open(homes[0].Paths.Keyring()).Add(home.AdminKey)
	if err != nil {
		return nil, err
	}
	m.Admin, m.AdminHome = admin.Address.String(), m.Nodes[0].Home
	sum := sha256.Sum256(o.Runtime)
	doc, err := home.BuildGenesis(homes[:o.Validators], home.GenesisOptions{
		ChainID: o.ChainID, Admins: []string{admin.Address.String()}, RuntimeSHA256: hex.EncodeToString(sum[:]),
		ContractState: o.ContractState,
	})
	if err != nil {
		return nil, err
	}
	if err := home.WriteGenesis(doc, homes); err != nil {
		return nil, err
	}
	for i, n := range m.Nodes {
		var peers []string
		for j, p := range m.Nodes {
			if j != i {
				peers = append(peers, fmt.Sprintf("%s@%s:%d", p.NodeID, p.Host, p.P2P))
			}
		}
		if err := setPeers(m.HomeOf(n), strings.Join(peers, ",")); err != nil {
			return nil, err
		}
	}
	if err := m.save(); err != nil {
		return nil, err
	}
	progress(fmt.Sprintf("genesis: chain %s, %d validators, admin %s (keyring of %s), runtime v1 %x", o.ChainID, o.Validators, m.Admin, m.AdminHome, sum))
	return m, nil
}

// setPeers rewrites a home's config.toml with its persistent peers.
func setPeers(root, peers string) error {
	cfg, err := node.LoadCometConfig(root, nil)
	if err != nil {
		return err
	}
	cfg.P2P.PersistentPeers = peers
	cmtcfg.WriteConfigFile(filepath.Join(root, "config", "config.toml"), cfg)
	return nil
}

func (m *Manifest) save() error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(m.dir, ManifestFile), append(b, '\n'), 0o644)
}

// NewManifest describes nodes whose homes are under dir, without writing anything (for
// networks made by other tools, such as CometBFT's own testnet command).
func NewManifest(dir string, nodes []Node) *Manifest {
	abs, _ := filepath.Abs(dir)
	return &Manifest{Nodes: nodes, dir: abs}
}

// Load reads the manifest of the testnet in dir.
func Load(dir string) (*Manifest, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(abs, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("%s is not a testnet (create one with `vchaind testnet init --output %s`): %w", dir, dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	m.dir = abs
	return &m, nil
}
