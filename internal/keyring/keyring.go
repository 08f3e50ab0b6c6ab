// Package keyring stores ed25519 account keys in a node's home, one file per key in
// keyring/, mode 0600. It is a local convenience for operators and admins, not a hardware
// wallet. Two backends share the directory, and a name belongs to at most one of them:
//
//   - file: keyring/NAME.key holds the name, address and public key in clear and the private
//     key encrypted with a passphrase (age, scrypt recipient). Listing needs no passphrase;
//     signing does.
//   - test: keyring/NAME.json holds the private key in hex. Anyone who reads the file holds
//     the key: for local and test networks only.
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

// Backend is how a keyring stores private keys.
type Backend string

const (
	// File encrypts each private key with a passphrase.
	File Backend = "file"
	// Test stores private keys in plain files.
	Test Backend = "test"
)

// Backends lists the backends, for help texts.
const Backends = "file (keys encrypted with a passphrase) or test (plain files, for local networks only)"

// ParseBackend returns the backend called s.
func ParseBackend(s string) (Backend, error) {
	switch b := Backend(s); b {
	case File, Test:
		return b, nil
	}
	return "", fmt.Errorf("unknown keyring backend %q: use %s", s, Backends)
}

func (b Backend) ext() string {
	if b == File {
		return ".key"
	}
	return ".json"
}

func (b Backend) other() Backend {
	if b == File {
		return Test
	}
	return File
}

// Key is one named key pair. Private is nil where only the public part was read (List).
type Key struct {
	Name    string
	Address tx.Address
	PubKey  ed25519.PublicKey
	Private ed25519.PrivateKey
}

// String names the key by its name and address, so that printing a Key with %v or %s
// never prints its private key.
func (k *Key) String() string { return k.Name + " (" + k.Address.String() + ")" }

// GoString is String, for %#v.
func (k *Key) GoString() string { return k.String() }

// keyFile is the JSON of a key file. A test key file has PrivKey (hex); a file key file
// has Encrypted (an armoured age file of the 32-byte seed) and no PrivKey.
type keyFile struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	PubKey    string `json:"pub_key"`
	PrivKey   string `json:"priv_key,omitempty"`
	Encrypted string `json:"encrypted_priv_key,omitempty"`
}

var (
	// ErrNotFound reports a key name that is not in the keyring.
	ErrNotFound = errors.New("key not found")
	// ErrExists reports a key name already taken, in either backend.
	ErrExists = errors.New("key already exists")
	// ErrOtherBackend reports a key that exists, but in the other backend.
	ErrOtherBackend = errors.New("key is in the other keyring backend")
	// ErrCorrupt reports a key file that is truncated, altered or not a key file.
	ErrCorrupt = errors.New("key file is damaged or was altered")
)

var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

func checkName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("key name %q: use 1-64 letters, digits, '_', '-' or '.'", name)
	}
	return nil
}

// Options configure New.
type Options struct {
	// Backend is File or Test; Test when empty.
	Backend Backend
	// Passphrase supplies the passphrases of the file backend.
	Passphrase Passphrase
	// WorkFactor is log2 of scrypt's N for keys this keyring encrypts (DefaultWorkFactor
	// when 0). Tests lower it; decryption reads it from the file.
	WorkFactor int
}

// Keyring is a directory of key files of one backend.
type Keyring struct {
	dir string
	o   Options
}

// Open returns the test-backend keyring in dir (plain files); the directory is created on
// first Add. Test networks and load generators use it; operators' homes use New.
func Open(dir string) *Keyring { return &Keyring{dir: dir, o: Options{Backend: Test}} }

// New returns the keyring in dir with the backend of o.
func New(dir string, o Options) (*Keyring, error) {
	if o.Backend == "" {
		o.Backend = Test
	}
	if _, err := ParseBackend(string(o.Backend)); err != nil {
		return nil, err
	}
	if o.Backend == File && o.Passphrase == nil {
		return nil, errors.New("keyring: the file backend needs a passphrase source")
	}
	return &Keyring{dir: dir, o: o}, nil
}

// Backend is the keyring's backend.
func (k *Keyring) Backend() Backend { return k.o.Backend }

