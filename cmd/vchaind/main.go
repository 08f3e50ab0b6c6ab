// Command vchaind is the vchain node, client, operator and admin tool in one binary.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code past cobra (e.g. a committed transaction that failed).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	root := newRootCmd()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

func defaultHome() string {
	if h := os.Getenv("VCHAIN_HOME"); h != "" {
		return h
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".vchain")
	}
	return ".vchain"
}

// globals are the flags every command shares.
type globals struct {
	home   string
	node   string
	output string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "vchaind",
		Short: "vchain: a permissioned chain whose contract runtime is upgraded on chain, at a block height, without stopping",
		Long: `vchaind runs a vchain node (CometBFT with the vchain app in one process) and is the
client, operator and admin tool for it.

Start a single-node chain:
  vchaind init --home ~/.vchain --chain-id local
  vchaind start --home ~/.vchain

Then, from another terminal:
  vchaind tx call kv set '{"key":"a","value":"1"}' --from admin --home ~/.vchain
  vchaind query state kv a`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.home, "home", defaultHome(), "node home directory (env VCHAIN_HOME)")
	pf.StringVar(&g.node, "node", "tcp://127.0.0.1:26657", "CometBFT RPC address of the node to talk to")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if g.output != "text" && g.output != "json" {
			return fmt.Errorf("--output %q: use text or json", g.output)
		}
		return nil
	}
	root.AddCommand(
		newInitCmd(g),
		newStartCmd(g),
		newKeysCmd(g),
		newTxCmd(g),
		newQueryCmd(g),
		newRuntimeCmd(g),
		newUpgradeCmd(g),
		newTestnetCmd(g),
		newLoadCmd(g),
		newVersionCmd(g),
	)
	return root
}
