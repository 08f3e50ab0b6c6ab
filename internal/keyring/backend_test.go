package keyring

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testPass = "correct horse battery"

// testWorkFactor keeps scrypt cheap in tests; the format is the same as at the default.
const testWorkFactor = 10

func newKeyring(t *testing.T, dir string, b Backend, pass string) *Keyring {
	t.Helper()
	kr, err := New(dir, Options{Backend: b, Passphrase: Static(pass, "VCHAIN_KEYRING_PASSPHRASE"), WorkFactor: testWorkFactor})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// TestRoundTrip: for every backend, a key added is read back with the same private key,
// shown and listed without its private key, renamed, exported and imported into a keyring
// of every backend, and deleted.
func TestRoundTrip(t *testing.T) {
	for _, b := range []Backend{File, Test} {
		t.Run(string(b), func(t *testing.T) {
			kr := newKeyring(t, t.TempDir(), b, testPass)
			a, err := kr.Add("alice")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kr.Add("alice"); !errors.Is(err, ErrExists) {
				t.Fatalf("an existing key was replaced: %v", err)
			}
			got, err := kr.Get("alice")
			if err != nil || !got.Private.Equal(a.Private) || got.Address != a.Address {
				t.Fatalf("get: %v %v", got, err)
			}
			if st, err := os.Stat(filepath.Join(kr.Dir(), "alice"+b.ext())); err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("key file: %v %v, want mode 0600", st, err)
			}
			shown, err := kr.Show("alice")
			if err != nil || shown.Private != nil || shown.Address != a.Address {
				t.Fatalf("show: %v %v", shown, err)
			}
			if err := kr.Rename("alice", "carol"); err != nil {
				t.Fatal(err)
			}
			if _, err := kr.Get("alice"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("alice after rename: %v", err)
			}
			if got, err := kr.Get("carol"); err != nil || !got.Private.Equal(a.Private) {
				t.Fatalf("carol after rename: %v %v", got, err)
			}
			if _, err := kr.Add("bob"); err != nil {
				t.Fatal(err)
			}
			if err := kr.Rename("carol", "bob"); !errors.Is(err, ErrExists) {
				t.Fatalf("rename onto an existing key: %v", err)
			}
			list, err := kr.List()
			if err != nil || len(list) != 2 || list[0].Name != "bob" || list[1].Name != "carol" || list[1].Private != nil {
				t.Fatalf("list: %v %v", list, err)
			}
			exportPass := Static("export passphrase", "test")
			armored, err := kr.Export("carol", exportPass)
			if err != nil || !strings.HasPrefix(armored, "-----BEGIN AGE ENCRYPTED FILE-----") {
				t.Fatalf("export: %q %v", armored, err)
			}
			for _, to := range []Backend{File, Test} {
				other := newKeyring(t, t.TempDir(), to, "another passphrase")
				imp, err := other.ImportArmored("dave", []byte(armored), exportPass)
				if err != nil || !imp.Private.Equal(a.Private) {
					t.Fatalf("import into %s: %v %v", to, imp, err)
				}
				if got, err := other.Get("dave"); err != nil || !got.Private.Equal(a.Private) {
					t.Fatalf("get the import in %s: %v %v", to, got, err)
				}
				if _, err := other.ImportArmored("eve", []byte(armored), Static("not the export passphrase", "test")); !errors.Is(err, ErrWrongPassphrase) {
					t.Fatalf("import with a wrong passphrase: %v", err)
				}
				if _, err := other.ImportArmored("dave", []byte(armored), exportPass); !errors.Is(err, ErrExists) {
					t.Fatalf("import over an existing key: %v", err)
				}
			}
			if err := kr.Delete("carol"); err != nil {
				t.Fatal(err)
			}
			if _, err := kr.Get("carol"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("deleted key: %v", err)
			}
			if err := kr.Delete("carol"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("delete a missing key: %v", err)
			}
		})
	}
}

