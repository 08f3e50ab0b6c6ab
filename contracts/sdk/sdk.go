// Package sdk is the guest-side API for vchain contracts compiled to wasm with
// GOOS=wasip1 GOARCH=wasm -buildmode=c-shared. A runtime module is a main package that
// registers its contracts in init; the SDK provides the exports the host calls
// (contracts/abi) and wraps the host imports in a Context.
package sdk

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Handler executes one method of a contract. Returning an error fails the transaction and
// discards its writes; so does a panic.
type Handler func(c *Context, method string, args []byte) ([]byte, error)

var contracts = map[string]Handler{}

// Register makes contract name available. Call it from init.
func Register(name string, h Handler) {
	if _, dup := contracts[name]; dup {
		panic(fmt.Sprintf("sdk: contract %q registered twice", name))
	}
	contracts[name] = h
}

var warmups []func()

// RegisterWarmup adds f to the module's warm-up: the host runs it once after
// initialisation, before taking the snapshot every transaction starts from, so what f
// fills (encoding/json's cache of an argument type, a lazily built table) is filled for
// every transaction and none of them pays for it. f may not use the chain (no Context, no
// state, no events): a host call during the warm-up fails the module's initialisation.
// Call it from init.
func RegisterWarmup(f func()) { warmups = append(warmups, f) }

// WarmArgs returns a warm-up that decodes each sample JSON document into a fresh value of
// the type v points to, as ParseArgs will, so the decoder's per-type caches are built.
func WarmArgs(samples map[string]any) func() {
	return func() {
		// Sorted keys: the warm-up must do the same work in the same order on every node.
		keys := make([]string, 0, len(samples))
		for k := range samples {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := ParseArgs([]byte(k), samples[k]); err != nil {
				panic(fmt.Sprintf("sdk: warm-up sample %s: %v", k, err))
			}
		}
	}
}

// Context gives a contract access to its state and to the transaction it executes.
type Context struct{}

// ParseArgs decodes JSON arguments into v, with a readable error. It decodes as
// json.Unmarshal does; a flat object of strings, integers and booleans into a struct of
// such fields takes a shorter path (decodeFlat) to the same result.
func ParseArgs(args []byte, v any) error {
	if len(args) == 0 {
		args = []byte("{}")
	}
	if decodeFlat(args, v) {
		return nil
	}
	if err := json.Unmarshal(args, v); err != nil {
		return fmt.Errorf("arguments: %v", err)
	}
	return nil
}

// JSON encodes v as a result, as json.Marshal does; a struct of plain ASCII strings,
// integers and booleans takes a shorter path (encodeFlat) to the same bytes.
func JSON(v any) ([]byte, error) {
	if b, ok := encodeFlat(v); ok {
		return b, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode result: %v", err)
	}
	return b, nil
}

// UnknownMethod is the error for a method a contract does not have.
func UnknownMethod(contract, method string) error {
	return fmt.Errorf("contract %s has no method %q", contract, method)
}
