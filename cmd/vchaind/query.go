package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/keyring"
)

func newQueryCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "query", Aliases: []string{"q"}, Short: "Read committed state through the node's app queries"}
	connect := func() (*client.Client, error) { return client.New(g.node) }
	var prove proveFlags
	stateCmd := &cobra.Command{
		Use:   "state CONTRACT KEY",
		Short: "Print the raw value stored under a contract's key (ABCI query /state/CONTRACT, data KEY); --prove verifies it",
		Long:  queryStateLong,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if prove.wanted(cmd) {
				return runProvenState(cmd, g, &prove, args[0], args[1])
			}
			c, err := connect()
			if err != nil {
				return err
			}
			res, err := c.Query(cmd.Context(), "/state/"+args[0], []byte(args[1]))
			if err != nil {
				return err
			}
			if g.output == "text" {
				fmt.Fprintln(cmd.OutOrStdout(), printable(res.Value))
				return nil
			}
			return newPrinter(cmd.OutOrStdout(), g).print(map[string]any{
				"contract": args[0], "key": args[1], "value": printable(res.Value), "height": res.Height,
			})
		},
	}
	prove.register(stateCmd)
	cmd.AddCommand(stateCmd, &cobra.Command{
		Use:   "account ADDRESS|KEY_NAME",
		Short: "Print an account's nonces (ABCI query /account/ADDRESS)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := tx.ParseAddress(args[0])
			if err != nil {
				kr, kerr := openKeyring(cmd, g)
				if kerr != nil {
					return kerr
				}
				k, kerr := kr.Show(args[0])
				if kerr != nil {
					if errors.Is(kerr, keyring.ErrNotFound) {
						return fmt.Errorf("%q is neither an address nor a key name: %v", args[0], err)
					}
					return kerr
				}
				addr = k.Address
			}
			c, err := connect()
			if err != nil {
				return err
			}
			a, err := c.Account(cmd.Context(), addr)
			if err != nil {
				return err
			}
			return newPrinter(cmd.OutOrStdout(), g).print(a,
				field{"address", a.Address}, field{"nonce", a.Nonce}, field{"pending nonce", a.PendingNonce}, field{"next nonce", a.NextNonce})
		},
	}, &cobra.Command{
		Use:   "runtime",
		Short: "Print the effective runtime version, its sha256 and since which height (ABCI query /runtime)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			var r executor.RuntimeInfo
			if err := c.QueryJSON(cmd.Context(), "/runtime", &r); err != nil {
				return err
			}
			return newPrinter(cmd.OutOrStdout(), g).print(r,
				field{"version", r.Version}, field{"sha256", r.CodeSHA256}, field{"since height", r.SinceHeight},
				field{"installed on this node", r.Installed})
		},
	})
	addKeyringFlags(cmd, g)
	return cmd
}
