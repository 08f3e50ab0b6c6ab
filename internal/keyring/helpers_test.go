package keyring

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
)

var sprintf = fmt.Sprintf

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func marshal(t *testing.T, f keyFile) []byte {
	t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withEncrypted(t *testing.T, f keyFile, enc string) []byte {
	f.Encrypted = enc
	return marshal(t, f)
}
func withPub(t *testing.T, f keyFile, pub string) []byte   { f.PubKey = pub; return marshal(t, f) }
func withPriv(t *testing.T, f keyFile, priv string) []byte { f.PrivKey = priv; return marshal(t, f) }

func mustPlain(t *testing.T, name string, priv ed25519.PrivateKey) []byte {
	k := fromPrivate(name, priv)
	return marshal(t, keyFile{Name: name, Address: k.Address.String(), PubKey: hex.EncodeToString(k.PubKey), PrivKey: hex.EncodeToString(priv)})
}
