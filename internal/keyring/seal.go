package keyring

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// DefaultWorkFactor is log2 of scrypt's N for new encrypted keys: age's own default, about
// a second and 256 MiB per encryption or decryption, which is what makes guessing a
// passphrase from a stolen file slow.
const DefaultWorkFactor = 18

// maxWorkFactor bounds the scrypt cost a key file may ask of a decryption (1 GiB), so an
// altered file cannot make vchaind allocate more.
const maxWorkFactor = 20

// ErrWrongPassphrase reports a passphrase that does not decrypt a key. age's scrypt
// stanza cannot tell a wrong passphrase from an altered stanza, so the message says both.
var ErrWrongPassphrase = errors.New("wrong passphrase (or the encrypted key was altered)")

// seal encrypts seed (an ed25519 seed) to an armoured age file with an scrypt recipient.
func seal(seed []byte, pass string, workFactor int) (string, error) {
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		return "", err
	}
	if workFactor == 0 {
		workFactor = DefaultWorkFactor
	}
	r.SetWorkFactor(workFactor)
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		return "", err
	}
	if _, err := w.Write(seed); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if err := aw.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// unseal decrypts what seal produced into the private key.
func unseal(armored, pass string) (ed25519.PrivateKey, error) {
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, err
	}
	id.SetMaxWorkFactor(maxWorkFactor)
	r, err := age.Decrypt(armor.NewReader(strings.NewReader(armored)), id)
	var noMatch *age.NoIdentityMatchError
	if errors.As(err, &noMatch) {
		return nil, ErrWrongPassphrase
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	seed, err := io.ReadAll(io.LimitReader(r, ed25519.SeedSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: the encrypted key is %d bytes, not %d", ErrCorrupt, len(seed), ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
