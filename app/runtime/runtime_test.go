package runtime_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/internal/testwasm"
)

const caller = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// env is a runtime.Env over a real store's write set, namespaced like the executor does.
type env struct {
	*state.Cache
	contract string
}

func (e env) Get(k []byte) ([]byte, error) { return e.Cache.Get(state.ContractKey(e.contract, k)) }
func (e env) Set(k, v []byte)              { e.Cache.Set(state.ContractKey(e.contract, k), v) }
func (e env) Delete(k []byte)              { e.Cache.Delete(state.ContractKey(e.contract, k)) }
func (e env) Caller() string               { return caller }
func (e env) Height() int64                { return 7 }

func newStore(t testing.TB) *state.Store {
	st, err := state.Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func install(t testing.TB, name string) (*runtime.Manager, *runtime.Module) {
	t.Helper()
	ctx := context.Background()
	m, err := runtime.NewManager(ctx, t.TempDir(), runtime.WithCacheDir(testwasm.CacheDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(ctx) })
	mod, err := m.Install(ctx, 1, testwasm.Module(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return m, mod
}

func call(t testing.TB, s *runtime.Session, w *state.Cache, contract, method, args string, gas uint64) runtime.Result {
	t.Helper()
	res, err := s.Execute(context.Background(), env{w, contract}, abi.Request{Contract: contract, Method: method, Args: []byte(args)}, gas)
	if err != nil {
		t.Fatalf("%s.%s: node error: %v", contract, method, err)
	}
	return res
}

func TestKVSetGet(t *testing.T) {
	_, mod := install(t, "v1")
	s := mod.NewSession()
	defer s.Close(context.Background())
	w := state.NewCache(newStore(t))
	if r := call(t, s, w, "kv", "set", `{"key":"a","value":"1"}`, 10_000_000); r.Err != nil {
		t.Fatalf("set: %v", r.Err)
	} else if len(r.Events) != 1 || r.Events[0].Type != "set" || r.GasUsed == 0 {
		t.Fatalf("set: events %+v gas %d", r.Events, r.GasUsed)
	}
	if v, _ := w.Get(state.ContractKey("kv", []byte("a"))); string(v) != "1" {
		t.Fatalf("stored %q, want 1", v)
	}
	r := call(t, s, w, "kv", "get", `{"key":"a"}`, 10_000_000)
	if r.Err != nil || string(r.Data) != "1" {
		t.Fatalf("get: %q %v", r.Data, r.Err)
	}
	t.Logf("kv.get gas %d", r.GasUsed)
}

// TestFailuresAreContained runs every kind of misbehaviour and checks the code, that the
// same call gives the same code and gas on a fresh instance (as on another node), and
// that the session still serves a good call afterwards.
func TestFailuresAreContained(t *testing.T) {
	_, mod := install(t, "testmod")
	cases := []struct {
		method, args string
		gas          uint64
		want         codes.Code
	}{
		{"loop", "", 5_000_000, codes.OutOfGas},
		{"spin", `{"n":100000000}`, 5_000_000, codes.OutOfGas},
		{"panic", "", 10_000_000, codes.ContractAbort},
		{"exit", "", 10_000_000, codes.ContractTrap},
		{"alloc", `{"mb":200}`, 1 << 40, codes.ContractTrap},
		{"recurse", "", 1 << 40, codes.ContractTrap},
		{"write_then_fail", "", 10_000_000, codes.ContractError},
		{"write_then_panic", "", 10_000_000, codes.ContractAbort},
		{"big_key", "", 10_000_000, codes.ContractAbort},
		{"abort", "", 10_000_000, codes.ContractAbort},
		{"nosuch", "", 10_000_000, codes.ContractError},
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			var first runtime.Result
			for i := 0; i < 2; i++ {
				s := mod.NewSession()
				w := state.NewCache(newStore(t))
				r := call(t, s, w, "fault", tc.method, tc.args, tc.gas)
				if r.Err == nil || r.Err.Code != tc.want {
					t.Fatalf("got %+v, want code %s", r.Err, tc.want)
				}
				// Go recursion stops at the metering's depth limit, the same frame on every
				// machine, not where the Go runtime or the native stack gives up.
				if want := fmt.Sprintf("call depth exceeded %d", profile1().MaxCallDepth); tc.method == "recurse" && r.Err.Msg != want {
					t.Fatalf("recurse: %q, want %q", r.Err.Msg, want)
				}
				if r.Data != nil || r.Events != nil {
					t.Fatalf("failed call returned data %q events %v", r.Data, r.Events)
				}
				if i == 0 {
					first = r
					t.Logf("%s: gas %d: %s", tc.method, r.GasUsed, r.Err)
				} else if r.GasUsed != first.GasUsed || r.Err.Error() != first.Err.Error() {
					t.Fatalf("not deterministic: %d %q then %d %q", first.GasUsed, first.Err, r.GasUsed, r.Err)
				}
				if ok := call(t, s, w, "kv", "set", `{"key":"k","value":"v"}`, 10_000_000); ok.Err != nil {
					t.Fatalf("session unusable after %s: %v", tc.method, ok.Err)
				}
				s.Close(context.Background())
			}
		})
	}
}

func TestGasGrowsWithWork(t *testing.T) {
	_, mod := install(t, "testmod")
	s := mod.NewSession()
	defer s.Close(context.Background())
	w := state.NewCache(newStore(t))
	// The first call on an instance also pays the Go runtime's lazy initialisation.
	call(t, s, w, "fault", "spin", `{"n":1}`, 1<<40)
	var prev uint64
	for _, n := range []int{10, 1000, 100000} {
		r := call(t, s, w, "fault", "spin", `{"n":`+strconv.Itoa(n)+`}`, 1<<40)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if r.GasUsed <= prev {
			t.Fatalf("spin %d used %d gas, not more than %d", n, r.GasUsed, prev)
		}
		prev = r.GasUsed
	}
}

func TestLoadRefusesTamperedModule(t *testing.T) {
	ctx := context.Background()
	m, mod := install(t, "v1")
	want := mod.SHA256
	m2, err := runtime.NewManager(ctx, m.Dir(), runtime.WithCacheDir(testwasm.CacheDir())) // a restarted node: nothing loaded yet
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close(ctx)
	if list, err := m.List(); err != nil || list[0].SHA256 != want {
		t.Fatalf("list before the replacement: %+v %v", list, err)
	}
	other := testwasm.Module(t, "testmod")
	if err := os.WriteFile(m.Path(1), other, 0o644); err != nil {
		t.Fatal(err)
	}
	// List remembers hashes by file stamp: a replaced file must show its new hash.
	if list, err := m.List(); err != nil || list[0].SHA256 != sha256.Sum256(other) {
		t.Fatalf("list after the replacement: %+v %v", list, err)
	}
	if _, err := m2.Load(ctx, 1, want, latest()); !errors.Is(err, runtime.ErrHashMismatch) {
		t.Fatalf("load of a replaced module: %v, want ErrHashMismatch", err)
	}
	if _, err := m2.Load(ctx, 2, want, latest()); !errors.Is(err, runtime.ErrNotInstalled) {
		t.Fatalf("load of a missing version: %v, want ErrNotInstalled", err)
	}
}

func TestInstall(t *testing.T) {
	ctx := context.Background()
	m, mod := install(t, "v1")
	v1 := testwasm.Module(t, "v1")
	if mod.SHA256 != sha256.Sum256(v1) {
		t.Fatal("module hash is not the sha256 of its bytes")
	}
	if _, err := m.Install(ctx, 1, v1); err != nil {
		t.Fatalf("re-install of the same bytes: %v", err)
	}
	if _, err := m.Install(ctx, 1, testwasm.Module(t, "testmod")); err == nil {
		t.Fatal("different bytes for an installed version were accepted")
	}
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"not wasm":  []byte("hello world"),
		"truncated": v1[:len(v1)/2],
	} {
		if _, err := m.Install(ctx, 5, bad); err == nil {
			t.Errorf("%s module accepted", name)
		}
		if _, err := os.Stat(filepath.Join(m.Dir(), "v5.wasm")); err == nil {
			t.Fatalf("%s module was stored", name)
		}
	}
	list, err := m.List()
	if err != nil || len(list) != 1 || list[0].Version != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
}

