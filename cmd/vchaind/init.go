package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/spf13/cobra"

	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/keyring"
)

// findRuntime locates the runtime v1 module when --runtime is not given: beside the
// binary (make puts both under build/), then under ./build/contracts.
func findRuntime() (string, error) {
	var tried []string
	if exe, err := os.Executable(); err == nil {
		tried = append(tried, filepath.Join(filepath.Dir(exe), "contracts", "v1.wasm"))
	}
	tried = append(tried, filepath.Join("build", "contracts", "v1.wasm"))
	for _, p := range tried {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("runtime v1 module not found (looked in %v): build it with `make contracts` or pass --runtime FILE", tried)
}

// readRuntime reads the runtime v1 module at *path, or finds it when *path is empty (and
// sets *path to where it was found).
func readRuntime(path *string) ([]byte, error) {
	if *path == "" {
		var err error
		if *path, err = findRuntime(); err != nil {
			return nil, err
		}
	}
	wasm, err := os.ReadFile(*path)
	if err != nil {
		return nil, fmt.Errorf("read runtime module: %w", err)
	}
	return wasm, nil
}

func newInitCmd(g *globals) *cobra.Command {
	var chainID, moniker, runtimePath, p2pAddr, rpcAddr string
	var force bool
	var ss stateSyncOptions
	cmd := &cobra.Command{
		Use:         "init --chain-id ID | --state-sync RPC1,RPC2",
		Annotations: offline,
		Short:       "Create a single-validator chain in --home, or a home that joins a running chain by state sync",
		Long: `Create a node home with CometBFT config, node and validator keys, a keyring holding the
"admin" key and this validator's "operator" key, the runtime v1 module installed, and a
genesis naming the admin, the install threshold (2/3 of voting power) and runtime v1 with
its sha256.

The node listens on loopback only (p2p 127.0.0.1:26656, RPC 127.0.0.1:26657): a local
chain opens no port to the network. For a node other machines connect to, listen on all
interfaces, e.g. --p2p.laddr tcp://0.0.0.0:26656 (and --rpc.laddr tcp://0.0.0.0:26657 for
remote clients); both are written to config/config.toml, which 'vchaind start' reads and
its flags of the same name override. Client commands given this --home dial its RPC
address without --node. ('vchaind testnet init --hosts' and '--docker' homes listen on all
interfaces: they are made for a network.)

The keys are encrypted with a passphrase (keyring backend file, the default; asked on the
terminal, or from VCHAIN_KEYRING_PASSPHRASE or --keyring-passphrase-file). A local chain
for development may use --keyring-backend test (plain files, as 'make run' does). The
backend is written to config/client.toml, which the client commands of this home follow.

Refuses to touch an existing home unless --force, which wipes it (config, data, runtime and
keyring) and starts a new chain.` + stateSyncLong,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(ss.rpcs) > 0 {
				ss.chainID, ss.moniker, ss.p2pAddr, ss.rpcAddr, ss.force = chainID, moniker, p2pAddr, rpcAddr, force
				return initStateSync(cmd, g, ss)
			}
			if chainID == "" {
				return errors.New("--chain-id is required (or --state-sync to join a running chain)")
			}
			wasm, err := readRuntime(&runtimePath)
			if err != nil {
				return err
			}
			for _, a := range []struct{ flag, addr string }{{"--p2p.laddr", p2pAddr}, {"--rpc.laddr", rpcAddr}} {
				if _, err := home.DialAddress(a.addr); err != nil {
					return fmt.Errorf("%s: %w", a.flag, err)
				}
			}
			ko, err := g.keyringOptions(cmd, false)
			if err != nil {
				return err
			}
			if ko.Backend == keyring.File {
				// Asked before anything is written: a missing passphrase leaves no half-made home.
				if _, err := ko.Passphrase.New("the admin and operator keys"); err != nil {
					return err
				}
			}
			n, err := home.InitNode(cmd.Context(), g.home, home.NodeOptions{
				Moniker: moniker, Runtime: wasm, Force: force, Keyring: ko,
				Config: func(c *cmtcfg.Config) { c.P2P.ListenAddress, c.RPC.ListenAddress = p2pAddr, rpcAddr },
			})
			if err != nil {
				return err
			}
			kr, err := keyring.New(n.Paths.Keyring(), ko)
			if err != nil {
				return err
			}
			admin, err := kr.Add(home.AdminKey)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(wasm)
			doc, err := home.BuildGenesis([]*home.Node{n}, home.GenesisOptions{
				ChainID: chainID, Admins: []string{admin.Address.String()}, RuntimeSHA256: hex.EncodeToString(sum[:]),
			})
			if err != nil {
				return err
			}
			if err := home.WriteGenesis(doc, []*home.Node{n}); err != nil {
				return err
			}
			out := map[string]any{
				"home": g.home, "chain_id": chainID, "moniker": n.Moniker, "node_id": n.NodeID,
				"validator": n.Validator.Address.String(), "admin": admin.Address.String(),
				"operator": n.Operator.Address.String(), "runtime_version": 1, "runtime_sha256": hex.EncodeToString(sum[:]),
				"p2p_laddr": p2pAddr, "rpc_laddr": rpcAddr, "keyring_backend": string(kr.Backend()),
			}
			return newPrinter(cmd.OutOrStdout(), g).print(out,
				field{"initialised", g.home},
				field{"chain id", chainID},
				field{"node id", n.NodeID},
				field{"validator", n.Validator.Address},
				field{"admin key", admin.Address.String() + " (keyring: admin)"},
				field{"operator key", n.Operator.Address.String() + " (keyring: operator)"},
				field{"keyring", string(kr.Backend()) + " (" + n.Paths.Keyring() + ")"},
				field{"runtime v1", hex.EncodeToString(sum[:]) + " (" + runtimePath + ")"},
				field{"listens on", "p2p " + p2pAddr + ", rpc " + rpcAddr},
				field{"next", "vchaind start --home " + g.home},
			)
		},
	}
	cmd.Flags().StringVar(&chainID, "chain-id", "", "chain id (required, unless --state-sync: then checked against the fetched genesis)")
	cmd.Flags().StringVar(&moniker, "moniker", "vchain-node", "node name")
	cmd.Flags().StringVar(&runtimePath, "runtime", "", "runtime v1 module (default: build/contracts/v1.wasm beside the binary or in the current directory)")
	cmd.Flags().BoolVar(&force, "force", false, "wipe an existing home and start a new chain")
	cmd.Flags().StringVar(&p2pAddr, "p2p.laddr", home.LocalP2PAddress, "P2P listen address (tcp://0.0.0.0:26656 to accept peers from other machines)")
	cmd.Flags().StringVar(&rpcAddr, "rpc.laddr", home.LocalRPCAddress, "RPC listen address (tcp://0.0.0.0:26657 to serve clients on other machines)")
	cmd.Flags().StringSliceVar(&ss.rpcs, "state-sync", nil, "join a running chain by state sync through these RPC servers (comma-separated host:port or URLs): genesis, trusted header and peers come from them")
	cmd.Flags().Int64Var(&ss.trustBack, "trust-back", 10, "with --state-sync: trust the header this many heights below the latest")
	addKeyringFlags(cmd, g)
	return cmd
}
