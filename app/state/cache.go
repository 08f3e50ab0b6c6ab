package state

import (
	"bytes"
	"sort"
)

// Write is one pending write: a set, or a delete when Deleted.
type Write struct {
	Key     []byte
	Value   []byte
	Deleted bool
}

// Cache is a write set layered over a Reader. A block executes in a Cache over the Store;
// each transaction in a Cache over the block's, which it writes through on success and
// drops on failure. A Cache is not safe for concurrent use.
type Cache struct {
	parent Reader
	writes map[string]Write
}

// NewCache returns an empty write set over parent.
func NewCache(parent Reader) *Cache {
	return &Cache{parent: parent, writes: make(map[string]Write)}
}

// Get reads key through the write set.
func (c *Cache) Get(key []byte) ([]byte, error) {
	if w, ok := c.writes[string(key)]; ok {
		if w.Deleted {
			return nil, nil
		}
		return w.Value, nil
	}
	return c.parent.Get(key)
}

// Set records key = value. The cache keeps its own copies.
func (c *Cache) Set(key, value []byte) {
	k := string(key)
	c.writes[k] = Write{Key: []byte(k), Value: append([]byte{}, value...)}
}

// Delete records the removal of key.
func (c *Cache) Delete(key []byte) {
	k := string(key)
	c.writes[k] = Write{Key: []byte(k), Deleted: true}
}

// Len returns the number of pending writes.
func (c *Cache) Len() int { return len(c.writes) }

// WriteTo applies every pending write to dst.
func (c *Cache) WriteTo(dst *Cache) {
	for k, w := range c.writes {
		dst.writes[k] = w
	}
}

// Sorted returns the pending writes in key order: the only order in which they may feed
// anything deterministic (the app hash, the commit batch).
func (c *Cache) Sorted() []Write {
	out := make([]Write, 0, len(c.writes))
	for _, w := range c.writes {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out
}
