package tx

import "sync"

// SigCache remembers transactions whose signature has verified, by the sha256 of their
// exact bytes (body, public key and signature), with what they parsed to. CheckTx verifies
// a transaction and adds it; FinalizeBlock then finds it and skips the second ed25519
// verification, which is the largest cost of a simple transaction, and the second parse.
// Skipping is safe: the same bytes always parse and verify the same way, so every node
// reaches the same result whether or not its cache has the entry.
//
// It holds two generations of half its size each: when the current one fills, it becomes
// the old one and a new one starts. A cache that started over empty would forget, at once,
// every transaction still waiting in the mempool, and the next proposal and block would
// verify them all again on the consensus path; this one forgets only the oldest half.
type SigCache struct {
	mu       sync.Mutex
	cur, old map[[32]byte]*parsed // never changed once added: readers copy (parsed.clone)
	gen      int                  // entries per generation
	keys     keyCache
}

// NewSigCache returns a cache of at most size entries (at least 2).
func NewSigCache(size int) *SigCache {
	gen := max(size/2, 1)
	return &SigCache{cur: make(map[[32]byte]*parsed), old: map[[32]byte]*parsed{}, gen: gen, keys: keyCache{max: keyCacheSize}}
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

// lookup returns what the transaction of hash h parsed to when its signature verified,
// nil if the cache has not seen it.
func (c *SigCache) lookup(h [32]byte) *parsed {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.cur[h]; ok {
		return p
	}
	return c.old[h]
}

// add remembers p, whose signature verified. The cache keeps its own copy: what it hands
// out is never what a caller holds.
func (c *SigCache) add(p *parsed) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(p)
}

func (c *SigCache) addLocked(p *parsed) {
	if len(c.cur) >= c.gen {
		c.old, c.cur = c.cur, make(map[[32]byte]*parsed, c.gen)
	}
	c.cur[p.tx.Hash] = p.clone()
}

// addAll adds the hashes of es, under one lock.
func (c *SigCache) addAll(es []batchEntry) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range es {
		c.addLocked(e.p)
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