// Dir is the keyring's directory.
func (k *Keyring) Dir() string { return k.dir }

func (k *Keyring) path(name string) string { return k.pathIn(k.o.Backend, name) }

func (k *Keyring) pathIn(b Backend, name string) string {
	return filepath.Join(k.dir, name+b.ext())
}

// Add creates a new random key. It refuses to replace an existing one.
func (k *Keyring) Add(name string) (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k.Import(name, priv)
}

// free refuses a name that either backend already holds.
func (k *Keyring) free(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	for _, b := range []Backend{k.o.Backend, k.o.Backend.other()} {
		if _, err := os.Lstat(k.pathIn(b, name)); err == nil {
			return fmt.Errorf("key %q (backend %s) in %s: %w", name, b, k.dir, ErrExists)
		}
	}
	return nil
}

// Import stores priv under name. It refuses to replace an existing key.
func (k *Keyring) Import(name string, priv ed25519.PrivateKey) (*Key, error) {
	if err := k.free(name); err != nil {
		return nil, err
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("key %q: a private key is %d bytes, not %d", name, ed25519.PrivateKeySize, len(priv))
	}
	key := fromPrivate(name, priv)
	f := keyFile{Name: name, Address: key.Address.String(), PubKey: hex.EncodeToString(key.PubKey)}
	if k.o.Backend == File {
		pass, err := k.o.Passphrase.New("key " + name)
		if err != nil {
			return nil, err
		}
		if f.Encrypted, err = seal(priv.Seed(), pass, k.o.WorkFactor); err != nil {
			return nil, fmt.Errorf("encrypt key %q: %w", name, err)
		}
	} else {
		f.PrivKey = hex.EncodeToString(priv)
	}
	if err := k.writeKeyFile(f); err != nil {
		return nil, err
	}
	return key, nil
}

func (k *Keyring) writeKeyFile(f keyFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(k.dir, 0o700); err != nil {
		return fmt.Errorf("keyring dir: %w", err)
	}
	if err := writeNew(k.path(f.Name), append(b, '\n')); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("key %q in %s: %w", f.Name, k.dir, ErrExists)
		}
		return fmt.Errorf("write key %q: %w", f.Name, err)
	}
	return nil
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

