//go:build wasip1

// Command v2 is version 2 of the contract execution software. Compared with v1, visibly:
// kv gains "append", and bank burns a fee of 1 token per transfer.
package main

import (
	"github.com/vchain/vchain/contracts/sdk"
	"github.com/vchain/vchain/contracts/v1/bank"
	"github.com/vchain/vchain/contracts/v2/kv"
)

// TransferFee is what a v2 transfer burns.
const TransferFee = 1

func init() {
	sdk.Register("kv", kv.Handle)
	sdk.Register("bank", bank.New(TransferFee))
}

func main() {}
