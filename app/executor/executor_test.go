package executor_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/internal/testwasm"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

const chainID = "test-chain"

type nopLog struct{}

func (nopLog) Info(string, ...any)  {}
func (nopLog) Error(string, ...any) {}

// node is one executor with its own store and runtime directory, as on one machine.
type node struct {
	t     testing.TB
	db    dbm.DB
	store *state.Store
	rm    *runtime.Manager
	exec  *executor.Executor
}

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(sha256.New().Sum([]byte{seed})[:32])
}

var admin = key(1)

// The test chain has four validators of power 10, each attested by its operator key.
var operators = []ed25519.PrivateKey{key(20), key(21), key(22), key(23)}

func validatorAddr(i int) string { return fmt.Sprintf("%040X", i+1) }

func genesisValidators() []executor.GenesisValidator {
	var vs []executor.GenesisValidator
	for i := range operators {
		vs = append(vs, executor.GenesisValidator{Address: validatorAddr(i), Power: 10})
	}
	return vs
}

func addr(k ed25519.PrivateKey) string { return tx.AddressOf(k.Public().(ed25519.PublicKey)).String() }

func appState(t testing.TB, module []byte) []byte { return appStateProfile(t, module, 1) }

// appStateProfile is appState with the genesis runtime under execution profile prof.
func appStateProfile(t testing.TB, module []byte, prof uint32) []byte {
	sum := sha256.Sum256(module)
	a := genesis.AppState{
		Admins:  []string{addr(admin)},
		Runtime: genesis.RuntimeRef{Version: 1, CodeSHA256: hex.EncodeToString(sum[:]), Profile: prof},
	}
	for i, op := range operators {
		a.Validators = append(a.Validators, genesis.ValidatorOperator{Validator: validatorAddr(i), Operator: addr(op)})
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newNode opens an executor on db (a fresh memdb when nil) with module installed as v1.
func newNode(t testing.TB, db dbm.DB, runtimeDir, module string) *node {
	t.Helper()
	ctx := context.Background()
	if db == nil {
		db = dbm.NewMemDB()
	}
	if runtimeDir == "" {
		runtimeDir = t.TempDir()
	}
	st, err := state.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := runtime.NewManager(ctx, runtimeDir, runtime.WithCacheDir(testwasm.CacheDir()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rm.Install(ctx, 1, testwasm.Module(t, module)); err != nil {
		t.Fatal(err)
	}
	ex, err := executor.New(st, rm, nopLog{})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, db: db, store: st, rm: rm, exec: ex}
	t.Cleanup(func() { rm.Close(ctx) })
	return n
}

func (n *node) initChain(module string) []byte {
	n.t.Helper()
	h, err := n.exec.InitChain(chainID, 1, appState(n.t, testwasm.Module(n.t, module)), genesisValidators(), executor.NoMaxBlockGas)
	if err != nil {
		n.t.Fatal(err)
	}
	return h
}

func (n *node) block(txs ...[]byte) *executor.BlockResult {
	n.t.Helper()
	res, err := n.exec.FinalizeBlock(context.Background(), n.store.Height()+1, txs)
	if err != nil {
		n.t.Fatal(err)
	}
	if _, err := n.exec.Commit(); err != nil {
		n.t.Fatal(err)
	}
	return res
}

type txOpt func(*txv1.TxBody)

func signed(t testing.TB, priv ed25519.PrivateKey, nonce uint64, contract, method, args string, opts ...txOpt) []byte {
	t.Helper()
	body := &txv1.TxBody{ChainId: chainID, Nonce: nonce, GasLimit: 20_000_000,
		Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: contract, Method: method, Args: []byte(args)}}}
	for _, o := range opts {
		o(body)
	}
	raw, err := tx.Sign(priv, body)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func envelope(t testing.TB, e *txv1.Tx) []byte {
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckTxRejections(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	n.block(signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`))

	good := signed(t, admin, 2, "kv", "set", `{"key":"b","value":"2"}`)
	var env txv1.Tx
	if err := env.Unmarshal(good); err != nil {
		t.Fatal(err)
	}
	badSig := env
	badSig.Signature = append([]byte{}, env.Signature...)
	badSig.Signature[0] ^= 1
	otherKey := env
	otherKey.PubKey = key(9).Public().(ed25519.PublicKey)
	unsigned := env
	unsigned.Signature = nil
	noKey := env
	noKey.PubKey = nil

	cases := []struct {
		name string
		raw  []byte
		want codes.Code
	}{
		{"garbage", []byte("not a transaction"), codes.Undecodable},
		{"empty", nil, codes.Undecodable},
		{"garbage body", envelope(t, &txv1.Tx{Body: []byte{0xff, 0xff}, PubKey: env.PubKey, Signature: env.Signature}), codes.Undecodable},
		{"unsigned", envelope(t, &unsigned), codes.Unsigned},
		{"no public key", envelope(t, &noKey), codes.Unsigned},
		{"tampered signature", envelope(t, &badSig), codes.BadSignature},
		{"someone else's key", envelope(t, &otherKey), codes.BadSignature},
		{"wrong chain", signed(t, admin, 2, "kv", "set", `{}`, func(b *txv1.TxBody) { b.ChainId = "other-chain" }), codes.WrongChain},
		{"replayed nonce", signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`), codes.NonceReplayed},
		{"nonce zero", signed(t, admin, 0, "kv", "set", `{}`), codes.NonceReplayed},
		{"nonce gap", signed(t, admin, 2+executor.MaxNonceAhead+1, "kv", "set", `{}`), codes.NonceGap},
		{"zero gas", signed(t, admin, 2, "kv", "set", `{}`, func(b *txv1.TxBody) { b.GasLimit = 0 }), codes.BadGasLimit},
		{"too much gas", signed(t, admin, 2, "kv", "set", `{}`, func(b *txv1.TxBody) { b.GasLimit = genesis.DefaultMaxGasPerTx + 1 }), codes.BadGasLimit},
		{"no message", signed(t, admin, 2, "", "", "", func(b *txv1.TxBody) { b.Msg = nil }), codes.InvalidMessage},
		{"no method", signed(t, admin, 2, "kv", "", `{}`), codes.InvalidMessage},
		{"bad contract name", signed(t, admin, 2, "KV/../x", "set", `{}`), codes.InvalidMessage},
		{"args over the limit", signed(t, admin, 2, "kv", "set", string(make([]byte, abi.MaxArgsLen+1))), codes.InvalidMessage},
		{"too large", signed(t, admin, 2, "kv", "set", string(make([]byte, tx.MaxTxBytes))), codes.TxTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, cerr := n.exec.CheckTx(tc.raw)
			if cerr == nil || cerr.Code != tc.want {
				t.Fatalf("got %v, want %s", cerr, tc.want)
			}
			if cerr.Msg == "" {
				t.Fatal("rejection without a readable log")
			}
		})
	}
	if _, cerr := n.exec.CheckTx(good); cerr != nil {
		t.Fatalf("valid tx rejected: %v", cerr)
	}
	// The same rejections hold in a block, with the same codes: nothing is executed, no
	// nonce consumed.
	var raws [][]byte
	for _, tc := range cases {
		raws = append(raws, tc.raw)
	}
	res := n.block(raws...)
	for i, r := range res.TxResults {
		if r.Code != cases[i].want || r.GasUsed != 0 || r.Log == "" {
			t.Fatalf("%s in a block: code %s (%s) gas %d, want %s without gas", cases[i].name, r.Code, r.Log, r.GasUsed, cases[i].want)
		}
		if v := attr(r, executor.AttrRuntimeVersion); v != "1" {
			t.Fatalf("%s in a block: runtime_version %q", cases[i].name, v)
		}
	}
	if c, _, _ := n.exec.Nonces(tx.AddressOf(admin.Public().(ed25519.PublicKey))); c != 1 {
		t.Fatalf("rejected transactions moved the nonce to %d", c)
	}
}

