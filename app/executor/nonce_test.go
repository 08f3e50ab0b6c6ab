package executor_test

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
)

// mempoolTx is a transaction of a test mempool, with what the test knows of it.
type mempoolTx struct {
	raw    []byte
	sender string
	nonce  uint64
}

// mempool plays CometBFT v0.38's mempool over a node: CheckTx on arrival, transactions
// kept in arrival order, every one of them offered to PrepareProposal, the block's
// transactions removed after the commit and the rest rechecked in mempool order (a
// refused one evicted).
type mempool struct {
	n   *node
	txs []mempoolTx
}

func (m *mempool) add(t mempoolTx) *codes.Error {
	m.n.t.Helper()
	if _, cerr := m.n.exec.CheckTx(t.raw); cerr != nil {
		return cerr
	}
	m.txs = append(m.txs, t)
	return nil
}

// block proposes from the whole mempool, executes and commits the proposal, and rechecks
// what is left. It returns the proposal and the transactions the recheck evicted.
func (m *mempool) block() (proposed []mempoolTx, res *executor.BlockResult, evicted []mempoolTx) {
	m.n.t.Helper()
	raws := make([][]byte, len(m.txs))
	byRaw := map[string]mempoolTx{}
	for i, t := range m.txs {
		raws[i] = t.raw
		byRaw[string(t.raw)] = t
	}
	prop := m.n.exec.PrepareProposal(raws, 1<<20)
	inBlock := map[string]bool{}
	for _, raw := range prop {
		t, ok := byRaw[string(raw)]
		if !ok {
			m.n.t.Fatal("the proposal holds a transaction that is not in the mempool")
		}
		proposed = append(proposed, t)
		inBlock[string(raw)] = true
	}
	res = m.n.block(prop...)
	var kept []mempoolTx
	for _, t := range m.txs {
		if inBlock[string(t.raw)] {
			continue
		}
		if _, cerr := m.n.exec.RecheckTx(t.raw); cerr != nil {
			evicted = append(evicted, t)
			continue
		}
		kept = append(kept, t)
	}
	m.txs = kept
	return proposed, res, evicted
}

// codeOf is the code of a CheckTx answer: OK when it admitted the transaction.
func codeOf(cerr *codes.Error) codes.Code {
	if cerr == nil {
		return codes.OK
	}
	return cerr.Code
}

func account(t *testing.T, n *node, k ed25519.PrivateKey) executor.AccountInfo {
	t.Helper()
	r := n.exec.Query("/account/"+addr(k), nil)
	var a executor.AccountInfo
	if err := json.Unmarshal(r.Value, &a); r.Code != executor.QueryOK || err != nil {
		t.Fatalf("/account: %s %s %v", r.Code, r.Log, err)
	}
	return a
}

