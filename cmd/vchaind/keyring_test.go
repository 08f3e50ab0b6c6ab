package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/keyring"
)

// TestKeyringBackendPrecedence: --keyring-backend, then VCHAIN_KEYRING_BACKEND, then the
// home's config/client.toml, then file; init ignores the home's file; an unknown name is
// an error naming where it came from.
func TestKeyringBackendPrecedence(t *testing.T) {
	withConfig := t.TempDir()
	if err := os.MkdirAll(filepath.Join(withConfig, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := home.WriteClientConfig(home.Paths{Root: withConfig}.ClientConfig(), home.ClientConfig{KeyringBackend: "test"}); err != nil {
		t.Fatal(err)
	}
	badConfig := t.TempDir()
	if err := os.MkdirAll(filepath.Join(badConfig, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := home.WriteClientConfig(home.Paths{Root: badConfig}.ClientConfig(), home.ClientConfig{KeyringBackend: "pass"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		home     string
		flag     string
		env      string
		fromHome bool
		want     keyring.Backend
		err      string
	}{
		{name: "nothing set", home: t.TempDir(), fromHome: true, want: keyring.File},
		{name: "home config", home: withConfig, fromHome: true, want: keyring.Test},
		{name: "init ignores the home", home: withConfig, want: keyring.File},
		{name: "env over home", home: withConfig, env: "file", fromHome: true, want: keyring.File},
		{name: "flag over env", home: withConfig, env: "file", flag: "test", fromHome: true, want: keyring.Test},
		{name: "unknown flag", home: withConfig, flag: "os", fromHome: true, err: `--keyring-backend: unknown keyring backend "os"`},
		{name: "unknown env", home: withConfig, env: "kwallet", fromHome: true, err: `VCHAIN_KEYRING_BACKEND: unknown keyring backend "kwallet"`},
		{name: "unknown in the home", home: badConfig, fromHome: true, err: `client.toml: unknown keyring backend "pass"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envKeyringBackend, tc.env)
			g := &globals{home: tc.home}
			cmd := &cobra.Command{Use: "x"}
			addKeyringFlags(cmd, g)
			args := []string{}
			if tc.flag != "" {
				args = append(args, "--keyring-backend", tc.flag)
			}
			if err := cmd.ParseFlags(args); err != nil {
				t.Fatal(err)
			}
			got, err := g.keyringBackend(cmd, tc.fromHome)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("backend %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}