func attr(r executor.TxResult, key string) string {
	for _, e := range r.Events {
		if e.Type == executor.EventTx {
			for _, a := range e.Attrs {
				if a.Key == key {
					return a.Value
				}
			}
		}
	}
	return ""
}

func TestMempoolNonces(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	var txs [][]byte
	for i := uint64(1); i <= 5; i++ {
		raw := signed(t, admin, i, "kv", "set", fmt.Sprintf(`{"key":"k%d","value":"%d"}`, i, i))
		if _, cerr := n.exec.CheckTx(raw); cerr != nil {
			t.Fatalf("nonce %d: %v", i, cerr)
		}
		txs = append(txs, raw)
	}
	if _, cerr := n.exec.CheckTx(signed(t, admin, 3, "kv", "set", `{}`)); cerr == nil || cerr.Code != codes.NonceReplayed {
		t.Fatalf("duplicate pending nonce: %v", cerr)
	}
	if _, cerr := n.exec.CheckTx(signed(t, admin, 6+executor.MaxNonceAhead+1, "kv", "set", `{}`)); cerr == nil || cerr.Code != codes.NonceGap {
		t.Fatalf("gap after pending: %v", cerr)
	}
	addr := tx.AddressOf(admin.Public().(ed25519.PublicKey))
	if c, p, _ := n.exec.Nonces(addr); c != 0 || p != 5 {
		t.Fatalf("nonces %d/%d, want 0/5", c, p)
	}
	res := n.block(txs...)
	for i, r := range res.TxResults {
		if r.Code != codes.OK {
			t.Fatalf("tx %d: %s", i, r.Log)
		}
	}
	if c, p, _ := n.exec.Nonces(addr); c != 5 || p != 5 {
		t.Fatalf("after commit nonces %d/%d, want 5/5", c, p)
	}
}