// TestBurstNonces: two senders each send 20 transactions at once, which reach the node
// in shuffled order, in four waves between blocks, mixed with a third sender whose first
// nonce is missing. CheckTx admits every one; each proposal holds, per sender, exactly the
// gap-free run after its committed nonce, in nonce order; the recheck after each commit
// keeps every held one; and in the end all 40 commit, in nonce order, none failed. The
// third sender's held transactions hold back nobody, and commit once its gap fills.
func TestBurstNonces(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	const burst, waves = 20, 4
	a, b, c := key(70), key(71), key(72)
	senders := map[string]ed25519.PrivateKey{"a": a, "b": b, "c": c}
	mk := func(who string, nonce uint64) mempoolTx {
		return mempoolTx{signed(t, senders[who], nonce, "kv", "set", fmt.Sprintf(`{"key":"%s%d","value":"%d"}`, who, nonce, nonce)), who, nonce}
	}
	rng := rand.New(rand.NewPCG(1, 2)) // fixed: a failure replays the same arrivals
	var arrivals []mempoolTx
	for _, who := range []string{"a", "b"} {
		for _, p := range rng.Perm(burst) {
			arrivals = append(arrivals, mk(who, uint64(p+1)))
		}
	}
	rng.Shuffle(len(arrivals), func(i, j int) { arrivals[i], arrivals[j] = arrivals[j], arrivals[i] })
	m := &mempool{n: n}
	for _, nonce := range []uint64{3, 2} { // c's nonce 1 is lost
		if cerr := m.add(mk("c", nonce)); cerr != nil {
			t.Fatalf("c nonce %d: %v", nonce, cerr)
		}
	}

	committed := map[string]uint64{}
	sawHeld := false
	executed := 0
	for w := 0; w < waves || len(m.txs) > 2; w++ {
		if w < waves {
			per := len(arrivals) / waves
			for _, tx := range arrivals[w*per : (w+1)*per] {
				if cerr := m.add(tx); cerr != nil {
					t.Fatalf("wave %d: %s nonce %d refused: %v", w, tx.sender, tx.nonce, cerr)
				}
			}
		}
		if w > waves+burst {
			t.Fatalf("%d transactions still in the mempool after %d blocks", len(m.txs), w)
		}
		// What each sender's account reports, and what the proposal must hold: the run of
		// nonces in the mempool after the committed one.
		inPool := map[string]map[uint64]bool{}
		for _, tx := range m.txs {
			if inPool[tx.sender] == nil {
				inPool[tx.sender] = map[uint64]bool{}
			}
			inPool[tx.sender][tx.nonce] = true
		}
		want := map[string][]uint64{}
		for who, k := range senders {
			run := committed[who]
			for inPool[who][run+1] {
				run++
				want[who] = append(want[who], run)
			}
			acct := account(t, n, k)
			held := len(inPool[who]) - int(run-committed[who])
			if acct.Nonce != committed[who] || acct.PendingNonce != run || acct.NextNonce != run+1 || acct.Held != held {
				t.Fatalf("block %d, %s: account %+v, want nonce %d, pending %d, held %d", w, who, acct, committed[who], run, held)
			}
			sawHeld = sawHeld || (who != "c" && held > 0)
		}
		proposed, res, evicted := m.block()
		if len(evicted) > 0 {
			t.Fatalf("block %d: the recheck evicted %s nonce %d", w, evicted[0].sender, evicted[0].nonce)
		}
		got := map[string][]uint64{}
		for i, tx := range proposed {
			got[tx.sender] = append(got[tx.sender], tx.nonce)
			if r := res.TxResults[i]; r.Code != codes.OK {
				t.Fatalf("block %d: %s nonce %d: %s %s", w, tx.sender, tx.nonce, r.Code, r.Log)
			}
			committed[tx.sender] = tx.nonce
			executed++
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("block %d: proposal %v, want the gap-free runs %v", w, got, want)
		}
	}
	if !sawHeld {
		t.Fatal("no transaction of the burst was ever held: the arrivals exercised nothing")
	}
	if executed != 2*burst || committed["a"] != burst || committed["b"] != burst {
		t.Fatalf("executed %d, committed nonces %v, want %d each of a and b", executed, committed, burst)
	}
	// c's 2 and 3 waited through every block, and wait still, until c sends nonce 1.
	if len(m.txs) != 2 || committed["c"] != 0 {
		t.Fatalf("c: %d in the mempool, nonce %d", len(m.txs), committed["c"])
	}
	if acct := account(t, n, c); acct.NextNonce != 1 || acct.Held != 2 {
		t.Fatalf("c: account %+v, want next nonce 1 and 2 held", acct)
	}
	if cerr := m.add(mk("c", 1)); cerr != nil {
		t.Fatalf("c nonce 1: %v", cerr)
	}
	proposed, res, _ := m.block()
	if len(proposed) != 3 || len(m.txs) != 0 {
		t.Fatalf("after the gap filled: %d proposed, %d left", len(proposed), len(m.txs))
	}
	for i, r := range res.TxResults {
		if r.Code != codes.OK || proposed[i].nonce != uint64(i+1) {
			t.Fatalf("c tx %d: nonce %d %s %s", i, proposed[i].nonce, r.Code, r.Log)
		}
	}
}

