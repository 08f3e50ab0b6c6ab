//go:build wasip1

// Package migrate gives a runtime module migrations: code that converts a contract's stored
// data when the module becomes the chain's effective version. At the switch's start height,
// before the block's first transaction, every node calls the new module's migration of each
// registered contract once, with the version effective until then (lower for an upgrade,
// higher for a downgrade), under the chain's migration_gas_limit. A migration that returns
// an error, panics, traps or runs out of gas fails the whole switch: none of its writes
// remain and the chain keeps the previous version.
//
// A module that imports this package exports migration.ExportMigrations and migration.ExportMigrate; one
// that does not has no migration (the switch changes no data).
package migrate

import (
	"fmt"
	"sort"
	"unsafe"

	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/contracts/abi/migration"
	"github.com/vchain/vchain/contracts/sdk"
)

// Func migrates one contract's state from version from. It reads and writes the contract's
// state through c (c.Caller() is empty: no transaction), and lists its keys with Keys.
type Func func(c *sdk.Context, from uint64) error

var migrations = map[string]Func{}

// Register adds contract's migration. Call it from init.
func Register(contract string, f Func) {
	if _, dup := migrations[contract]; dup {
		panic(fmt.Sprintf("migrate: contract %q registered twice", contract))
	}
	migrations[contract] = f
}

//go:wasmimport vchain state_next
func hostStateNext(keyPtr, keyLen, bufPtr, bufCap uint32) int32

// Keys calls fn with each key of the contract's state in key order, until fn returns
// false. The keys are those that existed when the contract's migration began: keys the
// migration writes or deletes meanwhile neither appear nor disappear, so a migration may
// rewrite every key it is given. fn must not keep key after it returns.
func Keys(fn func(key []byte) bool) {
	var prev []byte
	buf := make([]byte, abi.MaxKeyLen)
	for {
		n := hostStateNext(ptrOf(prev), uint32(len(prev)), ptrOf(buf), uint32(len(buf)))
		if n < 0 {
			return
		}
		if int(n) > len(buf) {
			sdk.Abort("migrate: a key longer than the key limit")
		}
		key := append([]byte(nil), buf[:n]...)
		if !fn(key) {
			return
		}
		prev = key
	}
}

// lastAnswer stays alive after an export returns, until the host has read it.
var lastAnswer []byte

func answer(r abi.Response) uint64 {
	lastAnswer = abi.EncodeResponse(r)
	return abi.PackPtrLen(ptrOf(lastAnswer), uint32(len(lastAnswer)))
}

//go:wasmexport vchain_migrations
func exportMigrations() uint64 {
	names := make([]string, 0, len(migrations))
	for n := range migrations {
		names = append(names, n)
	}
	sort.Strings(names) // the host runs them in this order, on every node
	return answer(abi.Response{Data: migration.EncodeNames(names)})
}

//go:wasmexport vchain_migrate
func exportMigrate(ptr, n uint32) uint64 {
	// The host wrote the request into a buffer from vchain_alloc.
	raw, ok := sdk.Buffer(ptr, n)
	if !ok {
		return answer(abi.Response{Err: fmt.Sprintf("migrate: request buffer %#x/%d was not allocated by vchain_alloc", ptr, n)})
	}
	req, err := migration.DecodeMigrateRequest(raw)
	if err != nil {
		return answer(abi.Response{Err: err.Error()})
	}
	f, ok := migrations[req.Contract]
	if !ok {
		return answer(abi.Response{Err: fmt.Sprintf("no migration for contract %q", req.Contract)})
	}
	return answer(run(f, req.From))
}

func run(f Func, from uint64) (resp abi.Response) {
	defer func() {
		// As for a transaction: a panic fails the migration through abort.
		if r := recover(); r != nil {
			sdk.Abort(fmt.Sprintf("panic: %v", r))
		}
	}()
	if err := f(&sdk.Context{}, from); err != nil {
		return abi.Response{Err: err.Error()}
	}
	return abi.Response{}
}

func ptrOf(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}
