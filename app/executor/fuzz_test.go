package executor_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
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
	if _, err := ex.InitChain(chainID, 1, appState(t, v1), genesisValidators(), executor.NoMaxBlockGas); err != nil {
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
			if held[i] && r.Code == codes.NonceGap {
				continue // held for a gap the block did not fill: a refusal by state, not by shape
			}
			if accepted[i] && (checkRejections[r.Code] || r.Code == codes.Internal) {
				t.Fatalf("tx %d: accepted by CheckTx, refused by the block: %s (%s)", i, r.Code, r.Log)
			}
			if accepted[i] && r.Code != codes.OK && r.GasUsed == 0 {
				t.Fatalf("tx %d: accepted by CheckTx, failed in the block without running (no gas used): %s (%s)", i, r.Code, r.Log)
			}
		}
	})
}

// queryCodes are the codes Query answers with.
var queryCodes = map[codes.Code]bool{
	executor.QueryOK: true, executor.QueryUnknown: true, executor.QueryNotFound: true,
	executor.QueryBad: true, executor.QueryFailed: true, executor.QueryUnavailable: true,
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
		{"", "", 0}, {"/", "", 0}, {"//", "", 1 << 62}, {"/nope", "x", 0}, {"/simulate", "x", 0},
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

// signedSeed is one input of FuzzCheckTxSigned: the fields of a body the target signs.
type signedSeed struct {
	signer           uint8
	chain            string
	nonce, gas       uint64
	kind             uint8
	contract, method string
	args             []byte
	size             uint32
}

// fuzzSigners are the keys FuzzCheckTxSigned signs with: the admin (lifecycle messages pass
// its authority check), validator 0's operator (its attestations pass), and a stranger.
var fuzzSigners = []ed25519.PrivateKey{admin, operators[0], key(40)}

// sizeSpan bounds the size field of FuzzCheckTxSigned: arguments from empty to past the
// largest transaction, so every limit on the way (abi.MaxArgsLen, tx.MaxTxBytes) is reached.
const sizeSpan = tx.MaxTxBytes + 4<<10

// fuzzBody builds the body FuzzCheckTxSigned signs. kind picks the message: a call (whose
// args are padded to size by repeating them, so large calls need no large input), none, or
// one of the lifecycle messages made of the same fields.
func fuzzBody(s signedSeed) *txv1.TxBody {
	b := &txv1.TxBody{ChainId: s.chain, Nonce: s.nonce, GasLimit: s.gas}
	n := int(s.size % sizeSpan)
	switch s.kind % 6 {
	case 0:
		args := s.args
		if n > len(args) {
			unit := args
			if len(unit) == 0 {
				unit = []byte("x")
			}
			args = bytes.Repeat(unit, n/len(unit)+1)[:n]
		}
		b.Msg = &txv1.TxBody_Call{Call: &txv1.Call{Contract: s.contract, Method: s.method, Args: args}}
	case 1:
		// no message
	case 2:
		b.Msg = &txv1.TxBody_RegisterRelease{RegisterRelease: &txv1.RegisterRelease{Version: uint64(n), CodeSha256: s.args, Note: s.contract + s.method, Profile: 1}}
	case 3:
		m := &txv1.ScheduleUpgrade{Version: uint64(n)}
		switch len(s.contract) % 4 {
		case 1:
			m.Activation = &txv1.ScheduleUpgrade_NextBlock{NextBlock: len(s.method)%2 == 0}
		case 2:
			m.Activation = &txv1.ScheduleUpgrade_Height{Height: int64(len(s.method)) - 1}
		case 3:
			m.Activation = &txv1.ScheduleUpgrade_InBlocks{InBlocks: uint64(len(s.method))}
		}
		b.Msg = &txv1.TxBody_ScheduleUpgrade{ScheduleUpgrade: m}
	case 4:
		b.Msg = &txv1.TxBody_CancelUpgrade{CancelUpgrade: &txv1.CancelUpgrade{}}
	case 5:
		b.Msg = &txv1.TxBody_AttestInstall{AttestInstall: &txv1.AttestInstall{Validator: s.contract,
			Versions: []*txv1.InstalledVersion{{Version: uint64(n), CodeSha256: s.args}}}}
	}
	return b
}

// signedSeeds are the limits FuzzCheckTxSigned starts from: a valid call and lifecycle
// messages, then each field just inside and just past what the stateless checks allow.
func signedSeeds(t testing.TB) []signedSeed {
	v1 := sha256.Sum256(testwasm.Module(t, "v1"))
	name64 := strings.Repeat("a", 64)
	call := signedSeed{chain: chainID, nonce: 1, gas: 1_000_000, contract: "kv", method: "set", args: []byte(`{"key":"a","value":"1"}`)}
	with := func(set func(*signedSeed)) signedSeed {
		s := call
		set(&s)
		return s
	}
	seeds := []signedSeed{
		call,
		with(func(s *signedSeed) { s.args, s.size = []byte("x"), abi.MaxArgsLen }),
		with(func(s *signedSeed) { s.args, s.size = []byte("x"), abi.MaxArgsLen+1 }),
		with(func(s *signedSeed) { s.args, s.size = nil, 2*abi.MaxArgsLen }),
		with(func(s *signedSeed) { s.contract, s.method = name64, name64 }),
		with(func(s *signedSeed) { s.contract = name64 + "a" }),
		with(func(s *signedSeed) { s.method = name64 + "a" }),
		with(func(s *signedSeed) { s.contract = "" }),
		with(func(s *signedSeed) { s.method = "" }),
		with(func(s *signedSeed) { s.contract = "KV" }),
		with(func(s *signedSeed) { s.method = "sét" }),
		with(func(s *signedSeed) { s.chain = "other-chain" }),
		with(func(s *signedSeed) { s.nonce = 0 }),
		with(func(s *signedSeed) { s.nonce = 2 }),
		with(func(s *signedSeed) { s.gas = 0 }),
		with(func(s *signedSeed) { s.gas = genesis.DefaultMaxGasPerTx }),
		with(func(s *signedSeed) { s.gas = genesis.DefaultMaxGasPerTx + 1 }),
		with(func(s *signedSeed) { s.gas = 1 }),
		with(func(s *signedSeed) { s.signer = 2 }),
		with(func(s *signedSeed) { s.kind = 1 }),
		with(func(s *signedSeed) { s.kind, s.args, s.size = 2, v1[:], 2 }),
		with(func(s *signedSeed) { s.kind, s.args, s.size = 2, v1[:], 0 }),
		with(func(s *signedSeed) { s.kind, s.args, s.size, s.contract = 2, v1[:], 2, strings.Repeat("n", 257) }),
		with(func(s *signedSeed) { s.kind, s.size, s.contract, s.method = 3, 2, "n", "" }),
		with(func(s *signedSeed) { s.kind, s.size, s.contract = 3, 1, "" }),
		with(func(s *signedSeed) { s.kind = 4 }),
		with(func(s *signedSeed) { s.kind, s.signer, s.size, s.args, s.contract = 5, 1, 1, v1[:], validatorAddr(0) }),
		with(func(s *signedSeed) { s.kind, s.signer, s.size, s.args, s.contract = 5, 2, 1, v1[:], validatorAddr(0) }),
	}
	// Calls whose encoding is exactly tx.MaxTxBytes and one byte more: the size of the args
	// that gives it depends on the envelope's overhead, so it is found by signing.
	for _, want := range []int{tx.MaxTxBytes, tx.MaxTxBytes + 1} {
		s := with(func(s *signedSeed) { s.args, s.size = []byte("x"), tx.MaxTxBytes })
		for i := 0; i < 4; i++ {
			raw, err := tx.Sign(admin, fuzzBody(s))
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) == want {
				break
			}
			s.size = uint32(int(s.size) + want - len(raw))
		}
		seeds = append(seeds, s)
	}
	return seeds
}

