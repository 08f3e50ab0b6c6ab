// Package sdk is the guest-side API for vchain contracts compiled to wasm with
// GOOS=wasip1 GOARCH=wasm -buildmode=c-shared. A runtime module is a main package that
// registers its contracts in init; the SDK provides the exports the host calls
// (contracts/abi) and wraps the host imports in a Context.
package sdk

import (
	"encoding/json"
	"fmt"
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

// Context gives a contract access to its state and to the transaction it executes.
type Context struct{}

// ParseArgs decodes JSON arguments into v, with a readable error.
func ParseArgs(args []byte, v any) error {
	if len(args) == 0 {
		args = []byte("{}")
	}
	if err := json.Unmarshal(args, v); err != nil {
		return fmt.Errorf("arguments: %v", err)
	}
	return nil
}

// JSON encodes v as a result.
func JSON(v any) ([]byte, error) {
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
