//go:build wasip1

// Command testmig is a runtime module for tests only: v2's contracts with a kv migration
// that fails, so tests can check that a failed migration aborts its switch cleanly. What
// it does is chosen by the kv value under "migration" (v2's raw form): "error" returns an
// error, "panic" panics (an abort), "exit" exits the module (a trap), "ok" migrates
// nothing and succeeds; absent or anything else, it loops until its gas runs out. Before
// failing it writes a key, so a test sees that the write is discarded.
package main

import (
	"errors"
	"os"

	"github.com/vchain/vchain/contracts/sdk"
	"github.com/vchain/vchain/contracts/sdk/migrate"
	"github.com/vchain/vchain/contracts/v1/bank"
	"github.com/vchain/vchain/contracts/v2/kv"
)

func init() {
	sdk.Register("kv", kv.Handle)
	sdk.Register("bank", bank.New(1))
	migrate.Register("kv", migrateKV)
}

// spin is a package variable so the compiler cannot drop the loop.
var spin uint64

func migrateKV(c *sdk.Context, from uint64) error {
	mode, _ := c.Get([]byte("migration"))
	c.Set([]byte("half_migrated"), []byte("yes"))
	switch string(mode) {
	case "ok":
		c.Delete([]byte("half_migrated"))
		return nil
	case "error":
		return errors.New("testmig: refusing to migrate")
	case "panic":
		panic("testmig: migration panicked")
	case "exit":
		os.Exit(3)
	}
	for {
		spin++
	}
}

func main() {}
