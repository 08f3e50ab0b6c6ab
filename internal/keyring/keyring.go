// Package keyring stores ed25519 account keys as files in a node's home (keyring/NAME.json,
// mode 0600). It is a local convenience for operators and admins, not a hardware wallet.
package keyring

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/vchain/vchain/app/tx"
)

// Key is one named key pair.
type Key struct {
	Name    string
	Address tx.Address
	PubKey  ed25519.PublicKey
	Private ed25519.PrivateKey
}

type keyFile struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	PubKey  string `json:"pub_key"`
	PrivKey string `json:"priv_key"`
}

// ErrNotFound reports a key name that is not in the keyring.
var ErrNotFound = errors.New("key not found")

var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Keyring is a directory of key files.
type Keyring struct{ dir string }

// Open returns the keyring in dir; the directory is created on first Add.
func Open(dir string) *Keyring { return &Keyring{dir: dir} }

func (k *Keyring) path(name string) string { return filepath.Join(k.dir, name+".json") }

// Add creates a new random key. It refuses to replace an existing one.
func (k *Keyring) Add(name string) (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k.Import(name, priv)
}

// Import stores priv under name. It refuses to replace an existing key.
func (k *Keyring) Import(name string, priv ed25519.PrivateKey) (*Key, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("key name %q: use 1-64 letters, digits, '_', '-' or '.'", name)
	}
	if err := os.MkdirAll(k.dir, 0o700); err != nil {
		return nil, fmt.Errorf("keyring dir: %w", err)
	}
	key := fromPrivate(name, priv)
	b, err := json.MarshalIndent(keyFile{
		Name: name, Address: key.Address.String(),
		PubKey: hex.EncodeToString(key.PubKey), PrivKey: hex.EncodeToString(priv),
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(k.path(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("key %q already exists in %s", name, k.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("write key %q: %w", name, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return nil, fmt.Errorf("write key %q: %w", name, err)
	}
	return key, f.Close()
}

// ErrTooOpen reports a private key file that users other than its owner may read.
var ErrTooOpen = errors.New("private key file is accessible by others")

// CheckPrivate refuses a private key file whose mode lets its group or other users read,
// write or execute it, as ssh refuses such an identity file: a key others can read is
// no longer a secret, and using it silently would hide that. The error says how to fix it.
func CheckPrivate(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("permissions %04o for '%s' are too open: %w; chmod 600 %s", perm, path, ErrTooOpen, path)
	}
	return nil
}

// Get loads the key called name. A key file others can access is refused (CheckPrivate).
func (k *Keyring) Get(name string) (*Key, error) {
	err := CheckPrivate(k.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("key %q in %s: %w (create it with `vchaind keys add %s`)", name, k.dir, ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", name, err)
	}
	b, err := os.ReadFile(k.path(name))
	if err != nil {
		return nil, fmt.Errorf("read key %q: %w", name, err)
	}
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("key file %s: %w", k.path(name), err)
	}
	priv, err := hex.DecodeString(f.PrivKey)
	if err != nil || len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("key file %s: private key is not %d hex-encoded bytes", k.path(name), ed25519.PrivateKeySize)
	}
	return fromPrivate(name, priv), nil
}

// List returns every key, sorted by name.
func (k *Keyring) List() ([]*Key, error) {
	ents, err := os.ReadDir(k.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list keyring: %w", err)
	}
	var out []*Key
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() {
			key, err := k.Get(name)
			if err != nil {
				return nil, err
			}
			out = append(out, key)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func fromPrivate(name string, priv ed25519.PrivateKey) *Key {
	pub := priv.Public().(ed25519.PublicKey)
	return &Key{Name: name, Address: tx.AddressOf(pub), PubKey: pub, Private: priv}
}
