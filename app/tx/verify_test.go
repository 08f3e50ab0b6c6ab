package tx

import (
	"crypto/ed25519"
	"crypto/sha256"
	"math/big"
	"testing"
)

// edgeSignatures are the inputs on which ed25519 implementations are known to disagree
// (non-canonical s, R and A, small-order A and R): the verifier must decide each exactly as
// crypto/ed25519 does, since validity is a consensus rule and clients sign with it.
func edgeSignatures(t testing.TB) []struct{ name, pub, msg, sig []byte } {
	priv := ed25519.NewKeyFromSeed(sha256.New().Sum([]byte("verify-edge"))[:32])
	pub := priv.Public().(ed25519.PublicKey)
	msg := []byte("vchain/tx/v1\nbody")
	sig := ed25519.Sign(priv, msg)

	le := func(n *big.Int) []byte { // 32-byte little-endian
		b := n.FillBytes(make([]byte, 32))
		for i, j := 0, 31; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return b
	}
	fromLE := func(b []byte) *big.Int {
		r := make([]byte, len(b))
		for i := range b {
			r[len(b)-1-i] = b[i]
		}
		return new(big.Int).SetBytes(r)
	}
	order, _ := new(big.Int).SetString("7237005577332262213973186563042994763835353811233592637264546262218519252989", 10) // L
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

	sPlusL := append(append([]byte{}, sig[:32]...), le(new(big.Int).Add(fromLE(sig[32:]), order))...)
	identity := le(big.NewInt(1))                                         // the neutral point, small order
	identityNC := le(new(big.Int).Add(p, big.NewInt(1)))                  // the same point, y = p+1: non-canonical
	zeroSig := append(append([]byte{}, identity...), make([]byte, 32)...) // R = identity, s = 0
	flipped := func(b []byte, i int) []byte { c := append([]byte{}, b...); c[i] ^= 1; return c }

	return []struct{ name, pub, msg, sig []byte }{
		{[]byte("valid"), pub, msg, sig},
		{[]byte("other message"), pub, flipped(msg, 3), sig},
		{[]byte("flipped R"), pub, msg, flipped(sig, 1)},
		{[]byte("flipped s"), pub, msg, flipped(sig, 40)},
		{[]byte("s + L (non-canonical s)"), pub, msg, sPlusL},
		{[]byte("flipped key"), flipped(pub, 0), msg, sig},
		{[]byte("identity key, identity R, s=0"), identity, msg, zeroSig},
		{[]byte("non-canonical identity key"), identityNC, msg, zeroSig},
		{[]byte("identity key, non-canonical R"), identity, msg, append(append([]byte{}, identityNC...), make([]byte, 32)...)},
		{[]byte("key not on the curve"), le(big.NewInt(2)), msg, sig},
	}
}

func TestVerifyMatchesStdlib(t *testing.T) {
	cache := NewSigCache(10)
	for _, c := range edgeSignatures(t) {
		want := ed25519.Verify(c.pub, c.msg, c.sig)
		if got := verify(c.pub, c.msg, c.sig); got != want {
			t.Errorf("%s: verify = %v, crypto/ed25519 says %v", c.name, got, want)
		}
		for round := 0; round < 3; round++ { // from the third round on, the expanded key
			if got := cache.verify(c.pub, c.msg, c.sig); got != want {
				t.Errorf("%s (cached key, round %d): verify = %v, crypto/ed25519 says %v", c.name, round, got, want)
			}
		}
	}
	if !ed25519.Verify(edgeSignatures(t)[0].pub, edgeSignatures(t)[0].msg, edgeSignatures(t)[0].sig) {
		t.Fatal("the valid case does not verify: the vectors are wrong")
	}
}

// FuzzVerifyMatchesStdlib mutates public keys, messages and signatures and requires the
// verifier, with and without its key cache, to agree with crypto/ed25519 on every input.
func FuzzVerifyMatchesStdlib(f *testing.F) {
	for _, c := range edgeSignatures(f) {
		f.Add(c.pub, c.msg, c.sig)
	}
	cache := NewSigCache(16)
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
			return // Decode refuses other lengths before verifying (crypto/ed25519 panics)
		}
		want := ed25519.Verify(pub, msg, sig)
		if got := verify(pub, msg, sig); got != want {
			t.Fatalf("verify(%x, %x, %x) = %v, crypto/ed25519 says %v", pub, msg, sig, got, want)
		}
		if got := cache.verify(pub, msg, sig); got != want {
			t.Fatalf("cached verify(%x, %x, %x) = %v, crypto/ed25519 says %v", pub, msg, sig, got, want)
		}
	})
}
