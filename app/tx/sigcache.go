package tx

import "sync"

// SigCache remembers transactions whose signature has verified, by the sha256 of their
// exact bytes (body, public key and signature). CheckTx verifies a transaction and adds
// it; FinalizeBlock then finds it and skips the second ed25519 verification, which is the
// largest cost of a simple transaction. Skipping is safe: the same bytes always verify the
// same way, so every node reaches the same result whether or not its cache has the entry.
//
// It holds two generations of half its size each: when the current one fills, it becomes
// the old one and a new one starts. A cache that started over empty would forget, at once,
// every transaction still waiting in the mempool, and the next proposal and block would
// verify them all again on the consensus path; this one forgets only the oldest half.
type SigCache struct {
	mu       sync.Mutex
	cur, old map[[32]byte]struct{}
	gen      int // entries per generation
	keys     keyCache
}

// NewSigCache returns a cache of at most size entries (at least 2).
func NewSigCache(size int) *SigCache {
	gen := max(size/2, 1)
	return &SigCache{cur: make(map[[32]byte]struct{}), old: map[[32]byte]struct{}{}, gen: gen, keys: keyCache{max: keyCacheSize}}
}

// verify checks a signature, with the cache's expanded public keys when there is a cache.
func (c *SigCache) verify(pub, msg, sig []byte) bool {
	if c == nil {
		return verify(pub, msg, sig)
	}
	return c.keys.verify(pub, msg, sig)
}

// keyCache returns the cache's expanded keys, nil without a cache.
func (c *SigCache) keyCache() *keyCache {
	if c == nil {
		return nil
	}
	return &c.keys
}

func (c *SigCache) has(h [32]byte) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[h]; ok {
		return true
	}
	_, ok := c.old[h]
	return ok
}

func (c *SigCache) add(h [32]byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(h)
}

func (c *SigCache) addLocked(h [32]byte) {
	if len(c.cur) >= c.gen {
		c.old, c.cur = c.cur, make(map[[32]byte]struct{}, c.gen)
	}
	c.cur[h] = struct{}{}
}

// addAll adds the hashes of es, under one lock.
func (c *SigCache) addAll(es []batchEntry) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range es {
		c.addLocked(e.hash)
	}
}

// Forget drops h, once its transaction is in a block.
func (c *SigCache) Forget(h [32]byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.cur, h)
	delete(c.old, h)
	c.mu.Unlock()
}

// Len returns the number of remembered transactions.
func (c *SigCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}
