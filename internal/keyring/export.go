package keyring

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
)

// Export returns the key called name as an armoured age file (the ed25519 seed, encrypted
// with a passphrase from pass), for ImportArmored in another keyring. The file backend
// first asks for the key's own passphrase.
func (k *Keyring) Export(name string, pass Passphrase) (string, error) {
	key, err := k.Get(name)
	if err != nil {
		return "", err
	}
	p, err := pass.New("the export of key " + name)
	if err != nil {
		return "", err
	}
	armored, err := seal(key.Private.Seed(), p, k.o.WorkFactor)
	if err != nil {
		return "", fmt.Errorf("encrypt the export of key %q: %w", name, err)
	}
	return armored, nil
}

// ImportArmored stores, under name, the key of an armoured export, decrypted with a
// passphrase from pass. It refuses a name already taken before asking for anything.
func (k *Keyring) ImportArmored(name string, armored []byte, pass Passphrase) (*Key, error) {
	if err := k.free(name); err != nil {
		return nil, err
	}
	p, err := pass.Get("the exported key")
	if err != nil {
		return nil, err
	}
	priv, err := unseal(string(armored), p)
	if err != nil {
		return nil, fmt.Errorf("exported key: %w", err)
	}
	return k.Import(name, priv)
}

// EncryptPlain moves every plain (test-backend) key of the directory into this file
// keyring, encrypted with one new passphrase, and returns their names. Each encrypted
// file is written and read back before any plain file is removed; on any error the
// encrypted copies made so far are removed and every plain file is left as it was. A name
// that already has an encrypted file stops it before anything is written.
func (k *Keyring) EncryptPlain() ([]string, error) {
	if k.o.Backend != File {
		return nil, errors.New("keyring: only a file keyring can take plain keys")
	}
	plain := &Keyring{dir: k.dir, o: Options{Backend: Test}}
	names, err := plain.names(Test)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	keys := make([]*Key, len(names))
	for i, name := range names {
		if _, err := os.Lstat(k.path(name)); err == nil {
			return nil, fmt.Errorf("key %q has both a plain file and an encrypted one (%s): %w; remove or rename one first", name, k.path(name), ErrExists)
		}
		if keys[i], err = plain.Get(name); err != nil {
			return nil, err
		}
	}
	pass, err := k.o.Passphrase.New("the keys of " + k.dir)
	if err != nil {
		return nil, err
	}
	var written []string
	undo := func(err error) ([]string, error) {
		for _, name := range written {
			_ = os.Remove(k.path(name))
		}
		return nil, fmt.Errorf("%w (the plain keys are unchanged)", err)
	}
	for _, key := range keys {
		enc, err := seal(key.Private.Seed(), pass, k.o.WorkFactor)
		if err != nil {
			return undo(fmt.Errorf("encrypt key %q: %w", key.Name, err))
		}
		f := keyFile{Name: key.Name, Address: key.Address.String(), PubKey: hex.EncodeToString(key.PubKey), Encrypted: enc}
		if err := k.writeKeyFile(f); err != nil {
			return undo(err)
		}
		written = append(written, key.Name)
		_, rf, err := k.read(key.Name)
		if err != nil {
			return undo(err)
		}
		back, err := unseal(rf.Encrypted, pass)
		if err != nil || !back.Equal(key.Private) {
			return undo(fmt.Errorf("key %q: the encrypted file does not read back (%v)", key.Name, err))
		}
	}
	for _, name := range names {
		if err := os.Remove(plain.path(name)); err != nil {
			return names, fmt.Errorf("remove plain key %q after encrypting it: %w", name, err)
		}
	}
	return names, syncDir(k.dir)
}
