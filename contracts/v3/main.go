//go:build wasip1

// Command v3 is version 3 of the contract execution software: v2's methods and fee with a
// new stored format, which its migration converts when v3 becomes effective (from v1 or
// v2), and v2's migration converts back on a downgrade. bank stores amounts as 8 bytes
// big-endian instead of decimal text; kv stores each value after the height it was
// written at (method "written" returns it).
package main

import (
	"github.com/vchain/vchain/contracts/sdk"
	"github.com/vchain/vchain/contracts/sdk/migrate"
	"github.com/vchain/vchain/contracts/v3/bank"
	"github.com/vchain/vchain/contracts/v3/kv"
)

// TransferFee is what a v3 transfer burns, as in v2.
const TransferFee = 1

func init() {
	sdk.Register("kv", kv.Handle)
	sdk.Register("bank", bank.New(TransferFee))
	migrate.Register("kv", kv.Migrate)
	migrate.Register("bank", bank.Migrate)
}

func main() {}