// FuzzCheckTxSigned mutates the fields of a transaction body (chain id, nonce, gas limit,
// message kind, contract and method names, args and their size) and signs the result with
// a real key, so the inputs get past the signature that stops nearly every input of
// FuzzCheckTx, to the checks after it. On a fresh chain it gives the transaction to CheckTx,
// then executes it in a block on the same executor:
//
//   - a transaction CheckTx refuses is refused by the block, with the same code when the
//     refusal is a stateless one;
//   - one CheckTx accepts is executed by the block: its code is none of CheckTx's
//     rejections, a failure used gas (a refusal before execution uses none: an
//     execution-time check of something static, like the args limit of the runtime), and
//     its nonce is consumed.
func FuzzCheckTxSigned(f *testing.F) {
	rm := sharedRuntime(f)
	v1 := testwasm.Module(f, "v1")
	for _, s := range signedSeeds(f) {
		f.Add(s.signer, s.chain, s.nonce, s.gas, s.kind, s.contract, s.method, s.args, s.size)
	}
	f.Fuzz(func(t *testing.T, signer uint8, chain string, nonce, gas uint64, kind uint8, contract, method string, args []byte, size uint32) {
		body := fuzzBody(signedSeed{signer, chain, nonce, gas, kind, contract, method, args, size})
		priv := fuzzSigners[int(signer)%len(fuzzSigners)]
		raw, err := tx.Sign(priv, body)
		if err != nil {
			t.Fatal(err)
		}
		ex, st := freshExecutor(t, rm, v1)
		got, cerr := ex.CheckTx(raw)
		if cerr != nil && (!checkRejections[cerr.Code] || cerr.Msg == "") {
			t.Fatalf("refused with code %d (%s), log %q", cerr.Code, cerr.Code, cerr.Msg)
		}
		held := false
		if cerr == nil {
			_, pending, err := ex.Nonces(got.Sender)
			if err != nil {
				t.Fatal(err)
			}
			held = got.Body.Nonce > pending
		}
		res, err := ex.FinalizeBlock(context.Background(), st.Height()+1, [][]byte{raw})
		if err != nil {
			t.Fatalf("finalize block: %v", err)
		}
		r := res.TxResults[0]
		if held {
			// CheckTx holds a nonce ahead of a gap (MaxNonceAhead); a block that executes it
			// before the gap fills refuses it by state, and uses neither gas nor the nonce.
			if r.Code != codes.NonceGap || r.GasUsed != 0 {
				t.Fatalf("%d-byte tx held by CheckTx: the block gave %s (%s), gas %d; want nonce_gap and no gas", len(raw), r.Code, r.Log, r.GasUsed)
			}
			return
		}
		if cerr != nil {
			// A stateless refusal is the same everywhere. The others need not be: CheckTx
			// checks a lifecycle message's authority before its nonce, the block after
			// it, so a message wrong in both ways gets unauthorized from one and
			// nonce_gap from the other; but the block refuses it too.
			if _, derr := tx.Decode(raw, tx.Limits{ChainID: chainID, MaxGasPerTx: genesis.DefaultMaxGasPerTx}); derr != nil && (derr.Code != cerr.Code || r.Code != cerr.Code) {
				t.Fatalf("%d-byte tx: Decode refused it with %s, CheckTx with %s (%s), the block with %s (%s)", len(raw), derr.Code, cerr.Code, cerr.Msg, r.Code, r.Log)
			}
			if !checkRejections[r.Code] {
				t.Fatalf("%d-byte tx: CheckTx refused it with %s (%s), the block gave %s (%s)", len(raw), cerr.Code, cerr.Msg, r.Code, r.Log)
			}
			return
		}
		if checkRejections[r.Code] || r.Code == codes.Internal {
			t.Fatalf("%d-byte tx: accepted by CheckTx, refused by the block: %s (%s)", len(raw), r.Code, r.Log)
		}
		if r.Code != codes.OK && r.GasUsed == 0 {
			t.Fatalf("%d-byte tx: accepted by CheckTx, failed in the block without running (no gas used): %s (%s)", len(raw), r.Code, r.Log)
		}
		if _, err := ex.Commit(); err != nil {
			t.Fatal(err)
		}
		if n, _, err := ex.Nonces(tx.AddressOf(priv.Public().(ed25519.PublicKey))); err != nil || n != nonce {
			t.Fatalf("accepted nonce %d, committed nonce after the block %d (%v)", nonce, n, err)
		}
	})
}