// TestNonceWindow: CheckTx holds a nonce up to MaxNonceAhead past the sender's next nonce
// and refuses one further with nonce_gap; the window moves with the gap-free run; a held
// nonce taken twice is a replay; and the recheck applies the same window, so a held nonce
// stays while it is within the window and is evicted once the nonces before it left the
// mempool unexecuted.
func TestNonceWindow(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	a := key(73)
	call := func(nonce uint64, value string) []byte {
		return signed(t, a, nonce, "kv", "set", fmt.Sprintf(`{"key":"w%d","value":"%s"}`, nonce, value))
	}
	const edge = 1 + executor.MaxNonceAhead // next nonce 1: the last one held
	cases := []struct {
		name  string
		nonce uint64
		want  codes.Code
	}{
		{"past the window", edge + 1, codes.NonceGap},
		{"at the window's edge", edge, codes.OK},
		{"held twice", edge, codes.NonceReplayed},
		{"nonce zero", 0, codes.NonceReplayed},
		{"within the window", 5, codes.OK},
		{"the next nonce", 1, codes.OK},
		{"the window moved with the run", edge + 1, codes.OK},
		{"past the moved window", edge + 2, codes.NonceGap},
		{"far past", 1 << 62, codes.NonceGap},
	}
	for _, tc := range cases {
		_, cerr := n.exec.CheckTx(call(tc.nonce, tc.name))
		if got := codeOf(cerr); got != tc.want {
			t.Fatalf("%s (nonce %d): %s (%v), want %s", tc.name, tc.nonce, got, cerr, tc.want)
		}
	}
	acct := account(t, n, a)
	if acct.PendingNonce != 1 || acct.NextNonce != 2 || acct.Held != 3 {
		t.Fatalf("account %+v, want pending 1, next 2, 3 held (5, %d, %d)", acct, edge, edge+1)
	}

	// A block executes nonce 1. The recheck rebuilds the run in mempool order: 5, edge and
	// edge+1 stay (next nonce 2: within 2+MaxNonceAhead).
	n.block(call(1, "the next nonce"))
	for _, nonce := range []uint64{edge, 5, edge + 1} {
		if _, cerr := n.exec.RecheckTx(call(nonce, "")); cerr != nil {
			t.Fatalf("recheck of held nonce %d: %v", nonce, cerr)
		}
	}
	if _, cerr := n.exec.RecheckTx(call(1, "the next nonce")); cerr == nil || cerr.Code != codes.NonceReplayed {
		t.Fatalf("recheck of the executed nonce: %v", cerr)
	}

	// Nonces 2..4 arrive and make the run 2..5; then they leave the mempool unexecuted (as
	// a block that failed them or the mempool's TTL removes them): after the next commit,
	// the recheck keeps what the window still covers and evicts the rest.
	for nonce := uint64(2); nonce <= 4; nonce++ {
		if _, cerr := n.exec.CheckTx(call(nonce, "")); cerr != nil {
			t.Fatalf("nonce %d: %v", nonce, cerr)
		}
	}
	if _, cerr := n.exec.CheckTx(call(6+executor.MaxNonceAhead, "")); cerr != nil {
		t.Fatalf("nonce %d with the run at 5: %v", 6+executor.MaxNonceAhead, cerr)
	}
	n.block()
	for _, tc := range []struct {
		nonce uint64
		want  codes.Code
	}{{5, codes.OK}, {edge, codes.OK}, {edge + 1, codes.OK}, {6 + executor.MaxNonceAhead, codes.NonceGap}} {
		_, cerr := n.exec.RecheckTx(call(tc.nonce, ""))
		if got := codeOf(cerr); got != tc.want {
			t.Fatalf("recheck of %d with the run back at 1: %s (%v), want %s", tc.nonce, got, cerr, tc.want)
		}
	}
}

// TestHeldNoncesCountInMempoolLimit: held transactions fill the mempool like any others.
func TestHeldNoncesCountInMempoolLimit(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	n.exec.SetMempoolLimit(3)
	a, b := key(74), key(75)
	for _, nonce := range []uint64{4, 3, 2} {
		if _, cerr := n.exec.CheckTx(signed(t, a, nonce, "kv", "set", `{}`)); cerr != nil {
			t.Fatalf("held nonce %d: %v", nonce, cerr)
		}
	}
	if _, cerr := n.exec.CheckTx(signed(t, b, 1, "kv", "set", `{}`)); cerr == nil || cerr.Code != codes.MempoolFull {
		t.Fatalf("a ready transaction with the mempool full of held ones: %v, want mempool_full", cerr)
	}
	// The recheck after a commit counts them again.
	n.block()
	for _, nonce := range []uint64{4, 3, 2} {
		if _, cerr := n.exec.RecheckTx(signed(t, a, nonce, "kv", "set", `{}`)); cerr != nil {
			t.Fatalf("recheck of held nonce %d: %v", nonce, cerr)
		}
	}
	if _, cerr := n.exec.CheckTx(signed(t, a, 1, "kv", "set", `{}`)); cerr == nil || cerr.Code != codes.MempoolFull {
		t.Fatalf("after the recheck: %v, want mempool_full", cerr)
	}
}
