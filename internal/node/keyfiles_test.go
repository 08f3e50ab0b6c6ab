package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/keyring"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestKeyFilesOfAHome: `vchaind init` (home.InitNode) writes the validator key, the node
// key and the operator key 0600, and a node whose validator or node key others can read
// refuses to start, saying which file and how to fix it.
func TestKeyFilesOfAHome(t *testing.T) {
	appCfg := home.DefaultAppConfig()
	appCfg.RuntimeCacheDir = testwasm.CacheDir()
	hn, err := home.InitNode(context.Background(), t.TempDir(), home.NodeOptions{Moniker: "n0", Runtime: testwasm.Module(t, "v1"), App: appCfg})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadCometConfig(hn.Paths.Root, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := os.ReadDir(hn.Paths.Keyring())
	if err != nil || len(keys) == 0 {
		t.Fatalf("no operator key in the keyring: %v", err)
	}
	files := []string{cfg.PrivValidatorKeyFile(), cfg.NodeKeyFile()}
	for _, k := range keys {
		files = append(files, filepath.Join(hn.Paths.Keyring(), k.Name()))
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v (%v), want 0600", f, st.Mode(), err)
		}
	}
	if err := CheckKeyFiles(cfg); err != nil {
		t.Fatalf("a fresh home is refused: %v", err)
	}
	for _, f := range files[:2] {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
		err := CheckKeyFiles(cfg)
		if !errors.Is(err, keyring.ErrTooOpen) || !strings.Contains(err.Error(), "permissions 0644 for '"+f+"' are too open") ||
			!strings.Contains(err.Error(), "chmod 600 "+f) {
			t.Fatalf("%s readable by others: %v", f, err)
		}
		if _, err := NewCometWithClient(cfg, nil, nil); !errors.Is(err, keyring.ErrTooOpen) {
			t.Fatalf("the node was built with %s readable by others: %v", f, err)
		}
		if err := os.Chmod(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckKeyFiles(cfg); err != nil {
		t.Fatalf("after chmod 600: %v", err)
	}
}

// TestKeyFilesRemoteSigner: a home whose consensus key is with a remote signer
// (priv_validator_laddr) has no validator key file, and that is not an error; without the
// setting, a missing key file is.
func TestKeyFilesRemoteSigner(t *testing.T) {
	appCfg := home.DefaultAppConfig()
	appCfg.RuntimeCacheDir = testwasm.CacheDir()
	hn, err := home.InitNode(context.Background(), t.TempDir(), home.NodeOptions{Moniker: "n0", Runtime: testwasm.Module(t, "v1"), App: appCfg})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadCometConfig(hn.Paths.Root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(cfg.PrivValidatorKeyFile()); err != nil {
		t.Fatal(err)
	}
	if err := CheckKeyFiles(cfg); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no validator key and no remote signer: %v", err)
	}
	cfg.PrivValidatorListenAddr = "tcp://127.0.0.1:26659"
	if err := CheckKeyFiles(cfg); err != nil {
		t.Fatalf("remote signer: %v", err)
	}
}