// latest is the profile Install uses.
func latest() profile.Profile {
	p, err := profile.Get(profile.Latest())
	if err != nil {
		panic(err)
	}
	return p
}

// TestBankAddresses checks the bank's address rule: 40 hex digits in either case, stored
// upper-case; anything else is refused with the address quoted.
func TestBankAddresses(t *testing.T) {
	_, mod := install(t, "v1")
	s := mod.NewSession()
	defer s.Close(context.Background())
	w := state.NewCache(newStore(t))
	if r := call(t, s, w, "bank", "mint", `{"amount":100}`, 10_000_000); r.Err != nil {
		t.Fatalf("mint: %v", r.Err)
	}
	lower, upper := strings.Repeat("ab", 20), strings.Repeat("AB", 20)
	if r := call(t, s, w, "bank", "transfer", `{"to":"`+lower+`","amount":5}`, 10_000_000); r.Err != nil {
		t.Fatalf("transfer to lower case: %v", r.Err)
	}
	if r := call(t, s, w, "bank", "transfer", `{"to":"`+strings.Repeat("aB", 20)+`","amount":2}`, 10_000_000); r.Err != nil {
		t.Fatalf("transfer to mixed case: %v", r.Err)
	}
	r := call(t, s, w, "bank", "balance", `{"address":"`+upper+`"}`, 10_000_000)
	if want := `{"address":"` + upper + `","balance":7}`; r.Err != nil || string(r.Data) != want {
		t.Fatalf("balance: %s %v, want %s", r.Data, r.Err, want)
	}
	for _, bad := range []string{strings.Repeat("A", 39), strings.Repeat("A", 41), strings.Repeat("A", 39) + "G", strings.Repeat("A", 38) + "é", ""} {
		r := call(t, s, w, "bank", "transfer", `{"to":"`+bad+`","amount":1}`, 10_000_000)
		if r.Err == nil || !strings.Contains(r.Err.Error(), fmt.Sprintf("address %q: want 40 hex characters", bad)) {
			t.Errorf("transfer to %q: %v", bad, r.Err)
		}
	}
}
