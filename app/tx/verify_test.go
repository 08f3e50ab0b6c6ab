package tx

import (
	"crypto/ed25519"
	"crypto/sha256"
	"math/big"
	"testing"
)

// edgeSignatures are the inputs on which ed25519 implementations are known to disagree
// (non-canonical s, R and A, small-order A and R): validity is a consensus rule, so each
// verdict is pinned.
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

// TestVerifyZIP215 pins the verdict of every edge case: ZIP-215's, which accepts all that
// crypto/ed25519 accepts (and, besides, a non-canonical R), with and without the key cache.
func TestVerifyZIP215(t *testing.T) {
	want := map[string]bool{
		"valid": true, "other message": false, "flipped R": false, "flipped s": false,
		"s + L (non-canonical s)": false, "flipped key": false,
		"identity key, identity R, s=0": true, "non-canonical identity key": true,
		"identity key, non-canonical R": true, // refused by crypto/ed25519's byte comparison of R
		"key not on the curve":          false,
	}
	cache := NewSigCache(10)
	for _, c := range edgeSignatures(t) {
		name := string(c.name)
		w, ok := want[name]
		if !ok {
			t.Fatalf("no verdict for %q", name)
		}
		if std := ed25519.Verify(c.pub, c.msg, c.sig); std && !w {
			t.Errorf("%s: crypto/ed25519 accepts what the table refuses", name)
		}
		if got := verify(c.pub, c.msg, c.sig); got != w {
			t.Errorf("%s: verify = %v, want %v", name, got, w)
		}
		for round := 0; round < 3; round++ { // from the third round on, the expanded key
			if got := cache.verify(c.pub, c.msg, c.sig); got != w {
				t.Errorf("%s (cached key, round %d): verify = %v, want %v", name, round, got, w)
			}
		}
	}
}

// validEntries returns n distinct valid signatures for batches.
func validEntries(n int) []batchEntry {
	es := make([]batchEntry, n)
	for i := range es {
		seed := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		priv := ed25519.NewKeyFromSeed(seed[:])
		msg := []byte("vchain/tx/v1\nbatch member " + string(rune('a'+i%26)))
		es[i] = batchEntry{pub: priv.Public().(ed25519.PublicKey), msg: msg, sig: ed25519.Sign(priv, msg), hash: sha256.Sum256(append(msg, byte(i)))}
	}
	return es
}

// TestBatchMatchesSingle: a batch of valid signatures plus one edge case accepts exactly
// when the edge case verifies on its own, wherever it sits in the batch.
// With a key cache that holds every key expanded, the verdicts are the same.
func TestBatchMatchesSingle(t *testing.T) {
	warm := &keyCache{max: keyCacheSize}
	for _, e := range append(validEntries(40), edgeEntries(t)...) {
		warmKey(warm, e.pub)
	}
	for _, keys := range []*keyCache{nil, warm} {
		for _, c := range edgeSignatures(t) {
			single := verify(c.pub, c.msg, c.sig)
			for _, at := range []int{0, 7, 20} {
				es := validEntries(20)
				e := batchEntry{pub: c.pub, msg: c.msg, sig: c.sig, hash: sha256.Sum256(c.sig)}
				es = append(es[:at], append([]batchEntry{e}, es[at:]...)...)
				if got := verifyBatch(es, keys); got != single {
					t.Errorf("%s at %d (expanded keys %v): batch = %v, alone = %v", c.name, at, keys != nil, got, single)
				}
			}
		}
		if !verifyBatch(validEntries(40), keys) {
			t.Fatalf("a batch of valid signatures fails (expanded keys %v)", keys != nil)
		}
	}
}

// edgeEntries returns the edge cases as batch entries.
func edgeEntries(t testing.TB) []batchEntry {
	var es []batchEntry
	for _, c := range edgeSignatures(t) {
		es = append(es, batchEntry{pub: c.pub, msg: c.msg, sig: c.sig, hash: sha256.Sum256(c.sig)})
	}
	return es
}

// FuzzVerify mutates public keys, messages and signatures: whatever crypto/ed25519 accepts
// verifies, the key cache never changes a verdict, and a batch holding the input accepts
// exactly when the input verifies alone.
func FuzzVerify(f *testing.F) {
	for _, c := range edgeSignatures(f) {
		f.Add(c.pub, c.msg, c.sig)
	}
	cache := NewSigCache(16)
	valid := validEntries(minBatch)
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
			return // parse refuses other lengths before verifying (crypto/ed25519 panics)
		}
		got := verify(pub, msg, sig)
		if ed25519.Verify(pub, msg, sig) && !got {
			t.Fatalf("verify(%x, %x, %x) refuses what crypto/ed25519 accepts", pub, msg, sig)
		}
		if c := cache.verify(pub, msg, sig); c != got {
			t.Fatalf("cached verify(%x, %x, %x) = %v, uncached %v", pub, msg, sig, c, got)
		}
		es := append(append([]batchEntry{}, valid...), batchEntry{pub: pub, msg: msg, sig: sig, hash: sha256.Sum256(sig)})
		if b := verifyBatch(es, nil); b != got {
			t.Fatalf("batch with (%x, %x, %x) = %v, alone %v", pub, msg, sig, b, got)
		}
	})
}

// warmKey has k expand pub, as its second signature does.
func warmKey(k *keyCache, pub []byte) {
	k.expanded(pub)
	k.expanded(pub)
}