// TestFileKeyHoldsNoPlainKey: an encrypted key file holds neither the private key nor its
// seed in hex or base64, in any case or padding.
func TestFileKeyHoldsNoPlainKey(t *testing.T) {
	kr := newKeyring(t, t.TempDir(), File, testPass)
	for i := 0; i < 8; i++ {
		name := "k" + string(rune('0'+i))
		k, err := kr.Add(name)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(kr.path(name))
		if err != nil {
			t.Fatal(err)
		}
		file := strings.ToLower(string(raw))
		// The private key is seed||public key and the public key is in the file in clear:
		// the whole private key, and any 8 bytes of the seed, must not appear.
		for _, secret := range [][]byte{k.Private, k.Private.Seed()} {
			for _, enc := range []string{
				hex.EncodeToString(secret),
				base64.StdEncoding.EncodeToString(secret), base64.RawStdEncoding.EncodeToString(secret),
				base64.URLEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret),
			} {
				if strings.Contains(file, strings.ToLower(enc)) {
					t.Fatalf("key file %s holds the private key as %q", name, enc)
				}
				if len(secret) != ed25519.SeedSize {
					continue
				}
				// 16 characters of an encoding carry 8+ bytes of the seed: none may appear.
				for j := 0; j+16 <= len(enc); j += 4 {
					if strings.Contains(file, strings.ToLower(enc[j:j+16])) {
						t.Fatalf("key file %s holds part of the private key's encoding %q", name, enc[j:j+16])
					}
				}
			}
		}
		if !strings.Contains(file, hex.EncodeToString(k.PubKey)) {
			t.Fatalf("key file %s lacks its public key", name)
		}
	}
}

// TestFileRefusals: a wrong passphrase, a truncated file and altered bytes anywhere in
// the ciphertext are each refused with their error, and the file is left as it was.
func TestFileRefusals(t *testing.T) {
	dir := t.TempDir()
	kr := newKeyring(t, dir, File, testPass)
	k, err := kr.Add("alice")
	if err != nil {
		t.Fatal(err)
	}
	path := kr.path("alice")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newKeyring(t, dir, File, "not the passphrase").Get("alice"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := newKeyring(t, dir, File, "").Get("alice"); err == nil {
		t.Fatal("an empty passphrase was accepted")
	}
	var f keyFile
	mustJSON(t, orig, &f)
	lines := strings.Split(strings.TrimSpace(f.Encrypted), "\n")
	if len(lines) < 3 {
		t.Fatalf("armour: %q", f.Encrypted)
	}
	alter := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	cases := map[string][]byte{
		"truncated file":  orig[:len(orig)/2],
		"empty file":      {},
		"not json":        []byte("priv_key"),
		"ciphertext cut":  withEncrypted(t, f, strings.Join(append(lines[:1], lines[len(lines)-1]), "\n")+"\n"),
		"no ciphertext":   withEncrypted(t, f, ""),
		"other pub_key":   withPub(t, f, strings.Repeat("00", 32)),
		"plain key added": withPriv(t, f, hex.EncodeToString(k.Private)),
	}
	body := lines[1 : len(lines)-1]
	for li := range body {
		for _, ci := range []int{0, len(body[li]) / 2, len(body[li]) - 2} {
			if ci < 0 || ci >= len(body[li]) {
				continue
			}
			alt := append([]string{}, lines...)
			alt[1+li] = alter(body[li], ci)
			cases["altered line "+string(rune('0'+li))+" at "+string(rune('0'+ci%10))] = withEncrypted(t, f, strings.Join(alt, "\n")+"\n")
		}
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := kr.Get("alice")
			if err == nil {
				t.Fatalf("accepted: %v", got)
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("error %v is neither ErrCorrupt nor ErrWrongPassphrase", err)
			}
			if strings.Contains(err.Error(), hex.EncodeToString(k.Private.Seed())) || strings.Contains(err.Error(), testPass) {
				t.Fatalf("the error leaks a secret: %v", err)
			}
			if now, _ := os.ReadFile(path); string(now) != string(content) {
				t.Fatal("the key file was rewritten")
			}
			if _, err := kr.Add("alice"); !errors.Is(err, ErrExists) {
				t.Fatalf("a damaged key was replaced by Add: %v", err)
			}
		})
	}
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := kr.Get("alice"); err != nil || !got.Private.Equal(k.Private) {
		t.Fatalf("restored file: %v", err)
	}
}

