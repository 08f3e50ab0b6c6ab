// Package modhash is the identity the chain records for a runtime module: the sha256 of its
// original bytes. It is a leaf so that the rules (app/genesis, app/upgrade) can name modules
// without importing the engine that runs them (app/runtime, wazero).
package modhash

import (
	"encoding/hex"
	"fmt"
)

// Hash is the sha256 of a module's original (unmetered) bytes.
type Hash [32]byte

// String returns the hash in lower-case hex, as sha256sum prints it.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Parse parses a hex sha256.
func Parse(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("sha256 %q: want 64 hex characters", s)
	}
	copy(h[:], b)
	return h, nil
}
