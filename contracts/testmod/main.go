//go:build wasip1

// Command testmod is a runtime module for tests only: the v1 contracts plus "fault", a
// contract that misbehaves on purpose so tests can check that every kind of failure is
// contained and deterministic. It is never installed on a real chain by the tooling.
package main

import (
	"github.com/vchain/vchain/contracts/sdk"
	"github.com/vchain/vchain/contracts/testmod/fault"
	"github.com/vchain/vchain/contracts/v1/bank"
	"github.com/vchain/vchain/contracts/v1/kv"
)

func init() {
	sdk.Register("kv", kv.Handle)
	sdk.Register("bank", bank.Handle)
	sdk.Register("fault", fault.Handle)
}

func main() {}