// TestBackendsShareNames: a name belongs to one backend; asking the other backend for it
// says where it is instead of "not found", and neither backend creates it again.
func TestBackendsShareNames(t *testing.T) {
	dir := t.TempDir()
	plain := Open(dir)
	if _, err := plain.Add("admin"); err != nil {
		t.Fatal(err)
	}
	enc := newKeyring(t, dir, File, testPass)
	if _, err := enc.Get("admin"); !errors.Is(err, ErrOtherBackend) || !strings.Contains(err.Error(), "keys migrate --to file") {
		t.Fatalf("file backend on a plain key: %v", err)
	}
	if _, err := enc.Add("admin"); !errors.Is(err, ErrExists) {
		t.Fatalf("file backend created a second admin: %v", err)
	}
	if _, err := enc.Add("op"); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Get("op"); !errors.Is(err, ErrOtherBackend) {
		t.Fatalf("test backend on an encrypted key: %v", err)
	}
	if n, err := enc.OtherBackendCount(); err != nil || n != 1 {
		t.Fatalf("plain keys beside the encrypted ones: %d %v", n, err)
	}
	if _, err := ParseBackend("os"); err == nil || !strings.Contains(err.Error(), `unknown keyring backend "os"`) {
		t.Fatalf("unknown backend: %v", err)
	}
	if _, err := New(dir, Options{Backend: "kwallet"}); err == nil {
		t.Fatal("New took an unknown backend")
	}
}

// TestEncryptPlain: migrating moves every plain key into encrypted files with the same
// private keys and removes the plain files; a name with both files stops it before any
// change.
func TestEncryptPlain(t *testing.T) {
	dir := t.TempDir()
	plain := Open(dir)
	want := map[string]ed25519.PrivateKey{}
	for _, n := range []string{"admin", "operator"} {
		k, err := plain.Add(n)
		if err != nil {
			t.Fatal(err)
		}
		want[n] = k.Private
	}
	enc := newKeyring(t, dir, File, testPass)
	names, err := enc.EncryptPlain()
	if err != nil || len(names) != 2 {
		t.Fatalf("migrate: %v %v", names, err)
	}
	for n, priv := range want {
		if got, err := enc.Get(n); err != nil || !got.Private.Equal(priv) {
			t.Fatalf("%s after migrating: %v", n, err)
		}
		if _, err := os.Stat(plain.path(n)); !os.IsNotExist(err) {
			t.Fatalf("plain %s left behind: %v", n, err)
		}
	}
	if names, err := enc.EncryptPlain(); err != nil || len(names) != 0 {
		t.Fatalf("second migrate: %v %v", names, err)
	}
	// A plain key whose name also has an encrypted file: nothing is touched.
	raw, _ := os.ReadFile(enc.path("admin"))
	if _, err := plain.Add("zed"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain.path("admin"), mustPlain(t, "admin", want["admin"]), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := enc.EncryptPlain(); !errors.Is(err, ErrExists) {
		t.Fatalf("migrate with a name in both backends: %v", err)
	}
	if now, _ := os.ReadFile(enc.path("admin")); string(now) != string(raw) {
		t.Fatal("the encrypted admin was rewritten")
	}
	if _, err := os.Stat(enc.path("zed")); !os.IsNotExist(err) {
		t.Fatalf("zed was encrypted although the migration was refused: %v", err)
	}
}

// TestKeyNeverPrinted: a Key printed with any verb shows its name and address only.
func TestKeyNeverPrinted(t *testing.T) {
	k, err := Open(t.TempDir()).Add("alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{sprintf("%v", k), sprintf("%+v", k), sprintf("%s", k), sprintf("%#v", k)} {
		if strings.Contains(s, hex.EncodeToString(k.Private.Seed())) || strings.Contains(s, sprintf("%v", []byte(k.Private.Seed()))) {
			t.Fatalf("printed the private key: %s", s)
		}
	}
}
