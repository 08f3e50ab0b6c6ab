package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/keyring"
)

type keyInfo struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	PubKey  string `json:"pub_key"`
	Backend string `json:"backend"`
}

func infoOf(k *keyring.Key, b keyring.Backend) keyInfo {
	return keyInfo{Name: k.Name, Address: k.Address.String(), PubKey: hex.EncodeToString(k.PubKey), Backend: string(b)}
}

func newKeysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:         "keys",
		Annotations: offline,
		Short:       "Manage the account keys in --home's keyring",
		Long: `Account keys live in --home's keyring/ directory, one file per key, mode 0600, in one of
two backends:

  file  each private key encrypted with a passphrase (age, scrypt): keyring/NAME.key.
        The address and public key are readable without it; signing asks for it on the
        terminal, or takes it from ` + envKeyringPassphrase + ` or --keyring-passphrase-file.
  test  plain files (keyring/NAME.json): whoever reads the home holds the keys. For local
        networks only; every command using it says so on stderr.

The backend is --keyring-backend, else ` + envKeyringBackend + `, else keyring-backend in
--home's config/client.toml (written by init), else file. Move a plain keyring to file with
'vchaind keys migrate --to file'.`,
	}
	addKeyringFlags(cmd, g)
	show := func(cmd *cobra.Command, k *keyring.Key, b keyring.Backend) error {
		i := infoOf(k, b)
		return newPrinter(cmd.OutOrStdout(), g).print(i, field{"name", i.Name}, field{"address", i.Address}, field{"pub_key", i.PubKey}, field{"backend", i.Backend})
	}
	withKeyring := func(run func(cmd *cobra.Command, kr *keyring.Keyring, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			kr, err := openKeyring(cmd, g)
			if err != nil {
				return err
			}
			return run(cmd, kr, args)
		}
	}
	var yes bool
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a key (asks for confirmation on a terminal; --yes in scripts)",
		Args:  cobra.ExactArgs(1),
		RunE: withKeyring(func(cmd *cobra.Command, kr *keyring.Keyring, args []string) error {
			k, err := kr.Show(args[0])
			if err != nil && !errors.Is(err, keyring.ErrCorrupt) {
				return err
			}
			if !yes {
				if !term.IsTerminal(int(os.Stdin.Fd())) {
					return fmt.Errorf("delete key %q: pass --yes to confirm (no terminal to ask on)", args[0])
				}
				what := args[0]
				if k != nil {
					what = k.String()
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Delete key %s from %s? Without a copy (keys export) it is gone for good. [y/N] ", what, kr.Dir())
				line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return errors.New("not deleted")
				}
			}
			if err := kr.Delete(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "deleted key %s\n", args[0])
			return nil
		}),
	}
	del.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	var exportOut string
	export := &cobra.Command{
		Use:   "export NAME",
		Short: "Write a key as an armoured file encrypted with a passphrase (to stdout, or --out FILE)",
		Long: `Write the key called NAME as an age file (ASCII armour, scrypt passphrase) that 'keys import'
reads in another home. The export is encrypted with a new passphrase (asked twice on the
terminal; or ` + envKeyringPassphrase + ` / --keyring-passphrase-file, the same one that unlocks a
file-backend key). --out is created mode 0600 and never replaces an existing file.`,
		Args: cobra.ExactArgs(1),
		RunE: withKeyring(func(cmd *cobra.Command, kr *keyring.Keyring, args []string) error {
			armored, err := kr.Export(args[0], g.passphrase(cmd))
			if err != nil {
				return err
			}
			if exportOut == "" || exportOut == "-" {
				_, err := fmt.Fprint(cmd.OutOrStdout(), armored)
				return err
			}
			f, err := os.OpenFile(exportOut, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("export to %s: %w", exportOut, err)
			}
			if _, err := f.WriteString(armored); err != nil {
				f.Close()
				return fmt.Errorf("export to %s: %w", exportOut, err)
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported key %s to %s\n", args[0], exportOut)
			return nil
		}),
	}
	export.Flags().StringVar(&exportOut, "out", "", "file to write (default: stdout)")
	var migrateTo string
	migrate := &cobra.Command{
		Use:   "migrate --to file",
		Short: "Encrypt every plain (test backend) key of --home's keyring and make file its backend",
		Long: `Encrypt every plain key file (keyring/NAME.json) into keyring/NAME.key with one new
passphrase, read each back, then remove the plain files and set keyring-backend = "file" in
config/client.toml. If anything fails, the plain keys are left as they were. A name with
both a plain and an encrypted file stops it before anything is written.

The plain files are unlinked, not shredded: a backup, snapshot or copy of the home made
before still holds them. If that matters, create new keys instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if migrateTo != string(keyring.File) {
				return fmt.Errorf("--to %q: only --to file is supported (decrypting keys back into plain files is not offered)", migrateTo)
			}
			p := home.Paths{Root: g.home}
			kr, err := keyring.New(p.Keyring(), keyring.Options{Backend: keyring.File, Passphrase: g.passphrase(cmd)})
			if err != nil {
				return err
			}
			names, err := kr.EncryptPlain()
			if err != nil {
				return err
			}
			if _, err := os.Stat(p.Config()); err == nil {
				if err := home.WriteClientConfig(p.ClientConfig(), home.ClientConfig{KeyringBackend: string(keyring.File)}); err != nil {
					return err
				}
			}
			if len(names) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no plain keys in %s; backend file\n", kr.Dir())
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "encrypted %d keys (%s) in %s; backend file\n", len(names), strings.Join(names, ", "), kr.Dir())
			}
			return nil
		},
	}
	migrate.Flags().StringVar(&migrateTo, "to", "", "the backend to move keys to: file")
	_ = migrate.MarkFlagRequired("to")

	cmd.AddCommand(&cobra.Command{
		Use:   "add NAME",
		Short: "Create a new ed25519 key (refuses to replace an existing one)",
		Args:  cobra.ExactArgs(1),
		RunE: withKeyring(func(cmd *cobra.Command, kr *keyring.Keyring, args []string) error {
			k, err := kr.Add(args[0])
			if err != nil {
				return err
			}
			return show(cmd, k, kr.Backend())
		}),
	}, &cobra.Command{
		Use:   "show NAME",
		Short: "Show a key's address and public key (no passphrase needed)",
		Args:  cobra.ExactArgs(1),
		RunE: withKeyring(func(cmd *cobra.Command, kr *keyring.Keyring, args []string) error {
			k, err := kr.Show(args[0])
			if err != nil {
				return err
			}
			return show(cmd, k, kr.Backend())
		}),
	}, &cobra.Command{
		Use:   "list",
		Short: "List the keys of the keyring's backend (no passphrase needed)",
		Args:  cobra.NoArgs,
		RunE: withKeyring(func(cmd *cobra.Command, kr *keyring.Keyring, _ []string) error {
			keys, err := kr.List()
			if err != nil {
				return err
			}
			if n, err := kr.OtherBackendCount(); err == nil && n > 0 && kr.Backend() == keyring.File {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: %d plain keys (backend test) in %s are not listed; encrypt them with 'vchaind keys migrate --to file'\n", n, kr.Dir())
			} else if err == nil && n > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: %d encrypted keys (backend file) in %s are not listed\n", n, kr.Dir())
			}
			infos := make([]keyInfo, len(keys))
			fields := []field{{"backend", fmt.Sprintf("%s (%s)", kr.Backend(), kr.Dir())}}
			for i, k := range keys {
				infos[i] = infoOf(k, kr.Backend())
				fields = append(fields, field{k.Name, k.Address.String()})
			}
			if len(keys) == 0 && g.output == "text" {
				fmt.Fprintf(cmd.OutOrStdout(), "no keys in %s (backend %s)\n", kr.Dir(), kr.Backend())
				return nil
			}
			return newPrinter(cmd.OutOrStdout(), g).print(infos, fields...)
		}),
	}, &cobra.Command{
		Use:   "import NAME FILE",
		Short: "Store the key of an armoured export (keys export) under NAME",
		Long: `Decrypt FILE, an export written by 'keys export', with its passphrase and store the key
under NAME in this keyring's backend (file: encrypted again with the keyring passphrase).
Refuses a NAME already taken.`,
		Args: cobra.ExactArgs(2),
		RunE: withKeyring(func(cmd *cobra.Command, kr *keyring.Keyring, args []string) error {
			armored, err := os.ReadFile(args[1])
			if err != nil {
				return fmt.Errorf("read export: %w", err)
			}
			k, err := kr.ImportArmored(args[0], armored, g.passphrase(cmd))
			if err != nil {
				return err
			}
			return show(cmd, k, kr.Backend())
		}),
	}, export, del, &cobra.Command{
		Use:   "rename OLD NEW",
		Short: "Rename a key (refuses a NEW already taken; an encrypted key stays as encrypted)",
		Args:  cobra.ExactArgs(2),
		RunE: withKeyring(func(cmd *cobra.Command, kr *keyring.Keyring, args []string) error {
			if err := kr.Rename(args[0], args[1]); err != nil {
				return err
			}
			k, err := kr.Show(args[1])
			if err != nil {
				return err
			}
			return show(cmd, k, kr.Backend())
		}),
	}, migrate)
	return cmd
}
