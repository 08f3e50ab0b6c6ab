package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/keyring"
)

// Environment variables of the keyring flags.
const (
	envKeyringBackend    = "VCHAIN_KEYRING_BACKEND"
	envKeyringPassphrase = "VCHAIN_KEYRING_PASSPHRASE"
)

// keyringFlags are the flags of every command that reads or writes --home's keyring.
type keyringFlags struct {
	backend  string
	passFile string
	pass     keyring.Passphrase // one source per process: a terminal prompt is not repeated
	warned   bool
}

func addKeyringFlags(cmd *cobra.Command, g *globals) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&g.keys.backend, "keyring-backend", "", "how keyring/ stores keys: "+keyring.Backends+
		" (default: env "+envKeyringBackend+", then keyring-backend in --home's config/client.toml, then file)")
	pf.StringVar(&g.keys.passFile, "keyring-passphrase-file", "", "read the keyring passphrase from the first line of this file "+
		"(mode 0600; default: env "+envKeyringPassphrase+", then a prompt on the terminal)")
}

// keyringBackend picks the backend: --keyring-backend, then VCHAIN_KEYRING_BACKEND, then
// the home's config/client.toml (unless fromHome is false: init, which writes it), then
// file. An unknown name is an error wherever it came from.
func (g *globals) keyringBackend(cmd *cobra.Command, fromHome bool) (keyring.Backend, error) {
	if f := cmd.Flags().Lookup("keyring-backend"); f != nil && f.Changed {
		b, err := keyring.ParseBackend(g.keys.backend)
		if err != nil {
			return "", fmt.Errorf("--keyring-backend: %w", err)
		}
		return b, nil
	}
	if v := os.Getenv(envKeyringBackend); v != "" {
		b, err := keyring.ParseBackend(v)
		if err != nil {
			return "", fmt.Errorf("%s: %w", envKeyringBackend, err)
		}
		return b, nil
	}
	if fromHome {
		path := home.Paths{Root: g.home}.ClientConfig()
		c, ok, err := home.LoadClientConfig(path)
		if err != nil {
			return "", err
		}
		if ok && c.KeyringBackend != "" {
			b, err := keyring.ParseBackend(c.KeyringBackend)
			if err != nil {
				return "", fmt.Errorf("%s: %w", path, err)
			}
			return b, nil
		}
	}
	return keyring.File, nil
}

var errNoPassphrase = errors.New("a passphrase is needed (keyring backend file, or a key export) and there is no terminal to ask on: " +
	"set " + envKeyringPassphrase + " or pass --keyring-passphrase-file FILE (or use --keyring-backend test on a local network)")

// passphrase is where this process gets keyring passphrases: --keyring-passphrase-file,
// then VCHAIN_KEYRING_PASSPHRASE, then the terminal (never a pipe: a script without
// either gets errNoPassphrase instead of hanging).
func (g *globals) passphrase(cmd *cobra.Command) keyring.Passphrase {
	if g.keys.pass == nil {
		switch v, ok := os.LookupEnv(envKeyringPassphrase); {
		case g.keys.passFile != "":
			g.keys.pass = keyring.FromFile(g.keys.passFile)
		case ok:
			g.keys.pass = keyring.Static(v, envKeyringPassphrase)
		default:
			g.keys.pass = keyring.Terminal(os.Stdin, cmd.ErrOrStderr(), errNoPassphrase)
		}
	}
	return g.keys.pass
}

// keyringOptions resolves the backend and passphrase source of this command, and warns
// once on stderr when the keys are plain files.
func (g *globals) keyringOptions(cmd *cobra.Command, fromHome bool) (keyring.Options, error) {
	b, err := g.keyringBackend(cmd, fromHome)
	if err != nil {
		return keyring.Options{}, err
	}
	if b == keyring.Test && !g.keys.warned {
		g.keys.warned = true
		fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: keyring backend test: the keys in %s are unencrypted files; use it for local networks only\n",
			home.Paths{Root: g.home}.Keyring())
	}
	return keyring.Options{Backend: b, Passphrase: g.passphrase(cmd)}, nil
}

// openKeyring opens --home's keyring with this command's backend.
func openKeyring(cmd *cobra.Command, g *globals) (*keyring.Keyring, error) {
	o, err := g.keyringOptions(cmd, true)
	if err != nil {
		return nil, err
	}
	return keyring.New(home.Paths{Root: g.home}.Keyring(), o)
}

// signingKey loads the key called name, private part included (a passphrase for file).
func signingKey(cmd *cobra.Command, g *globals, name string) (*keyring.Key, error) {
	kr, err := openKeyring(cmd, g)
	if err != nil {
		return nil, err
	}
	return kr.Get(name)
}
