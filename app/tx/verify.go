package tx

import (
	"sync"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// verifyOptions is the rule set of Go's crypto/ed25519 (cofactorless equation, canonical s,
// small-order and non-canonical A accepted), run by curve25519-voi, which is faster and can
// verify against a public key decompressed once. Keeping the standard library's rules means
// the validity of a signature, a consensus rule, is exactly what any client checking with
// crypto/ed25519 sees; TestVerifyMatchesStdlib and FuzzVerifyMatchesStdlib pin it.
var verifyOptions = &voi.Options{Verify: voi.VerifyOptionsStdLib}

// verify reports whether sig is pub's signature of msg, without a key cache.
func verify(pub, msg, sig []byte) bool {
	return voi.VerifyWithOptions(voi.PublicKey(pub), msg, sig, verifyOptions)
}

// keyCache keeps the expanded (decompressed, precomputed) form of public keys seen more
// than once: accounts send many transactions, and against an expanded key a verification
// costs about a fifth less. Expanding costs about a plain verification, so a key is expanded only
// at its second signature. When full the cache starts over. The result of a verification
// never depends on the cache, only its speed.
type keyCache struct {
	mu sync.Mutex
	// m maps a key seen once to nil, a key seen again to its expanded form.
	m   map[[32]byte]*voi.ExpandedPublicKey
	max int
}

// keyCacheSize bounds the cache at about 6 MiB (an expanded key is ~1.5 KiB).
const keyCacheSize = 4096

func (c *keyCache) verify(pub, msg, sig []byte) bool {
	if len(pub) != voi.PublicKeySize {
		return false
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
	if !seen {
		return verify(pub, msg, sig)
	}
	if ex == nil {
		var err error
		if ex, err = voi.NewExpandedPublicKey(voi.PublicKey(pub)); err != nil {
			return false // not a point: no signature verifies (crypto/ed25519 decides the same)
		}
		c.mu.Lock()
		c.m[k] = ex
		c.mu.Unlock()
	}
	return voi.VerifyExpandedWithOptions(ex, msg, sig, verifyOptions)
}
