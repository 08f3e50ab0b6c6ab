//go:build wasip1

// Package kv is the v3 key/value contract: v2's methods (set, get, delete, append), with
// each value stored after the height it was written at, 8 bytes big-endian, and a method
// "written" that returns that height. get answers the value alone, as v2's does. Values
// migrated from v1/v2 carry height 0: written before v3.
package kv

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/vchain/vchain/contracts/sdk"
	"github.com/vchain/vchain/contracts/sdk/migrate"
)

// HeaderLen is the size of the height stored before each value.
const HeaderLen = 8

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
	case "set", "append":
		var a setArgs
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		if a.Key == "" {
			return nil, fmt.Errorf("%s: key is empty", method)
		}
		var v []byte
		if method == "append" {
			v, _, _ = get(c, a.Key)
		}
		v = append(v, a.Value...)
		put(c, a.Key, c.Height(), v)
		c.Emit(method, "key", a.Key)
		if method == "append" {
			return v, nil
		}
		return nil, nil
	case "get", "written":
		var a keyArgs
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		v, h, ok := get(c, a.Key)
		if !ok {
			return nil, fmt.Errorf("%s: key %q not found", method, a.Key)
		}
		if method == "written" {
			return []byte(strconv.FormatInt(h, 10)), nil
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

func get(c *sdk.Context, key string) (value []byte, height int64, ok bool) {
	raw, ok := c.Get([]byte(key))
	if !ok {
		return nil, 0, false
	}
	if len(raw) < HeaderLen {
		sdk.Abort(fmt.Sprintf("kv: corrupt value under %q", key))
	}
	return raw[HeaderLen:], int64(binary.BigEndian.Uint64(raw)), true
}

func put(c *sdk.Context, key string, height int64, value []byte) {
	raw := binary.BigEndian.AppendUint64(make([]byte, 0, HeaderLen+len(value)), uint64(height))
	c.Set([]byte(key), append(raw, value...))
}

// Migrate stores every value of v1/v2's raw form after height 0 (written before v3). From
// a newer version it fails (see bank.Migrate).
func Migrate(c *sdk.Context, from uint64) error {
	switch {
	case from == 3:
		return nil
	case from > 3:
		return fmt.Errorf("kv: cannot migrate from v%d: its stored format is unknown to v3", from)
	}
	migrate.Keys(func(key []byte) bool {
		v, _ := c.Get(key)
		put(c, string(key), 0, v)
		return true
	})
	return nil
}
