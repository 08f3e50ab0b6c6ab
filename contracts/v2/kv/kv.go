//go:build wasip1

// Package kv is the v2 key/value contract: v1's methods plus append.
package kv

import (
	"fmt"

	"github.com/vchain/vchain/contracts/sdk"
	kv1 "github.com/vchain/vchain/contracts/v1/kv"
)

// Handle dispatches a kv method.
func Handle(c *sdk.Context, method string, args []byte) ([]byte, error) {
	if method != "append" {
		return kv1.Handle(c, method, args)
	}
	var a struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	if err := sdk.ParseArgs(args, &a); err != nil {
		return nil, err
	}
	if a.Key == "" {
		return nil, fmt.Errorf("append: key is empty")
	}
	old, _ := c.Get([]byte(a.Key))
	v := append(old, a.Value...)
	c.Set([]byte(a.Key), v)
	c.Emit("append", "key", a.Key)
	return v, nil
}