// TestExecutionFailures runs a block mixing good calls and every kind of failing call:
// each failure affects its transaction only, consumes its nonce, discards its writes, and
// two independent nodes agree on every code, gas figure and the app hash.
func TestExecutionFailures(t *testing.T) {
	alice, bob := key(2), key(3)
	txs := [][]byte{
		signed(t, alice, 1, "kv", "set", `{"key":"before","value":"x"}`),
		signed(t, alice, 2, "fault", "loop", ""),
		signed(t, alice, 3, "fault", "panic", ""),
		signed(t, alice, 4, "fault", "exit", ""),
		signed(t, alice, 5, "fault", "alloc", `{"mb":200}`),
		signed(t, alice, 6, "fault", "write_then_fail", ""),
		signed(t, alice, 7, "fault", "write_then_panic", ""),
		signed(t, bob, 1, "fault", "recurse", ""),
		signed(t, bob, 2, "kv", "set", `{"key":"after","value":"y"}`),
		signed(t, bob, 3, "bank", "mint", `{"amount":100}`),
	}
	want := []codes.Code{codes.OK, codes.OutOfGas, codes.ContractAbort, codes.ContractTrap, codes.ContractTrap,
		codes.ContractError, codes.ContractAbort, codes.ContractTrap, codes.OK, codes.OK}

	var results [2]*executor.BlockResult
	var nodes [2]*node
	for i := range nodes {
		nodes[i] = newNode(t, nil, "", "testmod")
		nodes[i].initChain("testmod")
		results[i] = nodes[i].block(txs...)
	}
	for i, r := range results[0].TxResults {
		if r.Code != want[i] {
			t.Errorf("tx %d: code %s (%s), want %s", i, r.Code, r.Log, want[i])
		}
		o := results[1].TxResults[i]
		if r.Code != o.Code || r.GasUsed != o.GasUsed || string(r.Data) != string(o.Data) {
			t.Errorf("tx %d differs between nodes: %s/%d vs %s/%d", i, r.Code, r.GasUsed, o.Code, o.GasUsed)
		}
		if r.Code == codes.OutOfGas && r.GasUsed != r.GasWanted {
			t.Errorf("tx %d: out of gas used %d of %d", i, r.GasUsed, r.GasWanted)
		}
		t.Logf("tx %d: %-14s gas %10d  %s", i, r.Code, r.GasUsed, r.Log)
	}
	if string(results[0].AppHash) != string(results[1].AppHash) {
		t.Fatal("app hashes differ between nodes")
	}
	n := nodes[0]
	if v, _ := n.store.Get(state.ContractKey("fault", []byte("partial"))); v != nil {
		t.Fatalf("a failed transaction's write persisted: %q", v)
	}
	for _, k := range []string{"before", "after"} {
		if v, _ := n.store.Get(state.ContractKey("kv", []byte(k))); v == nil {
			t.Fatalf("kv %q missing: a failure leaked into other transactions", k)
		}
	}
	if c, _, _ := n.exec.Nonces(tx.AddressOf(alice.Public().(ed25519.PublicKey))); c != 7 {
		t.Fatalf("alice's nonce %d, want 7: failed calls must consume their nonce", c)
	}
}

