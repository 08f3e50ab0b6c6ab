// Command vchaind is the vchain node, client, operator and admin tool in one binary.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vchain/vchain/internal/home"
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
	keys   keyringFlags
}

// offline marks a command (and its subcommands) that never dials a node, so a home whose
// config.toml cannot be read does not stop it (init --force is how one repairs a home).
var offline = map[string]string{"offline": "true"}

// resolveNode sets g.node, when --node is not given, to the RPC address of the node of
// --home: a client command run with a node's home talks to that node, whatever port it
// listens on, instead of to whatever answers on the default port (an install then went
// unattested and unnoticed). An explicit --node always wins.
func (g *globals) resolveNode(cmd *cobra.Command) error {
	if f := cmd.Flags().Lookup("node"); f != nil && f.Changed {
		if g.node == "" {
			return errors.New("--node is empty: give an RPC address such as " + home.LocalRPCAddress)
		}
		return nil
	}
	g.node = home.LocalRPCAddress
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations["offline"] != "" {
			return nil
		}
	}
	addr, ok, err := home.Paths{Root: g.home}.RPCAddress()
	if err != nil {
		return fmt.Errorf("the node of --home %s: %w (fix it, or pass --node)", g.home, err)
	}
	if ok {
		g.node = addr
	}
	return nil
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
  vchaind query state kv a

Client commands talk to the node whose RPC address is in --home's config/config.toml
(--node overrides it).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.home, "home", defaultHome(), "node home directory (env VCHAIN_HOME)")
	pf.StringVar(&g.node, "node", "", "CometBFT RPC address of the node to talk to (default: rpc.laddr of --home's config/config.toml, "+
		"with 0.0.0.0 dialed as 127.0.0.1; "+home.LocalRPCAddress+" for a home without one)")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if g.output != "text" && g.output != "json" {
			return fmt.Errorf("--output %q: use text or json", g.output)
		}
		return g.resolveNode(cmd)
	}
	root.AddCommand(
		newInitCmd(g),
		newStartCmd(g),
		newKeysCmd(g),
		newTxCmd(g),
		newQueryCmd(g),
		newRuntimeCmd(g),
		newUpgradeCmd(g),
		newValidatorCmd(g),
		newAdminCmd(g),
		newTestnetCmd(g),
		newLoadCmd(g),
		newVersionCmd(g),
	)
	return root
}
