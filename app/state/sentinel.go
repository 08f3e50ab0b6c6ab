package state

import "bytes"

// Sentinels keep every store non-empty, so that every key's absence can be proven.
//
// ICS23 has no proof in an empty IAVL tree (a non-existence proof names a neighbour of
// the key, and an empty tree has none), so before this a query of any key in a store no
// block had written yet (the contracts store of a new chain, the accounts store before
// the first transaction) got an error instead of a proof. Each store therefore holds one
// fixed key from its very first version: its namespace's bare prefix, which no real key
// can be (an account key adds a 20-byte address, a contract key "<name>/<key>", a runtime
// record its name), with a fixed value. Stage writes them into the first version and
// refuses any write to them, so they are never changed or deleted; Iterate skips them.
// They are part of the state the app hash commits to (a consensus rule).
var sentinels = []struct {
	store string
	key   []byte
}{
	{StoreAccounts, []byte(prefixAccount)},
	{StoreContracts, []byte(prefixContract)},
	{StoreRuntime, []byte(prefixRuntime)},
}

// SentinelValue is the value of every sentinel key.
var SentinelValue = []byte("vchain store sentinel")

// isSentinel reports whether key is one of the sentinel keys.
func isSentinel(key []byte) bool {
	for _, s := range sentinels {
		if bytes.Equal(key, s.key) {
			return true
		}
	}
	return false
}