func TestAppHashDeterminism(t *testing.T) {
	alice := key(2)
	a1 := signed(t, alice, 1, "kv", "set", `{"key":"x","value":"1"}`)
	a2 := signed(t, alice, 2, "kv", "set", `{"key":"y","value":"2"}`)
	b1 := signed(t, admin, 1, "kv", "set", `{"key":"x","value":"3"}`)

	run := func(blocks ...[][]byte) [][]byte {
		n := newNode(t, nil, "", "v1")
		hashes := [][]byte{n.initChain("v1")}
		for _, b := range blocks {
			hashes = append(hashes, n.block(b...).AppHash)
		}
		return hashes
	}
	h1 := run([][]byte{a1, b1}, [][]byte{a2}, nil)
	h2 := run([][]byte{a1, b1}, [][]byte{a2}, nil)
	for i := range h1 {
		if string(h1[i]) != string(h2[i]) {
			t.Fatalf("height %d: app hash differs on identical input", i)
		}
	}
	if string(h1[3]) != string(h1[2]) {
		t.Fatal("an empty block moved the app hash: it commits to the state, which the block left alone")
	}
	h3 := run([][]byte{b1, a1}, [][]byte{a2}, nil) // same txs, other order: x ends as 1, not 3
	if string(h3[1]) == string(h1[1]) {
		t.Fatal("different final state, same app hash")
	}
}

// onDisk returns a function that opens a node on a pebble store and runtime directory in
// dir, and opens it again from what is on disk, as a restarted process would.
func onDisk(t *testing.T, dir string) func() *node {
	rtDir := filepath.Join(dir, "runtime")
	return func() *node {
		db, err := dbm.NewDB("app", dbm.PebbleDBBackend, dir)
		if err != nil {
			t.Fatal(err)
		}
		return newNode(t, db, rtDir, "v1")
	}
}

// TestCommitIsAtomicAndReplayable simulates a crash between FinalizeBlock and Commit:
// nothing of the block is on disk, and re-executing it after restart gives the same hash.
func TestCommitIsAtomicAndReplayable(t *testing.T) {
	open := onDisk(t, t.TempDir())
	n := open()
	n.initChain("v1")
	h1 := n.block(signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`)).AppHash
	block2 := [][]byte{
		signed(t, admin, 2, "kv", "set", `{"key":"b","value":"2"}`),
		signed(t, admin, 3, "bank", "mint", `{"amount":5}`),
	}
	res, err := n.exec.FinalizeBlock(context.Background(), 2, block2)
	if err != nil {
		t.Fatal(err)
	}
	n.store.Close() // crash: no Commit

	n = open()
	if n.store.Height() != 1 || string(n.store.AppHash()) != string(h1) {
		t.Fatalf("after crash: height %d, want 1 with the committed app hash", n.store.Height())
	}
	if v, _ := n.store.Get(state.ContractKey("kv", []byte("b"))); v != nil {
		t.Fatal("an uncommitted write reached the disk")
	}
	if v, _ := n.store.Get(state.ContractKey("kv", []byte("a"))); string(v) != "1" {
		t.Fatalf("committed write lost: %q", v)
	}
	replayed := n.block(block2...)
	if string(replayed.AppHash) != string(res.AppHash) {
		t.Fatal("replaying the block after the crash gave another app hash")
	}
	n.store.Close()
	n = open()
	if n.store.Height() != 2 || string(n.store.AppHash()) != string(res.AppHash) {
		t.Fatal("committed block 2 not durable")
	}
}

func TestQuery(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	n.block(signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`))
	addr := tx.AddressOf(admin.Public().(ed25519.PublicKey)).String()
	cases := []struct {
		path, data string
		code       codes.Code
		value      string
	}{
		{"/state/kv", "a", executor.QueryOK, "1"},
		{"/state/kv", "zz", executor.QueryNotFound, ""},
		{"/state/kv", "", executor.QueryBad, ""},
		{"/account/" + addr, "", executor.QueryOK, `{"address":"` + addr + `","nonce":1,"pending_nonce":1,"next_nonce":2}`},
		{"/account/xyz", "", executor.QueryBad, ""},
		{"/nope", "", executor.QueryUnknown, ""},
	}
	for _, tc := range cases {
		r := n.exec.Query(tc.path, []byte(tc.data))
		if r.Code != tc.code || (tc.value != "" && string(r.Value) != tc.value) {
			t.Errorf("%s %q: code %s value %s log %s", tc.path, tc.data, r.Code, r.Value, r.Log)
		}
	}
	var info executor.RuntimeInfo
	r := n.exec.Query("/runtime", nil)
	if err := json.Unmarshal(r.Value, &info); err != nil || info.Version != 1 || info.SinceHeight != 1 || !info.Installed {
		t.Fatalf("/runtime: %s %v", r.Value, err)
	}
}

// committed is a view of a node's committed state for keeper reads in tests.
func committed(c *chain) *state.Cache { return state.NewCache(c.store) }

