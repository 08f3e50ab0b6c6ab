package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"

	"github.com/vchain/vchain/internal/localnet"
	"github.com/vchain/vchain/internal/node"
)

// kvNet is a 4-validator network of CometBFT's own binary running its built-in kvstore,
// laid out with the same ports scheme and consensus settings as a vchain testnet.
type kvNet struct {
	dir   string
	nodes []localnet.Node
	m     *localnet.Manifest // for process control: homes are dir/nodeI
}

// newKVNet runs `cometbft testnet` and gives every node its own ports (the tool gives them
// all the same RPC port) and the consensus settings of tune.
func newKVNet(cometbft, dir string, validators, fullNodes, basePort int, tune func(*cmtcfg.Config)) (*kvNet, error) {
	out, err := exec.Command(cometbft, "testnet", "--v", fmt.Sprint(validators), "--n", fmt.Sprint(fullNodes), "--o", dir,
		"--starting-ip-address", "127.0.0.1").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("cometbft testnet: %v\n%s", err, out)
	}
	k := &kvNet{dir: dir}
	var ids []string
	for i := 0; i < validators+fullNodes; i++ {
		home := filepath.Join(dir, fmt.Sprintf("node%d", i))
		nk, err := p2p.LoadNodeKey(filepath.Join(home, "config", "node_key.json"))
		if err != nil {
			return nil, err
		}
		b := basePort + 10*i
		k.nodes = append(k.nodes, localnet.Node{Name: fmt.Sprintf("kv%d", i), Home: fmt.Sprintf("node%d", i), Validator: i < validators,
			NodeID: string(nk.ID()), Host: "127.0.0.1", P2P: b, RPC: b + 1, ABCI: b + 2, Metrics: b + 3})
		ids = append(ids, fmt.Sprintf("%s@127.0.0.1:%d", nk.ID(), b))
	}
	for i, n := range k.nodes {
		home := filepath.Join(dir, n.Home)
		cfg, err := node.LoadCometConfig(home, nil)
		if err != nil {
			return nil, err
		}
		cfg.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", n.P2P)
		cfg.RPC.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", n.RPC)
		cfg.ProxyApp = "kvstore"
		cfg.Instrumentation.Prometheus = false
		cfg.P2P.AllowDuplicateIP, cfg.P2P.AddrBookStrict = true, false
		cfg.P2P.PersistentPeers = strings.Join(append(append([]string{}, ids[:i]...), ids[i+1:]...), ",")
		tune(cfg)
		cmtcfg.WriteConfigFile(filepath.Join(home, "config", "config.toml"), cfg)
	}
	k.m = localnet.NewManifest(dir, k.nodes)
	return k, nil
}

// start runs `cometbft start` for each of nodes.
func (k *kvNet) start(ctx context.Context, cometbft string, nodes []localnet.Node) ([]int, error) {
	var pids []int
	for _, n := range nodes {
		pid, err := k.m.StartCommand(n, cometbft, "start", "--home", k.m.HomeOf(n), "--proxy_app", "kvstore")
		if err != nil {
			return nil, err
		}
		pids = append(pids, pid)
	}
	for _, n := range nodes {
		if err := k.m.WaitRPC(ctx, n, 60*time.Second); err != nil {
			return nil, err
		}
	}
	return pids, nil
}

func (k *kvNet) stop() {
	for _, n := range k.nodes {
		_ = k.m.StopNode(n, 15*time.Second)
	}
}
