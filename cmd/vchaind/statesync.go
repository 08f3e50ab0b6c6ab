package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/spf13/cobra"

	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/keyring"
)

// stateSyncOptions are init's flags for a node joining a running chain by state sync.
type stateSyncOptions struct {
	rpcs      []string
	trustBack int64
	chainID   string
	moniker   string
	p2pAddr   string
	rpcAddr   string
	force     bool
}

const stateSyncLong = `

With --state-sync RPC1,RPC2 the home is made for a node joining a running chain instead
(no genesis is written from scratch and no runtime module is needed):
  - the chain's genesis is fetched from RPC1 (/genesis);
  - config.toml gets [statesync] enable = true, rpc_servers (the light client's primary and
    witness; a single server is used as both), trust_height and trust_hash from a header
    --trust-back heights below RPC1's latest (/commit), and the default trust_period;
  - p2p.persistent_peers names each RPC server's node (its /status node id and p2p address);
    when all are on 127.0.0.1 (a testnet on this machine), p2p.allow_duplicate_ip is set.
Then 'vchaind start --home H' finds a snapshot among its peers, checks it against the app
hash of a header its light client verified, installs the runtime modules the snapshot
carries (each checked against the sha256 the restored state records) and follows the chain
from there. The RPC servers' nodes must take snapshots (app.toml [snapshot] interval;
'vchaind testnet init' turns it on).

  vchaind init --home ~/.vchain-join --state-sync http://10.0.0.1:26657,http://10.0.0.2:26657
  vchaind start --home ~/.vchain-join`

