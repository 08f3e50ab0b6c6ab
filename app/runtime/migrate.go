package runtime

import (
	"context"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/contracts/abi/migration"
)

// KeyEnv is the Env of a migration call: a contract's state with its key order. Next
// returns the smallest key greater than after among the contract's keys when its
// migration began (the host import state_next); ok is false when there is none. An error
// is a node failure.
type KeyEnv interface {
	Env
	Next(after []byte) (next []byte, ok bool, err error)
}

// noChainEnv is the Env of a call that may not use the chain (the migration list): every
// host function fails it, naming what.
type noChainEnv struct{ what string }

func (noChainEnv) Get([]byte) ([]byte, error) { return nil, nil }
func (noChainEnv) Set(_, _ []byte)            {}
func (noChainEnv) Delete([]byte)              {}
func (noChainEnv) Caller() string             { return "" }
func (noChainEnv) Height() int64              { return 0 }

// MigrationResult is the outcome of Session.Migrate.
type MigrationResult struct {
	// Exported says whether the module has a migration at all; without one, Migrate runs
	// nothing and uses no gas.
	Exported bool
	// Contracts are the contracts the module migrates, in the order it listed them.
	Contracts []string
	// GasUsed is the gas of every call of the migration together (the list call included).
	GasUsed uint64
	// Events are the contracts' events, each with its contract's name as a prefix of its
	// type (as a transaction's are).
	Events []abi.Event
	// Err is nil on success. On failure the caller must discard every write the migration
	// made; Failed names the contract whose migration failed ("" for the list call).
	Err    *codes.Error
	Failed string
}

// HasMigration reports whether the module exports a migration (contracts/sdk/migrate).
func (m *Module) HasMigration() bool {
	_, ok := m.compiled.ExportedFunctions()[migration.ExportMigrate]
	return ok
}

// Migrate runs the module's migration from version from with at most gasLimit gas in all:
// it asks the module which contracts it migrates (ExportMigrations), then migrates each, in
// that order, with env(contract) as its state. Each call starts from the module's
// snapshot, like a transaction, and pays the same minimum and memory-growth charges; the
// first failure stops the migration. Failures are reported in the result; the error is a
// node failure only.
func (s *Session) Migrate(ctx context.Context, env func(contract string) KeyEnv, from, gasLimit uint64) (MigrationResult, error) {
	var out MigrationResult
	if !s.mod.HasMigration() {
		return out, nil
	}
	out.Exported = true
	res, err := s.callWith(ctx, noChainEnv{what: migration.ExportMigrations}, gasLimit, func(ctx context.Context) ([]byte, error) {
		r, err := s.in.migrations.Call(ctx)
		if err != nil {
			return nil, unwrapNodeError(err)
		}
		return s.answer(r[0])
	})
	if err != nil {
		return out, err
	}
	out.GasUsed += res.GasUsed
	if res.Err != nil {
		out.Err = res.Err
		return out, nil
	}
	names, cerr := migrationList(res.Data)
	if cerr != nil {
		out.Err = cerr
		return out, nil
	}
	out.Contracts = names
	for _, name := range names {
		req := migration.EncodeMigrateRequest(migration.MigrateRequest{Contract: name, From: from})
		res, err := s.callWith(ctx, env(name), gasLimit-out.GasUsed, func(ctx context.Context) ([]byte, error) {
			return s.run(ctx, s.in.migrate, req)
		})
		if err != nil {
			return out, err
		}
		out.GasUsed += res.GasUsed
		if res.Err == nil {
			for _, ev := range res.Events {
				ev.Type = name + "." + ev.Type
				out.Events = append(out.Events, ev)
			}
			continue
		}
		out.Err, out.Failed, out.Events = res.Err, name, nil
		return out, nil
	}
	return out, nil
}

// migrationList decodes the list ExportMigrations answers (the data of an encoded
// Response, as every answer of the guest is) and checks it.
func migrationList(raw []byte) ([]string, *codes.Error) {
	names, err := migration.DecodeNames(raw)
	if err != nil {
		return nil, codes.Errorf(codes.RuntimeIncomplete, "migration list: %v", err)
	}
	if len(names) > migration.MaxMigrations {
		return nil, codes.Errorf(codes.RuntimeIncomplete, "migration list: %d contracts, at most %d", len(names), migration.MaxMigrations)
	}
	for i, n := range names {
		if !validContract(n) {
			return nil, codes.Errorf(codes.RuntimeIncomplete, "migration list: contract %.64q: names are 1-64 characters of [a-z0-9_]", n)
		}
		if i > 0 && names[i-1] >= n {
			return nil, codes.Errorf(codes.RuntimeIncomplete, "migration list: not sorted, or %q twice", n)
		}
	}
	return names, nil
}

// validContract is app/tx's rule for a contract name (the runtime does not import app/tx).
func validContract(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
