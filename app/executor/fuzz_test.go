package executor_test

import (
	"context"
	"strings"
	"testing"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/internal/testwasm"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// checkRejections are the codes CheckTx may refuse a transaction with: the stateless and
// nonce rejections, and the authority checks of the version lifecycle messages.
var checkRejections = map[codes.Code]bool{
	codes.Undecodable: true, codes.Unsigned: true, codes.BadSignature: true, codes.WrongChain: true,
	codes.NonceReplayed: true, codes.NonceGap: true, codes.BadGasLimit: true, codes.InvalidMessage: true,
	codes.TxTooLarge: true, codes.Unauthorized: true, codes.MempoolFull: true, codes.UnknownValidator: true,
}

// sharedRuntime returns one runtime manager with the real v1 module installed, shared by
// every iteration of a fuzz target (compiling a Go module takes about a second).
func sharedRuntime(f *testing.F) *runtime.Manager {
	ctx := context.Background()
	rm, err := runtime.NewManager(ctx, f.TempDir(), runtime.WithCacheDir(testwasm.CacheDir()))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { rm.Close(ctx) })
	if _, err := rm.Install(ctx, 1, testwasm.Module(f, "v1")); err != nil {
		f.Fatal(err)
	}
	return rm
}

// freshExecutor is a new chain at genesis on rm: cheap (a memdb and InitChain), so every
// fuzz iteration starts from the same state.
func freshExecutor(t testing.TB, rm *runtime.Manager, v1 []byte) (*executor.Executor, *state.Store) {
	st, err := state.Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	ex, err := executor.New(st, rm, nopLog{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.InitChain(chainID, 1, appState(t, v1), genesisValidators()); err != nil {
		t.Fatal(err)
	}
	return ex, st
}

// checkTxSeeds are pairs of transactions: valid ones of every message type, in and out of
// nonce order, replays, unauthorized lifecycle messages, and broken bytes.
func checkTxSeeds(t testing.TB) [][2][]byte {
	v2 := testwasm.Module(t, "v2")
	stranger := key(40)
	call1 := signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`)
	call2 := signed(t, admin, 2, "bank", "mint", `{"amount":5}`)
	reg := signed(t, admin, 1, "x", "x", "", register(2, v2))
	sched := signed(t, admin, 2, "x", "x", "", schedule(2, in(3)))
	att := signed(t, operators[0], 1, "x", "x", "", attest(0, map[uint64][]byte{2: v2}))
	return [][2][]byte{
		{call1, call2},
		{call1, call1},
		{call2, call1},
		{reg, sched},
		{att, signed(t, operators[1], 1, "x", "x", "", attest(0, map[uint64][]byte{2: v2}))},
		{signed(t, stranger, 1, "x", "x", "", register(2, v2)), signed(t, stranger, 2, "x", "x", "", cancelMsg)},
		{signed(t, admin, 1, "kv", "set", `{}`, func(b *txv1.TxBody) { b.ChainId = "other" }), call1[:len(call1)/2]},
		{nil, []byte("garbage")},
		{call1[:len(call1)-1], append(append([]byte{}, call1...), 0)},
	}
}

// FuzzCheckTx feeds two transactions to CheckTx on a real executor at genesis, then puts
// both in a block: nothing panics; every refusal has a documented rejection code and a
// log; and a transaction CheckTx accepted is not refused by the block (it may only fail
// in execution), as CheckTx promises, unless CheckTx held it ahead of a nonce gap (then
// the block may fail it with nonce_gap: PrepareProposal would have left it out).
func FuzzCheckTx(f *testing.F) {
	rm := sharedRuntime(f)
	v1 := testwasm.Module(f, "v1")
	for _, s := range checkTxSeeds(f) {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ex, st := freshExecutor(t, rm, v1)
		accepted, held := map[int]bool{}, map[int]bool{}
		for i, raw := range [][]byte{a, b} {
			got, cerr := ex.CheckTx(raw)
			if cerr == nil {
				if got == nil {
					t.Fatalf("tx %d: accepted without a decoded transaction", i)
				}
				accepted[i] = true
				_, pending, err := ex.Nonces(got.Sender)
				if err != nil {
					t.Fatal(err)
				}
				held[i] = got.Body.Nonce > pending
				continue
			}
			if !checkRejections[cerr.Code] || cerr.Msg == "" {
				t.Fatalf("tx %d: refused with code %d (%s), log %q", i, cerr.Code, cerr.Code, cerr.Msg)
			}
		}
		res, err := ex.FinalizeBlock(context.Background(), st.Height()+1, [][]byte{a, b})
		if err != nil {
			t.Fatalf("finalize block: %v", err)
		}
		for i, r := range res.TxResults {
			if strings.HasPrefix(r.Code.String(), "code_") || (r.Code != codes.OK && r.Log == "") {
				t.Fatalf("tx %d in block: undocumented code %d or no log %q", i, r.Code, r.Log)
			}
			if accepted[i] && (checkRejections[r.Code] || r.Code == codes.Internal) && !(held[i] && r.Code == codes.NonceGap) {
				t.Fatalf("tx %d: accepted by CheckTx, refused by the block: %s (%s)", i, r.Code, r.Log)
			}
		}
	})
}

// queryCodes are the codes Query answers with.
var queryCodes = map[codes.Code]bool{
	executor.QueryOK: true, executor.QueryUnknown: true, executor.QueryNotFound: true,
	executor.QueryBad: true, executor.QueryFailed: true,
}

// FuzzQuery: any path, data and height give an answer with a query code, a log when it is
// not OK, and the committed height; never a panic.
func FuzzQuery(f *testing.F) {
	rm := sharedRuntime(f)
	ex, st := freshExecutor(f, rm, testwasm.Module(f, "v1"))
	if _, err := ex.FinalizeBlock(context.Background(), 1, [][]byte{signed(f, admin, 1, "kv", "set", `{"key":"a","value":"1"}`)}); err != nil {
		f.Fatal(err)
	}
	if _, err := ex.Commit(); err != nil {
		f.Fatal(err)
	}
	for _, s := range []struct {
		path, data string
		height     int64
	}{
		{"/state/kv", "a", 0}, {"/state/kv", "a", 1}, {"/state/kv", "a", 2}, {"/state/kv", "a", -1},
		{"/state/kv", "", 0}, {"/state/", "a", 0}, {"/state/kv/extra", "a", 0},
		{"/account/" + addr(admin), "", 0}, {"/account/zz", "", 0}, {"/account/", "", 0},
		{"/runtime", "", 0}, {"/params", "", 0}, {"/upgrade/history", "", 0},
		{"/upgrade/status", "", 0}, {"/upgrade/status", "1", 0}, {"/upgrade/status", "99", 0},
		{"/upgrade/status", "-1", 0}, {"/upgrade/status", "18446744073709551616", 0},
		{"", "", 0}, {"/", "", 0}, {"//", "", 1 << 62}, {"/nope", "x", 0},
	} {
		f.Add(s.path, []byte(s.data), s.height)
	}
	f.Fuzz(func(t *testing.T, path string, data []byte, height int64) {
		r := ex.QueryAt(path, data, height)
		if !queryCodes[r.Code] {
			t.Fatalf("%.64q: code %d is not a query code", path, r.Code)
		}
		if r.Code != executor.QueryOK && r.Log == "" {
			t.Fatalf("%.64q: code %s without a log", path, r.Code)
		}
		if r.Code == executor.QueryOK && r.Value == nil {
			t.Fatalf("%.64q: OK without a value", path)
		}
		if r.Height != st.Height() {
			t.Fatalf("%.64q: answered for height %d, committed is %d", path, r.Height, st.Height())
		}
		if height != 0 && height != st.Height() && r.Code != executor.QueryBad {
			t.Fatalf("%.64q at height %d: answered with %s from height %d", path, height, r.Code, st.Height())
		}
		if len(r.Log) > 4096 {
			t.Fatalf("%.64q: %d-byte log: a query must not echo its input without bound", path, len(r.Log))
		}
	})
}
