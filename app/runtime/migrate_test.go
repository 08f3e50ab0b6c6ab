package runtime_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"sort"
	"strings"
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
)

// keyEnv is env with the key order a migration sees: the keys present when it was made.
type keyEnv struct {
	env
	keys []string
}

func (k *keyEnv) Next(after []byte) ([]byte, bool, error) {
	i := sort.SearchStrings(k.keys, string(after)+"\x00")
	if i == len(k.keys) {
		return nil, false, nil
	}
	return []byte(k.keys[i]), true, nil
}

// TestMigrateV3: v3's module lists bank and kv, walks each contract's keys through
// state_next and rewrites them in its format; v1 has no migration and runs nothing.
func TestMigrateV3(t *testing.T) {
	ctx := context.Background()
	_, mod := install(t, "v3")
	w := state.NewCache(newStore(t))
	seed := map[string]map[string]string{
		"bank": {"balance/A": "42", "burned": "7", "minted/A": "42"},
		"kv":   {"a": "one", "b": ""},
	}
	for c, kvs := range seed {
		for k, v := range kvs {
			w.Set(state.ContractKey(c, []byte(k)), []byte(v))
		}
	}
	envFor := func(c string) runtime.KeyEnv {
		var keys []string
		for k := range seed[c] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return &keyEnv{env{w, c}, keys}
	}
	s := mod.NewSession()
	defer s.Close(ctx)
	res, err := s.Migrate(ctx, envFor, 2, 10_000_000)
	if err != nil || res.Err != nil || !res.Exported || strings.Join(res.Contracts, ",") != "bank,kv" || res.GasUsed == 0 {
		t.Fatalf("migrate: %+v %v", res, err)
	}
	get := func(c, k string) []byte {
		v, _ := w.Get(state.ContractKey(c, []byte(k)))
		return v
	}
	if got := get("bank", "burned"); !bytes.Equal(got, binary.BigEndian.AppendUint64(nil, 7)) {
		t.Fatalf("burned %x", got)
	}
	if got := get("kv", "b"); !bytes.Equal(got, make([]byte, 8)) {
		t.Fatalf("kv b %x", got)
	}
	// From a version newer than v3 it refuses, and a limit too small for it runs out.
	res, _ = mod.NewSession().Migrate(ctx, envFor, 4, 10_000_000)
	if res.Err == nil || res.Err.Code != codes.ContractError || res.Failed != "bank" {
		t.Fatalf("from v4: %+v", res)
	}
	res, _ = mod.NewSession().Migrate(ctx, envFor, 2, 50_000)
	if res.Err == nil || res.Err.Code != codes.OutOfGas || res.GasUsed != 50_000 {
		t.Fatalf("small limit: %+v", res)
	}

	_, v1 := install(t, "v1")
	if v1.HasMigration() {
		t.Fatal("v1 has no migration")
	}
	if res, err := v1.NewSession().Migrate(ctx, envFor, 2, 10_000_000); err != nil || res.Exported || res.GasUsed != 0 {
		t.Fatalf("v1: %+v %v", res, err)
	}
}

// TestMigrationExportsComeInPairs: a module with one migration export and not the other
// is refused at install.
func TestMigrationExportsComeInPairs(t *testing.T) {
	ctx := context.Background()
	m, err := runtime.NewManager(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	mod := abiModule(nil)
	mod.exports = append(mod.exports, wexport{"vchain_migrate", 0, 2})
	if _, err := m.Install(ctx, 7, mod.bytes()); err == nil || !strings.Contains(err.Error(), "a migration needs both") {
		t.Fatalf("install: %v", err)
	}
}
