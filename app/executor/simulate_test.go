package executor_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"reflect"
	"strings"
	"testing"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/internal/testwasm"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

func simulate(t *testing.T, n *node, raw []byte) *executor.SimulateResult {
	t.Helper()
	s, qerr := n.exec.Simulate(raw)
	if qerr != nil {
		t.Fatalf("simulate: query failed: %v", qerr)
	}
	return s
}

// nodeSnapshot is what a simulation must leave as it was: the committed height and app
// hash, and the mempool's view of the senders' nonces.
type nodeSnapshot struct {
	height  int64
	appHash string
	nonces  map[string][2]uint64
}

func snapshot(t *testing.T, n *node, keys ...ed25519.PrivateKey) nodeSnapshot {
	t.Helper()
	s := nodeSnapshot{height: n.store.Height(), appHash: string(n.exec.AppHash()), nonces: map[string][2]uint64{}}
	for _, k := range keys {
		c, p, err := n.exec.Nonces(tx.AddressOf(k.Public().(ed25519.PublicKey)))
		if err != nil {
			t.Fatal(err)
		}
		s.nonces[addr(k)] = [2]uint64{c, p}
	}
	return s
}

// TestSimulate: a simulated call reports the code, gas, data and runtime version the same
// transaction gets when it is executed alone in the next block, and leaves the committed
// state, the mempool's nonces and the signature cache as they were.
func TestSimulate(t *testing.T) {
	alice := key(2)
	n := newNode(t, nil, "", "testmod")
	n.initChain("testmod")
	n.block(signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`))
	// alice has a transaction waiting in the mempool: its tracking must survive simulations.
	if _, cerr := n.exec.CheckTx(signed(t, alice, 1, "kv", "set", `{"key":"x","value":"1"}`)); cerr != nil {
		t.Fatal(cerr)
	}

	cases := []struct {
		name string
		raw  []byte
		want codes.Code
	}{
		{"kv.set", signed(t, admin, 2, "kv", "set", `{"key":"b","value":"2"}`), codes.OK},
		{"kv.get", signed(t, admin, 2, "kv", "get", `{"key":"a"}`), codes.OK},
		{"contract error", signed(t, admin, 2, "fault", "write_then_fail", ""), codes.ContractError},
		{"trap", signed(t, admin, 2, "fault", "exit", ""), codes.ContractTrap},
		{"out of gas", signed(t, admin, 2, "fault", "loop", "", gasLimit(200_000)), codes.OutOfGas},
		{"lifecycle message", signed(t, admin, 2, "", "", "", register(2, testwasm.Module(t, "v2"))), codes.OK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, n, admin, alice)
			sim := simulate(t, n, tc.raw)
			if sim.Refused || sim.Code != tc.want {
				t.Fatalf("simulated %+v, want code %s", sim, tc.want)
			}
			if sim.RuntimeVersion != 1 || sim.Height != before.height || sim.GasUsed == 0 {
				t.Fatalf("simulated %+v: want runtime 1, height %d and some gas", sim, before.height)
			}
			if again := simulate(t, n, tc.raw); !reflect.DeepEqual(again, sim) {
				t.Fatalf("a second simulation differs: %+v then %+v", sim, again)
			}
			if after := snapshot(t, n, admin, alice); after.height != before.height || after.appHash != before.appHash ||
				after.nonces[addr(admin)] != before.nonces[addr(admin)] || after.nonces[addr(alice)] != before.nonces[addr(alice)] {
				t.Fatalf("simulation changed the node: %+v, then %+v", before, after)
			}
			if v, _ := n.store.Get(state.ContractKey("kv", []byte("b"))); v != nil {
				t.Fatalf("simulated write reached the store: %q", v)
			}
			if p, _ := upgrade.NewKeeper(state.NewCache(n.store)).Release(2); p != nil {
				t.Fatalf("simulated registration reached the store: %+v", p)
			}
			// A block holding only the transaction gets what the simulation said. A fork of the
			// node runs the block, so the next case simulates on the same state.
			fork := forkNode(t, n)
			got := fork.block(tc.raw).TxResults[0]
			rec := execRecord(t, got.Data)
			if got.Code != sim.Code || got.GasUsed != sim.GasUsed || got.GasWanted != sim.GasWanted ||
				!bytes.Equal(rec.Data, sim.Data) || got.Log != sim.Log || rec.RuntimeVersion != sim.RuntimeVersion || rec.Profile != sim.Profile {
				t.Fatalf("in a block: %s gas %d/%d data %q log %q record %+v\nsimulated:  %s gas %d/%d data %q log %q",
					got.Code, got.GasUsed, got.GasWanted, rec.Data, got.Log, rec, sim.Code, sim.GasUsed, sim.GasWanted, sim.Data, sim.Log)
			}
			t.Logf("%-18s %-14s gas %d", tc.name, sim.Code, sim.GasUsed)
		})
	}

	// alice's next nonce (after the one waiting) simulates, and stays free for CheckTx.
	next := signed(t, alice, 2, "kv", "set", `{"key":"y","value":"2"}`)
	before := snapshot(t, n, alice)
	if sim := simulate(t, n, next); sim.Refused || sim.Code != codes.OK {
		t.Fatalf("alice's next nonce: %+v", sim)
	}
	if after := snapshot(t, n, alice); after.nonces[addr(alice)] != before.nonces[addr(alice)] {
		t.Fatalf("simulation changed alice's mempool nonces: %v, then %v", before.nonces, after.nonces)
	}
	if _, cerr := n.exec.CheckTx(next); cerr != nil {
		t.Fatalf("CheckTx after simulating the same transaction: %v", cerr)
	}
}

// forkNode copies n's committed store into a new node with the same runtimes, so a block
// can be executed on n's state without changing n.
func forkNode(t *testing.T, n *node) *node {
	t.Helper()
	f := newNode(t, nil, "", "testmod")
	it, err := n.db.Iterator(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if err := f.db.Set(it.Key(), it.Value()); err != nil {
			t.Fatal(err)
		}
	}
	st, err := state.Open(f.db)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := executor.New(st, f.rm, nopLog{})
	if err != nil {
		t.Fatal(err)
	}
	f.store, f.exec = st, ex
	return f
}

// TestSimulateRefusals: what CheckTx refuses statelessly, and a used nonce, is refused with
// CheckTx's code, nothing executed; a nonce ahead of the next one is simulated.
func TestSimulateRefusals(t *testing.T) {
	n := newNode(t, nil, "", "testmod")
	n.initChain("testmod")
	n.block(signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`))

	var env txv1.Tx
	if err := env.Unmarshal(signed(t, admin, 2, "kv", "set", `{"key":"b","value":"2"}`)); err != nil {
		t.Fatal(err)
	}
	env.Signature = append([]byte{}, env.Signature...)
	env.Signature[0] ^= 1
	cases := []struct {
		name string
		raw  []byte
		want codes.Code
	}{
		{"garbage", []byte("not a transaction"), codes.Undecodable},
		{"bad signature", envelope(t, &env), codes.BadSignature},
		{"wrong chain", signed(t, admin, 2, "kv", "set", `{}`, func(b *txv1.TxBody) { b.ChainId = "other-chain" }), codes.WrongChain},
		{"replayed nonce", signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`), codes.NonceReplayed},
		{"too much gas", signed(t, admin, 2, "kv", "set", `{}`, gasLimit(genesis.DefaultMaxGasPerTx+1)), codes.BadGasLimit},
		{"lifecycle by a stranger", signed(t, key(9), 1, "", "", "", register(2, testwasm.Module(t, "v2"))), codes.Unauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim := simulate(t, n, tc.raw)
			if !sim.Refused || sim.Code != tc.want || sim.GasUsed != 0 || sim.Log == "" {
				t.Fatalf("simulated %+v, want refused with %s", sim, tc.want)
			}
			if _, cerr := n.exec.CheckTx(tc.raw); cerr == nil || cerr.Code != tc.want {
				t.Fatalf("CheckTx %v, want %s as the simulation", cerr, tc.want)
			}
		})
	}
	if sim := simulate(t, n, signed(t, admin, 5, "kv", "set", `{"key":"c","value":"3"}`)); sim.Refused || sim.Code != codes.OK {
		t.Fatalf("a nonce ahead (its predecessors may wait in a mempool): %+v, want simulated", sim)
	}
}

// TestSimulateUnavailable: a node without the runtime that would execute the next block
// answers with QueryUnavailable and says which version it lacks (here before the first
// block, whose genesis writes the simulation reads).
func TestSimulateUnavailable(t *testing.T) {
	ctx := context.Background()
	st, err := state.Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	rm, err := runtime.NewManager(ctx, t.TempDir(), runtime.WithCacheDir(testwasm.CacheDir())) // nothing installed
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rm.Close(ctx) })
	ex, err := executor.New(st, rm, nopLog{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.InitChain(chainID, 1, appState(t, testwasm.Module(t, "testmod")), genesisValidators(), executor.NoMaxBlockGas); err != nil {
		t.Fatal(err)
	}
	_, qerr := ex.Simulate(signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`))
	if qerr == nil || qerr.Code != executor.QueryUnavailable || !strings.Contains(qerr.Msg, "runtime v1") {
		t.Fatalf("simulate without the runtime: %v, want %s naming runtime v1", qerr, executor.QueryUnavailable)
	}
}