// TestMempoolLimit: CheckTx refuses once it has admitted mempool.size transactions since
// the last commit, before touching the sender's pending nonce, so a sender can retry the
// same nonce; a commit frees the room.
func TestMempoolLimit(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	n.exec.SetMempoolLimit(2)
	a, b := key(50), key(51)
	for i, raw := range [][]byte{signed(t, a, 1, "kv", "set", `{"key":"x","value":"1"}`), signed(t, a, 2, "kv", "set", `{"key":"y","value":"1"}`)} {
		if _, cerr := n.exec.CheckTx(raw); cerr != nil {
			t.Fatalf("tx %d: %v", i, cerr)
		}
	}
	third := signed(t, a, 3, "kv", "set", `{"key":"z","value":"1"}`)
	if _, cerr := n.exec.CheckTx(third); cerr == nil || cerr.Code != codes.MempoolFull {
		t.Fatalf("third tx: %v, want mempool_full", cerr)
	}
	if _, cerr := n.exec.CheckTx(signed(t, b, 1, "kv", "set", `{}`)); cerr == nil || cerr.Code != codes.MempoolFull {
		t.Fatalf("another sender: %v, want mempool_full", cerr)
	}
	n.block()
	if _, cerr := n.exec.CheckTx(signed(t, a, 1, "kv", "set", `{"key":"x","value":"1"}`)); cerr != nil {
		t.Fatalf("after a commit (nothing rechecked), nonce 1 again: %v", cerr)
	}
}

// TestProposalOrdersNonces: a mempool holding a sender's nonces out of order (as CometBFT's
// can) still gives a block where all of them execute; a gap is left out of the block but
// kept in the mempool by the recheck, and a resend of the missing nonce is admitted.
func TestProposalOrdersNonces(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	a, b := key(60), key(61)
	a1 := signed(t, a, 1, "kv", "set", `{"key":"a1","value":"1"}`)
	a2 := signed(t, a, 2, "kv", "set", `{"key":"a2","value":"1"}`)
	a3 := signed(t, a, 3, "kv", "set", `{"key":"a3","value":"1"}`)
	b1 := signed(t, b, 1, "kv", "set", `{"key":"b1","value":"1"}`)
	b3 := signed(t, b, 3, "kv", "set", `{"key":"b3","value":"1"}`) // b2 never arrives
	prop := n.exec.PrepareProposal([][]byte{a2, b1, a1, b3, a3}, 1<<20)
	want := [][]byte{a1, b1, a2, a3} // a's slots re-ordered, b3 left out
	if len(prop) != len(want) {
		t.Fatalf("proposal has %d txs, want %d", len(prop), len(want))
	}
	for i := range want {
		if string(prop[i]) != string(want[i]) {
			t.Fatalf("proposal[%d] is not the expected transaction", i)
		}
	}
	res := n.block(prop...)
	for i, r := range res.TxResults {
		if r.Code != codes.OK {
			t.Fatalf("tx %d: %s", i, r.Log)
		}
	}
	// After the commit, the mempool still holds b3: the recheck keeps it.
	if _, cerr := n.exec.RecheckTx(b3); cerr != nil {
		t.Fatalf("recheck of a nonce ahead of a gap: %v", cerr)
	}
	if _, cerr := n.exec.RecheckTx(a1); cerr == nil || cerr.Code != codes.NonceReplayed {
		t.Fatalf("recheck of a committed nonce: %v", cerr)
	}
	// The sender resends the missing b2: admitted, it fills the hole.
	b2 := signed(t, b, 2, "kv", "set", `{"key":"b2","value":"1"}`)
	if _, cerr := n.exec.CheckTx(b2); cerr != nil {
		t.Fatalf("resend of the missing nonce: %v", cerr)
	}
	if _, cerr := n.exec.CheckTx(b2); cerr == nil || cerr.Code != codes.NonceReplayed {
		t.Fatalf("the same nonce twice: %v", cerr)
	}
	if _, cerr := n.exec.CheckTx(signed(t, b, 4+executor.MaxNonceAhead+1, "kv", "set", `{}`)); cerr == nil || cerr.Code != codes.NonceGap {
		t.Fatalf("a new gap: %v", cerr)
	}
	prop = n.exec.PrepareProposal([][]byte{b3, b2}, 1<<20)
	if r := n.block(prop...); len(r.TxResults) != 2 || r.TxResults[0].Code != codes.OK || r.TxResults[1].Code != codes.OK {
		t.Fatalf("b2, b3: %+v", r.TxResults)
	}
}
