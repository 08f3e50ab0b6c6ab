package runtime

import (
	"fmt"
	"slices"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/contracts/abi/migration"
)

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// requiredExports are the functions every runtime module exports, with their signatures.
var requiredExports = map[string][2][]api.ValueType{
	abi.ExportInitialize: {nil, nil},
	abi.ExportAlloc:      {{i32}, {i32}},
	abi.ExportExecute:    {{i32, i32}, {i64}},
}

// optionalExports are the functions a module may export, with their signatures.
var optionalExports = map[string][2][]api.ValueType{
	migration.ExportMigrations: {nil, {i64}},
	migration.ExportMigrate:    {{i32, i32}, {i64}},
}

// validate checks a compiled module against the ABI, so a wrong file fails at install with
// a clear message rather than at the first transaction.
func validate(c wazero.CompiledModule) error {
	exports := c.ExportedFunctions()
	for name, sig := range requiredExports {
		f, ok := exports[name]
		if !ok {
			return fmt.Errorf("missing export %q: not a vchain runtime module (build it with contracts/sdk)", name)
		}
		if !slices.Equal(f.ParamTypes(), sig[0]) || !slices.Equal(f.ResultTypes(), sig[1]) {
			return fmt.Errorf("export %q has signature %v -> %v, want %v -> %v", name, f.ParamTypes(), f.ResultTypes(), sig[0], sig[1])
		}
	}
	// The migration exports come as a pair or not at all (contracts/sdk/migrate).
	_, hasList := exports[migration.ExportMigrations]
	_, hasMigrate := exports[migration.ExportMigrate]
	if hasList != hasMigrate {
		return fmt.Errorf("exports only one of %q and %q: a migration needs both", migration.ExportMigrations, migration.ExportMigrate)
	}
	for name, sig := range optionalExports {
		f, ok := exports[name]
		if ok && (!slices.Equal(f.ParamTypes(), sig[0]) || !slices.Equal(f.ResultTypes(), sig[1])) {
			return fmt.Errorf("export %q has signature %v -> %v, want %v -> %v", name, f.ParamTypes(), f.ResultTypes(), sig[0], sig[1])
		}
	}
	if _, ok := c.ExportedMemories()[abi.ExportMemory]; !ok {
		return fmt.Errorf("missing exported memory %q", abi.ExportMemory)
	}
	for _, f := range c.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case abi.ImportModule:
			sig, ok := hostSignatures[name]
			if !ok {
				return fmt.Errorf("imports unknown host function %s.%s", mod, name)
			}
			if !slices.Equal(f.ParamTypes(), sig[0]) || !slices.Equal(f.ResultTypes(), sig[1]) {
				return fmt.Errorf("import %s.%s has signature %v -> %v, want %v -> %v", mod, name, f.ParamTypes(), f.ResultTypes(), sig[0], sig[1])
			}
		case "wasi_snapshot_preview1":
			// Served by wazero's deterministic defaults: fake clocks, seeded randomness,
			// no filesystem, discarded output.
		default:
			return fmt.Errorf("imports %s.%s: only %q and wasi_snapshot_preview1 may be imported", mod, name, abi.ImportModule)
		}
	}
	return nil
}