// read loads and checks the key file of name in this keyring's backend: the public part
// only, and for the test backend the private key too.
func (k *Keyring) read(name string) (*Key, *keyFile, error) {
	if err := checkName(name); err != nil {
		return nil, nil, err
	}
	path := k.path(name)
	err := CheckPrivate(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, oerr := os.Lstat(k.pathIn(k.o.Backend.other(), name)); oerr == nil {
			return nil, nil, k.otherBackendError(name)
		}
		return nil, nil, fmt.Errorf("key %q in %s (backend %s): %w (create it with `vchaind keys add %s`)", name, k.dir, k.o.Backend, ErrNotFound, name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("key %q: %w", name, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read key %q: %w", name, err)
	}
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, nil, fmt.Errorf("key file %s: %w: %v", path, ErrCorrupt, err)
	}
	pub, err := hex.DecodeString(f.PubKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, nil, fmt.Errorf("key file %s: %w: pub_key is not %d hex-encoded bytes", path, ErrCorrupt, ed25519.PublicKeySize)
	}
	key := &Key{Name: name, PubKey: pub, Address: tx.AddressOf(pub)}
	// The name inside is informational (a file renamed by hand still loads under its file
	// name); the address must be the public key's, or the clear part was altered.
	if f.Address != key.Address.String() {
		return nil, nil, fmt.Errorf("key file %s: %w: its address does not match its public key", path, ErrCorrupt)
	}
	switch k.o.Backend {
	case File:
		if f.PrivKey != "" || f.Encrypted == "" {
			return nil, nil, fmt.Errorf("key file %s: %w: no encrypted private key", path, ErrCorrupt)
		}
	case Test:
		priv, err := hex.DecodeString(f.PrivKey)
		if err != nil || len(priv) != ed25519.PrivateKeySize {
			return nil, nil, fmt.Errorf("key file %s: %w: private key is not %d hex-encoded bytes", path, ErrCorrupt, ed25519.PrivateKeySize)
		}
		if !ed25519.PrivateKey(priv).Public().(ed25519.PublicKey).Equal(key.PubKey) {
			return nil, nil, fmt.Errorf("key file %s: %w: its private key does not match its public key", path, ErrCorrupt)
		}
		key.Private = priv
	}
	return key, &f, nil
}

func (k *Keyring) otherBackendError(name string) error {
	if k.o.Backend == File {
		return fmt.Errorf("key %q in %s is a plain file of the test backend: %w; select it with --keyring-backend test, "+
			"or encrypt the keyring with `vchaind keys migrate --to file`", name, k.dir, ErrOtherBackend)
	}
	return fmt.Errorf("key %q in %s is encrypted (backend file): %w; select it with --keyring-backend file", name, k.dir, ErrOtherBackend)
}

// Get loads the key called name, private key included: the file backend asks for its
// passphrase. A key file others can access is refused (CheckPrivate); a wrong passphrase
// is ErrWrongPassphrase, a truncated or altered file ErrCorrupt.
func (k *Keyring) Get(name string) (*Key, error) {
	key, f, err := k.read(name)
	if err != nil || k.o.Backend == Test {
		return key, err
	}
	pass, err := k.o.Passphrase.Get("key " + name)
	if err != nil {
		return nil, err
	}
	priv, err := unseal(f.Encrypted, pass)
	if err != nil {
		return nil, fmt.Errorf("key %q (%s): %w", name, k.path(name), err)
	}
	if !priv.Public().(ed25519.PublicKey).Equal(key.PubKey) {
		return nil, fmt.Errorf("key file %s: %w: its encrypted key does not match its public key", k.path(name), ErrCorrupt)
	}
	key.Private = priv
	return key, nil
}

// Show returns the public part of the key called name: no passphrase needed.
func (k *Keyring) Show(name string) (*Key, error) {
	key, _, err := k.read(name)
	if err != nil {
		return nil, err
	}
	key.Private = nil
	return key, nil
}

// List returns the public part of every key of this backend, sorted by name.
func (k *Keyring) List() ([]*Key, error) {
	names, err := k.names(k.o.Backend)
	if err != nil {
		return nil, err
	}
	out := make([]*Key, 0, len(names))
	for _, name := range names {
		key, err := k.Show(name)
		if err != nil {
			return nil, err
		}
		out = append(out, key)
	}
	return out, nil
}

// names lists the key names of backend b in the directory, sorted.
func (k *Keyring) names(b Backend) ([]string, error) {
	ents, err := os.ReadDir(k.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list keyring: %w", err)
	}
	var out []string
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), b.ext()); ok && !e.IsDir() && validName.MatchString(name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// OtherBackendCount is how many keys of the other backend the directory holds (keys List
// does not show).
func (k *Keyring) OtherBackendCount() (int, error) {
	names, err := k.names(k.o.Backend.other())
	return len(names), err
}

// Delete removes the key called name.
func (k *Keyring) Delete(name string) error {
	if _, _, err := k.read(name); err != nil && !errors.Is(err, ErrCorrupt) {
		return err
	}
	if err := os.Remove(k.path(name)); err != nil {
		return fmt.Errorf("delete key %q: %w", name, err)
	}
	return syncDir(k.dir)
}

// Rename moves the key called from to the name to, refusing a name already taken. The
// private key is not decrypted: the file backend's ciphertext moves as it is.
func (k *Keyring) Rename(from, to string) error {
	_, f, err := k.read(from)
	if err != nil {
		return err
	}
	if err := k.free(to); err != nil {
		return err
	}
	f.Name = to
	if err := k.writeKeyFile(*f); err != nil {
		return err
	}
	if err := os.Remove(k.path(from)); err != nil {
		return fmt.Errorf("rename key %q: %s was written but %w", from, k.path(to), err)
	}
	return syncDir(k.dir)
}

func fromPrivate(name string, priv ed25519.PrivateKey) *Key {
	pub := priv.Public().(ed25519.PublicKey)
	return &Key{Name: name, Address: tx.AddressOf(pub), PubKey: pub, Private: priv}
}
