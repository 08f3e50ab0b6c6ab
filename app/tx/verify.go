package tx

import (
	"sync"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// verifyOptions is the signature rule, a consensus rule: ZIP-215 (the cofactored
// equation, a canonical s, any encoding of A and R that decodes to a point), as CometBFT
// itself checks validator signatures. It accepts every signature crypto/ed25519 accepts,
// so any client's signatures verify (TestVerifyAcceptsStdlib, FuzzVerify), and, unlike
// crypto/ed25519's cofactorless rule, batch verification decides it exactly: a batch
// verifies if and only if each of its signatures does (TestBatchMatchesSingle), which is
// what lets DecodeBlock batch. curve25519-voi runs it, faster than crypto/ed25519, and
// against a public key decompressed once.
var verifyOptions = &voi.Options{Verify: voi.VerifyOptionsZIP_215}

// verify reports whether sig is pub's signature of msg, without a key cache.
func verify(pub, msg, sig []byte) bool {
	return voi.VerifyWithOptions(voi.PublicKey(pub), msg, sig, verifyOptions)
}

// keyCache keeps the expanded (decompressed, precomputed) form of public keys seen more
// than once: accounts send many transactions, and against an expanded key a verification
// costs about a fifth less. Expanding costs about a plain verification, so a key is
// expanded only at its second signature. When full the cache starts over. The result of a
// verification never depends on the cache, only its speed.
type keyCache struct {
	mu sync.Mutex
	// m maps a key seen once to nil, a key seen again to its expanded form.
	m   map[[32]byte]*voi.ExpandedPublicKey
	max int
}

// keyCacheSize bounds the cache at about 6 MiB (an expanded key is ~1.5 KiB).
const keyCacheSize = 4096

func (c *keyCache) verify(pub, msg, sig []byte) bool {
	ex, ok := c.expanded(pub)
	if !ok {
		return false // no key: no signature verifies, as verify decides too
	}
	if ex == nil {
		return verify(pub, msg, sig)
	}
	return voi.VerifyExpandedWithOptions(ex, msg, sig, verifyOptions)
}

// expanded returns pub's expanded form, or nil the first time pub is seen. ok is false
// when pub is not 32 bytes or no point, so that no signature of it verifies.
func (c *keyCache) expanded(pub []byte) (ex *voi.ExpandedPublicKey, ok bool) {
	if len(pub) != voi.PublicKeySize {
		return nil, false
	}
	k := [32]byte(pub)
	c.mu.Lock()
	ex, seen := c.m[k]
	if !seen {
		if c.m == nil || len(c.m) >= c.max {
			c.m = make(map[[32]byte]*voi.ExpandedPublicKey, c.max)
		}
		c.m[k] = nil
	}
	c.mu.Unlock()
	if !seen || ex != nil {
		return ex, true
	}
	ex, err := voi.NewExpandedPublicKey(voi.PublicKey(pub))
	if err != nil {
		return nil, false
	}
	c.mu.Lock()
	c.m[k] = ex
	c.mu.Unlock()
	return ex, true
}
