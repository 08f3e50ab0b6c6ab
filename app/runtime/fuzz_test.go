package runtime_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"sync/atomic"
	"testing"

	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/contracts/abi"
)

// installSeeds are small hand-built modules: valid ones that misbehave when called, and
// ones Install must refuse.
func installSeeds() [][]byte {
	initLoops := abiModule(nil)
	initLoops.funcs[0].body = loopForever
	table := abiModule(nil)
	table.table = &[2]uint32{4, 8}
	mem := abiModule(nil)
	mem.memory = &[2]uint32{2, 1 << 16}
	good := abiModule(nil).bytes()
	return [][]byte{
		good,
		good[:len(good)/2],
		abiModule(append(append([]byte{}, loopForever...), opI64Const, 0)).bytes(),
		abiModule([]byte{opLocalGet, 0, opLocalGet, 1, opCall, 2}).bytes(),
		abiModule([]byte{opUnreachable, opI64Const, 0}).bytes(),
		initLoops.bytes(),
		table.bytes(),
		mem.bytes(),
		withImport(abiModule(nil), abi.ImportModule, abi.ImportBlockHeight, typVoid).bytes(),
		withImport(abiModule(nil), abi.ImportModule, "nope", typVoid).bytes(),
	}
}

// fuzzGas keeps a fuzz call short: a module that loops stops within milliseconds.
const fuzzGas = 200_000

// FuzzInstall: Install never panics on any bytes; it refuses with an error or installs a
// module that a session can call, where the call fails or succeeds as a Result (never a
// node error), identically twice.
func FuzzInstall(f *testing.F) {
	for _, s := range installSeeds() {
		f.Add(s)
	}
	ctx := context.Background()
	m := newManager(f)
	var version atomic.Uint64
	f.Fuzz(func(t *testing.T, wasm []byte) {
		mod, err := m.Install(ctx, version.Add(1), wasm)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refusal without a message")
			}
			return
		}
		if mod.SHA256 != runtime.Hash(sha256.Sum256(wasm)) {
			t.Fatal("installed module's hash is not the sha256 of its bytes")
		}
		var first runtime.Result
		for i := 0; i < 2; i++ {
			s := mod.NewSession()
			r, err := s.Execute(ctx, env{state.NewCache(newStore(t)), "x"}, abi.Request{Contract: "x", Method: "m"}, fuzzGas)
			s.Close(ctx)
			if err != nil {
				t.Fatalf("node error from a contract call: %v", err)
			}
			if r.GasUsed > fuzzGas {
				t.Fatalf("used %d gas of %d", r.GasUsed, fuzzGas)
			}
			if i == 0 {
				first = r
			} else if (r.Err == nil) != (first.Err == nil) || r.GasUsed != first.GasUsed || (r.Err != nil && r.Err.Code != first.Err.Code) {
				t.Fatalf("two runs differ: %v/%d then %v/%d", first.Err, first.GasUsed, r.Err, r.GasUsed)
			}
		}
	})
}

// FuzzLoad: whatever bytes sit in the runtime directory, Load never panics: it refuses a
// file whose sha256 is not the expected one, and otherwise loads it or says why not.
func FuzzLoad(f *testing.F) {
	for _, s := range installSeeds() {
		f.Add(s)
	}
	ctx := context.Background()
	m := newManager(f)
	var version atomic.Uint64
	f.Fuzz(func(t *testing.T, wasm []byte) {
		v := version.Add(1)
		if err := os.WriteFile(m.Path(v), wasm, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(m.Path(v))
		if _, err := m.Load(ctx, v, runtime.Hash(sha256.Sum256(append(wasm, 0))), latest()); !errors.Is(err, runtime.ErrHashMismatch) {
			t.Fatalf("a file with another sha256 was not refused as a mismatch: %v", err)
		}
		if _, err := m.Load(ctx, v, runtime.Hash(sha256.Sum256(wasm)), latest()); err != nil && err.Error() == "" {
			t.Fatal("refusal without a message")
		}
	})
}
