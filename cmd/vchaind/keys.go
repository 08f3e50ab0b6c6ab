package main

import (
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/keyring"
)

type keyInfo struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	PubKey  string `json:"pub_key"`
}

func infoOf(k *keyring.Key) keyInfo {
	return keyInfo{Name: k.Name, Address: k.Address.String(), PubKey: hex.EncodeToString(k.PubKey)}
}

func openKeyring(g *globals) *keyring.Keyring {
	return keyring.Open(home.Paths{Root: g.home}.Keyring())
}

func newKeysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:         "keys",
		Annotations: offline,
		Short:       "Manage the account keys in --home's keyring",
	}
	show := func(cmd *cobra.Command, k *keyring.Key) error {
		i := infoOf(k)
		return newPrinter(cmd.OutOrStdout(), g).print(i, field{"name", i.Name}, field{"address", i.Address}, field{"pub_key", i.PubKey})
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "add NAME",
		Short: "Create a new ed25519 key (refuses to replace an existing one)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := openKeyring(g).Add(args[0])
			if err != nil {
				return err
			}
			return show(cmd, k)
		},
	}, &cobra.Command{
		Use:   "show NAME",
		Short: "Show a key's address and public key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := openKeyring(g).Get(args[0])
			if err != nil {
				return err
			}
			return show(cmd, k)
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "List the keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := openKeyring(g).List()
			if err != nil {
				return err
			}
			infos := make([]keyInfo, len(keys))
			fields := make([]field, len(keys))
			for i, k := range keys {
				infos[i] = infoOf(k)
				fields[i] = field{k.Name, k.Address.String()}
			}
			if len(keys) == 0 && g.output == "text" {
				fmt.Fprintf(cmd.OutOrStdout(), "no keys in %s\n", home.Paths{Root: g.home}.Keyring())
				return nil
			}
			return newPrinter(cmd.OutOrStdout(), g).print(infos, fields...)
		},
	})
	return cmd
}