// TestSimulateAcrossSwitch: on the last committed height before a scheduled switch, a
// simulation runs on the version that executes the next block, as the block will.
func TestSimulateAcrossSwitch(t *testing.T) {
	c := newChain(t)
	if _, err := c.rm.Install(context.Background(), 2, testwasm.Module(t, "v2")); err != nil {
		t.Fatal(err)
	}
	c.ready(3)
	wantCodes(t, c.block(c.tx(admin, schedule(2, nextBlock))), codes.OK)
	alice := key(30)
	appendCall := c.call(alice, "kv", "append", `{"key":"k","value":"x"}`) // exists only in v2
	sim := simulate(t, c.node, appendCall)
	if sim.Code != codes.OK || sim.RuntimeVersion != 2 {
		t.Fatalf("simulated before the switch block: %+v, want v2's ok", sim)
	}
	r := c.block(appendCall)
	if r.RuntimeVersion != 2 || r.TxResults[0].Code != sim.Code || r.TxResults[0].GasUsed != sim.GasUsed {
		t.Fatalf("switch block: v%d %s gas %d; simulated v%d %s gas %d", r.RuntimeVersion, r.TxResults[0].Code, r.TxResults[0].GasUsed, sim.RuntimeVersion, sim.Code, sim.GasUsed)
	}
}

// TestSimulateDuringBlocks: simulations run while blocks execute and commit (run it with
// -race); each answers for one committed height and never changes what the blocks do.
func TestSimulateDuringBlocks(t *testing.T) {
	n := newNode(t, nil, "", "testmod")
	n.initChain("testmod")
	n.block()
	probe := signed(t, key(5), 1, "kv", "set", `{"key":"p","value":"1"}`)
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-done:
				return
			default:
			}
			s, qerr := n.exec.Simulate(probe)
			if qerr != nil || s.Code != codes.OK || s.Height < 1 {
				errs <- fmt.Errorf("simulate during blocks: %+v %v", s, qerr)
				return
			}
		}
	}()
	for i := uint64(1); i <= 5; i++ {
		r := n.block(signed(t, admin, i, "kv", "set", fmt.Sprintf(`{"key":"k%d","value":"%d"}`, i, i)))
		if r.TxResults[0].Code != codes.OK {
			t.Fatalf("block %d: %s", i, r.TxResults[0].Log)
		}
	}
	close(done)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if v, _ := n.store.Get(state.ContractKey("kv", []byte("p"))); v != nil {
		t.Fatal("a simulated write reached the store")
	}
}
