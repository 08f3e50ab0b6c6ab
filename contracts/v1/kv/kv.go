//go:build wasip1

// Package kv is a key/value contract: set stores a value under a key, get reads it,
// delete removes it. Values are stored raw, so `vchaind query state kv KEY` prints them.
package kv

import (
	"fmt"

	"github.com/vchain/vchain/contracts/sdk"
)

type setArgs struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type keyArgs struct {
	Key string `json:"key"`
}

func init() {
	sdk.RegisterWarmup(sdk.WarmArgs(map[string]any{
		`{"key":"k","value":"v"}`: &setArgs{},
		`{"key":"k"}`:             &keyArgs{},
	}))
}

// Handle dispatches a kv method.
func Handle(c *sdk.Context, method string, args []byte) ([]byte, error) {
	switch method {
	case "set":
		var a setArgs
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		if a.Key == "" {
			return nil, fmt.Errorf("set: key is empty")
		}
		c.Set([]byte(a.Key), []byte(a.Value))
		c.Emit("set", "key", a.Key)
		return nil, nil
	case "get":
		var a keyArgs
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		v, ok := c.Get([]byte(a.Key))
		if !ok {
			return nil, fmt.Errorf("get: key %q not found", a.Key)
		}
		return v, nil
	case "delete":
		var a keyArgs
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		c.Delete([]byte(a.Key))
		c.Emit("delete", "key", a.Key)
		return nil, nil
	default:
		return nil, sdk.UnknownMethod("kv", method)
	}
}
