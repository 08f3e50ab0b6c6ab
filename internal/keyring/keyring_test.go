package keyring

import (
	"crypto/ed25519"
	"os"
	"testing"
)

func TestKeyring(t *testing.T) {
	kr := Open(t.TempDir())
	a, err := kr.Add("alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Add("alice"); err == nil {
		t.Fatal("an existing key was replaced")
	}
	if _, err := kr.Add("../escape"); err == nil {
		t.Fatal("a path-like name was accepted")
	}
	got, err := kr.Get("alice")
	if err != nil || got.Address != a.Address || !ed25519.PublicKey(got.PubKey).Equal(a.PubKey) {
		t.Fatalf("get: %+v %v", got, err)
	}
	st, err := os.Stat(kr.path("alice"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v, want 0600", st.Mode(), err)
	}
	if _, err := kr.Get("bob"); err == nil {
		t.Fatal("missing key found")
	}
	if _, err := kr.Add("bob"); err != nil {
		t.Fatal(err)
	}
	list, err := kr.List()
	if err != nil || len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
		t.Fatalf("list: %v %v", list, err)
	}
}
