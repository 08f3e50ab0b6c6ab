//go:build wasip1

// Command v1 is version 1 of the contract execution software: the kv and bank contracts.
// Build it with `make contracts` (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared).
package main

import (
	"github.com/vchain/vchain/contracts/sdk"
	"github.com/vchain/vchain/contracts/v1/bank"
	"github.com/vchain/vchain/contracts/v1/kv"
)

func init() {
	sdk.Register("kv", kv.Handle)
	sdk.Register("bank", bank.Handle)
}

func main() {}
