package tx

import "sync"

// SigCache remembers transactions whose signature has verified, by the sha256 of their
// exact bytes (body, public key and signature). CheckTx verifies a transaction and adds
// it; FinalizeBlock then finds it and skips the second ed25519 verification, which is the
// largest cost of a simple transaction. Skipping is safe: the same bytes always verify the
// same way, so every node reaches the same result whether or not its cache has the entry.
type SigCache struct {
	mu   sync.Mutex
	m    map[[32]byte]struct{}
	max  int
	keys keyCache
}

// NewSigCache returns a cache of at most max entries; when full it starts over, which
// costs only re-verifications.
func NewSigCache(max int) *SigCache {
	return &SigCache{m: make(map[[32]byte]struct{}), max: max, keys: keyCache{max: keyCacheSize}}
}

// verify checks a signature, with the cache's expanded public keys when there is a cache.
func (c *SigCache) verify(pub, msg, sig []byte) bool {
	if c == nil {
		return verify(pub, msg, sig)
	}
	return c.keys.verify(pub, msg, sig)
}

func (c *SigCache) has(h [32]byte) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[h]
	return ok
}

func (c *SigCache) add(h [32]byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[h] = struct{}{}
}

// Forget drops h, once its transaction is in a block.
func (c *SigCache) Forget(h [32]byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, h)
	c.mu.Unlock()
}

// Len returns the number of remembered transactions.
func (c *SigCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