// initStateSync writes the home of a node joining by state sync.
func initStateSync(cmd *cobra.Command, g *globals, o stateSyncOptions) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	var rpcs []string
	for _, r := range o.rpcs {
		if r = strings.TrimSpace(r); r != "" {
			if !strings.Contains(r, "://") {
				r = "http://" + r
			}
			rpcs = append(rpcs, r)
		}
	}
	if len(rpcs) == 0 {
		return errors.New("--state-sync: give at least one RPC address (host:port or http://host:port)")
	}
	if o.trustBack < 0 {
		return errors.New("--trust-back must be 0 or more")
	}
	for _, a := range []struct{ flag, addr string }{{"--p2p.laddr", o.p2pAddr}, {"--rpc.laddr", o.rpcAddr}} {
		if _, err := home.DialAddress(a.addr); err != nil {
			return fmt.Errorf("%s: %w", a.flag, err)
		}
	}
	primary, err := rpchttp.New(rpcs[0], "/websocket")
	if err != nil {
		return fmt.Errorf("RPC %s: %w", rpcs[0], err)
	}
	gen, err := primary.Genesis(ctx)
	if err != nil {
		return fmt.Errorf("fetch the genesis from %s: %w", rpcs[0], err)
	}
	doc := gen.Genesis
	if o.chainID != "" && o.chainID != doc.ChainID {
		return fmt.Errorf("--chain-id %s, but %s serves chain %s", o.chainID, rpcs[0], doc.ChainID)
	}
	st, err := primary.Status(ctx)
	if err != nil {
		return fmt.Errorf("status of %s: %w", rpcs[0], err)
	}
	if st.NodeInfo.Network != doc.ChainID {
		return fmt.Errorf("%s serves genesis of %s but its node is on %s", rpcs[0], doc.ChainID, st.NodeInfo.Network)
	}
	trustHeight := max(st.SyncInfo.LatestBlockHeight-o.trustBack, max(doc.InitialHeight, 1))
	commit, err := primary.Commit(ctx, &trustHeight)
	if err != nil {
		return fmt.Errorf("header %d from %s: %w", trustHeight, rpcs[0], err)
	}
	trustHash := commit.SignedHeader.Hash()
	if trustHash == nil {
		return fmt.Errorf("%s returned no header at height %d", rpcs[0], trustHeight)
	}
	var peers []string
	local := true // every peer on this machine: a local test network
	for _, r := range rpcs {
		p, err := peerOf(ctx, r, doc.ChainID)
		if err != nil {
			return err
		}
		peers = append(peers, p)
		host, _, _ := net.SplitHostPort(p[strings.Index(p, "@")+1:])
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			local = false
		}
	}
	servers := rpcs
	if len(servers) == 1 { // CometBFT wants a primary and a witness
		servers = []string{rpcs[0], rpcs[0]}
	}

	ko, err := g.keyringOptions(cmd, false)
	if err != nil {
		return err
	}
	if ko.Backend == keyring.File {
		if _, err := ko.Passphrase.New("the operator key"); err != nil {
			return err
		}
	}
	n, err := home.InitNode(cmd.Context(), g.home, home.NodeOptions{
		Moniker: o.moniker, Force: o.force, Keyring: ko,
		Config: func(c *cmtcfg.Config) {
			c.P2P.ListenAddress, c.RPC.ListenAddress = o.p2pAddr, o.rpcAddr
			c.P2P.PersistentPeers = strings.Join(peers, ",")
			c.StateSync.Enable = true
			c.StateSync.RPCServers = servers
			c.StateSync.TrustHeight = trustHeight
			c.StateSync.TrustHash = trustHash.String()
			if local {
				// Peers on 127.0.0.1 (a testnet on this machine, as testnet init wires
				// it): CometBFT otherwise keeps one peer per IP and no loopback address.
				c.P2P.AllowDuplicateIP = true
				c.P2P.AddrBookStrict = false
			}
		},
	})
	if err != nil {
		return err
	}
	if err := home.WriteGenesis(doc, []*home.Node{n}); err != nil {
		return err
	}
	out := map[string]any{
		"home": g.home, "chain_id": doc.ChainID, "moniker": n.Moniker, "node_id": n.NodeID,
		"operator": n.Operator.Address.String(), "state_sync": true, "rpc_servers": servers,
		"trust_height": trustHeight, "trust_hash": trustHash.String(), "persistent_peers": peers,
		"p2p_laddr": o.p2pAddr, "rpc_laddr": o.rpcAddr,
	}
	return newPrinter(cmd.OutOrStdout(), g).print(out,
		field{"initialised", g.home + " (joins by state sync)"},
		field{"chain id", doc.ChainID + " (genesis from " + rpcs[0] + ")"},
		field{"node id", n.NodeID},
		field{"trusted header", fmt.Sprintf("%d %s", trustHeight, trustHash)},
		field{"light client", strings.Join(servers, ", ")},
		field{"peers", strings.Join(peers, ", ")},
		field{"listens on", "p2p " + o.p2pAddr + ", rpc " + o.rpcAddr},
		field{"next", "vchaind start --home " + g.home},
	)
}

// peerOf returns the id@host:port of the node behind an RPC address. A node listening on
// all interfaces reports 0.0.0.0: it is reached at the RPC address's host.
func peerOf(ctx context.Context, rpc, chainID string) (string, error) {
	c, err := rpchttp.New(rpc, "/websocket")
	if err != nil {
		return "", fmt.Errorf("RPC %s: %w", rpc, err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		return "", fmt.Errorf("status of %s: %w", rpc, err)
	}
	if st.NodeInfo.Network != chainID {
		return "", fmt.Errorf("%s is on chain %s, not %s", rpc, st.NodeInfo.Network, chainID)
	}
	la := st.NodeInfo.ListenAddr
	if !strings.Contains(la, "://") {
		la = "tcp://" + la
	}
	u, err := url.Parse(la)
	if err != nil {
		return "", fmt.Errorf("%s: p2p address %q: %w", rpc, st.NodeInfo.ListenAddr, err)
	}
	host, port := u.Hostname(), u.Port()
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		ru, err := url.Parse(rpc)
		if err != nil {
			return "", err
		}
		host = ru.Hostname()
	}
	return fmt.Sprintf("%s@%s", st.NodeInfo.ID(), net.JoinHostPort(host, port)), nil
}
