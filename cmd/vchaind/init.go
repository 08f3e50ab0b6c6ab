package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
	var chainID, moniker, runtimePath string
	var force bool
	cmd := &cobra.Command{
		Use:   "init --chain-id ID",
		Short: "Create a single-validator chain in --home",
		Long: `Create a node home with CometBFT config, node and validator keys, a keyring holding the
"admin" key and this validator's "operator" key, the runtime v1 module installed, and a
genesis naming the admin, the install threshold (2/3 of voting power) and runtime v1 with
its sha256.

Refuses to touch an existing home unless --force, which wipes it (config, data, runtime and
keyring) and starts a new chain.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if chainID == "" {
				return errors.New("--chain-id is required")
			}
			wasm, err := readRuntime(&runtimePath)
			if err != nil {
				return err
			}
			n, err := home.InitNode(cmd.Context(), g.home, home.NodeOptions{Moniker: moniker, Runtime: wasm, Force: force})
			if err != nil {
				return err
			}
			admin, err := keyring.Open(n.Paths.Keyring()).Add(home.AdminKey)
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
			}
			return newPrinter(cmd.OutOrStdout(), g).print(out,
				field{"initialised", g.home},
				field{"chain id", chainID},
				field{"node id", n.NodeID},
				field{"validator", n.Validator.Address},
				field{"admin key", admin.Address.String() + " (keyring: admin)"},
				field{"operator key", n.Operator.Address.String() + " (keyring: operator)"},
				field{"runtime v1", hex.EncodeToString(sum[:]) + " (" + runtimePath + ")"},
				field{"next", "vchaind start --home " + g.home},
			)
		},
	}
	cmd.Flags().StringVar(&chainID, "chain-id", "", "chain id (required)")
	cmd.Flags().StringVar(&moniker, "moniker", "vchain-node", "node name")
	cmd.Flags().StringVar(&runtimePath, "runtime", "", "runtime v1 module (default: build/contracts/v1.wasm beside the binary or in the current directory)")
	cmd.Flags().BoolVar(&force, "force", false, "wipe an existing home and start a new chain")
	return cmd
}
