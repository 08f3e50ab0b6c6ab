package executor_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	abcicli "github.com/cometbft/cometbft/abci/client"
	abcitypes "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/proxy"
	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/abci"
	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/internal/testwasm"
)

// ccMempool stands in for CometBFT's mempool where it matters to the app: CheckTx runs
// with the update lock shared, and Commit with the recheck that follows runs with it
// exclusive (BlockExecutor.Commit locks the mempool around Commit and Update). FinalizeBlock
// and queries take no mempool lock at all.
type ccMempool struct {
	update sync.RWMutex
	mu     sync.Mutex
	txs    [][]byte
}

func (m *ccMempool) add(raw []byte) {
	m.mu.Lock()
	m.txs = append(m.txs, raw)
	m.mu.Unlock()
}

func (m *ccMempool) reap() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.txs...)
}

// ccQueries is what the query connection saw, checked once the run is over.
type ccQueries struct {
	infos  []ccInfo
	rounds int
}

type ccInfo struct {
	height  int64
	appHash []byte
}

// TestConcurrentConnections runs on one app, over an on-disk store and the real v1 and v2
// runtimes, what CometBFT runs at once on its separate ABCI connections, each through the
// connection client CometBFT uses (proxy.NewConnSyncLocalClientCreator: one lock per
// connection, none between them), with each client's CheckTx on a connection of its own,
// since the node takes no lock for CheckTx (internal/node.NewConcurrentCheckClientCreator):
// clients' CheckTx (mempool connections), every query path
// and Info (query connection), and PrepareProposal, FinalizeBlock, Commit and the recheck
// (consensus and mempool connections), across a switch to v2 installed while the chain runs
// and a downgrade back to v1. Under -race it is what shows unsynchronised state; it also
// checks what concurrency must never change: every transaction CheckTx admitted commits,
// a query's answer belongs to the height it reports, Info's height and app hash belong
// together, and the same blocks executed alone on a second node give the same app hashes.
func TestConcurrentConnections(t *testing.T) {
	const (
		senders   = 3
		perSender = 30
		perBlock  = 3   // transactions a sender sends per block
		maxBlocks = 120 // the run takes about 15 blocks; this bound only stops a stuck run
		switchAt  = 7   // scheduled in block 4 for 3 blocks later
		downAt    = 13  // scheduled in block 12 for the next block
	)
	ctx := context.Background()
	dir := t.TempDir()
	db, err := dbm.NewDB("app", dbm.GoLevelDBBackend, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	n := newNode(t, db, filepath.Join(dir, "runtime"), "v1")
	t.Cleanup(func() { n.store.Close() })
	n.initChain("v1")
	v1, v2 := testwasm.Module(t, "v1"), testwasm.Module(t, "v2")

	cc := proxy.NewConnSyncLocalClientCreator(abci.New(n.exec, nopLog{}))
	conn := func() abcicli.Client {
		c, err := cc.NewABCIClient()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	consensusConn, mempoolConn, queryConn := conn(), conn(), conn()

	// Everything is signed before the goroutines start: signing is not what is tested, and
	// the helpers may call t.Fatal.
	keys := make([]ed25519.PrivateKey, senders)
	clientTxs := make([][][]byte, senders)
	for s := range keys {
		keys[s] = key(byte(60 + s))
		for nonce := uint64(1); nonce <= perSender; nonce++ {
			clientTxs[s] = append(clientTxs[s], signed(t, keys[s], nonce, "kv", "set",
				fmt.Sprintf(`{"key":"s%d","value":"%d"}`, s, nonce)))
		}
	}
	lifecycle := map[int64][][]byte{
		2: {
			signed(t, admin, 1, "", "", "", register(2, v2)),
			signed(t, operators[0], 1, "", "", "", attest(0, map[uint64][]byte{1: v1, 2: v2})),
			signed(t, operators[1], 1, "", "", "", attest(1, map[uint64][]byte{1: v1, 2: v2})),
			signed(t, operators[2], 1, "", "", "", attest(2, map[uint64][]byte{1: v1, 2: v2})),
		},
		4:  {signed(t, admin, 2, "", "", "", schedule(2, in(switchAt-4)))},
		12: {signed(t, admin, 3, "", "", "", schedule(1, nextBlock))},
	}
	// The clock's transaction in block h writes kv "height" = h, so a query can tell which
	// height the state it read belongs to.
	clock := key(70)
	clockTxs := make([][]byte, maxBlocks+1)
	for h := int64(1); h <= maxBlocks; h++ {
		clockTxs[h] = signed(t, clock, uint64(h), "kv", "set", fmt.Sprintf(`{"key":"height","value":"%d"}`, h))
	}

	mp := &ccMempool{}
	senderConns := make([]abcicli.Client, senders)
	for s := range senderConns {
		senderConns[s] = conn()
	}
	checkTx := func(c abcicli.Client, raw []byte) error {
		mp.update.RLock()
		defer mp.update.RUnlock()
		res, err := c.CheckTx(ctx, &abcitypes.RequestCheckTx{Tx: raw, Type: abcitypes.CheckTxType_New})
		if err != nil {
			return err
		}
		if res.Code != 0 {
			return fmt.Errorf("CheckTx refused: code %d: %s", res.Code, res.Log)
		}
		mp.add(raw)
		return nil
	}

	done := make(chan struct{}) // closed when the chain has committed everything
	var clients, readers sync.WaitGroup
	var committed atomic.Int64 // the height the consensus goroutine last committed
	for s := range keys {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for i, raw := range clientTxs[s] {
				if err := checkTx(senderConns[s], raw); err != nil {
					t.Errorf("sender %d nonce %d: %v", s, i+1, err)
					return
				}
				// A few transactions per block, so CheckTx keeps running while blocks
				// execute and commit instead of filling the mempool before the first.
				if (i+1)%perBlock == 0 {
					for h := committed.Load(); committed.Load() == h; {
						select {
						case <-done: // the chain stopped early: the test has failed
							return
						case <-time.After(time.Millisecond):
						}
					}
				}
			}
		}()
	}
	readers.Add(1)
	go func() { // an operator installs v2 while the chain runs
		defer readers.Done()
		if _, err := n.rm.Install(ctx, 2, v2); err != nil {
			t.Errorf("install v2: %v", err)
		}
	}()
	var seen ccQueries
	readers.Add(1)
	go func() {
		defer readers.Done()
		queryLoop(t, queryConn, addr(keys[0]), done, &seen)
	}()
	clientsDone := make(chan struct{})
	go func() { clients.Wait(); close(clientsDone) }()
	// However the run ends (t.Fatal included), no goroutine outlives the test.
	stop := sync.OnceFunc(func() {
		close(done)
		readers.Wait()
		<-clientsDone
	})
	defer stop()

	// The consensus connection, on this goroutine.
	blocks := [][][]byte{nil}
	hashes := [][]byte{nil}
	for h := int64(1); ; h++ {
		if h > maxBlocks {
			t.Fatalf("%d blocks and the mempool still holds %d transactions", maxBlocks, len(mp.reap()))
		}
		for _, raw := range lifecycle[h] {
			if err := checkTx(mempoolConn, raw); err != nil {
				t.Fatalf("block %d: lifecycle tx: %v", h, err)
			}
		}
		reaped := append([][]byte{clockTxs[h]}, mp.reap()...)
		prep, err := consensusConn.PrepareProposal(ctx, &abcitypes.RequestPrepareProposal{Txs: reaped, Height: h, MaxTxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		res, err := consensusConn.FinalizeBlock(ctx, &abcitypes.RequestFinalizeBlock{Txs: prep.Txs, Height: h})
		if err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		want := "1"
		if h >= switchAt && h < downAt {
			want = "2"
		}
		for i, r := range res.TxResults {
			if r.Code != 0 {
				t.Fatalf("block %d tx %d: code %d: %s", h, i, r.Code, r.Log)
			}
			if v := abciAttr(r, executor.AttrRuntimeVersion); v != want {
				t.Fatalf("block %d tx %d: executed by runtime %q, want %s", h, i, v, want)
			}
		}
		blocks, hashes = append(blocks, prep.Txs), append(hashes, res.AppHash)

		mp.update.Lock()
		if _, err := consensusConn.Commit(ctx, &abcitypes.RequestCommit{}); err != nil {
			mp.update.Unlock()
			t.Fatal(err)
		}
		// As the mempool's Update: drop what the block included, recheck the rest in order.
		inBlock := map[string]bool{}
		for _, raw := range prep.Txs {
			inBlock[string(raw)] = true
		}
		var kept [][]byte
		for _, raw := range mp.reap() {
			if inBlock[string(raw)] {
				continue
			}
			r, err := mempoolConn.CheckTx(ctx, &abcitypes.RequestCheckTx{Tx: raw, Type: abcitypes.CheckTxType_Recheck})
			if err != nil || r.Code != 0 {
				mp.update.Unlock()
				t.Fatalf("block %d: recheck refused a transaction CheckTx admitted: %v %v", h, err, r)
			}
			kept = append(kept, raw)
		}
		mp.mu.Lock()
		mp.txs = kept
		mp.mu.Unlock()
		mp.update.Unlock()
		committed.Store(h)

		select {
		case <-clientsDone:
			if len(mp.reap()) == 0 && h > downAt {
				goto finished
			}
		default:
		}
	}
finished:
	stop()
	if t.Failed() {
		return
	}

	last := int64(len(blocks) - 1)
	t.Logf("%d blocks, %d transactions from %d senders, %d query rounds", last, senders*perSender, senders, seen.rounds)
	if seen.rounds == 0 {
		t.Fatal("the query connection never ran")
	}
	for _, in := range seen.infos {
		if in.height > last || !bytes.Equal(in.appHash, hashes[in.height]) {
			t.Fatalf("Info reported height %d with app hash %X, the app hash of height %d is %X", in.height, in.appHash, in.height, hashes[min(in.height, last)])
		}
	}
	for s, k := range keys {
		if c, p, err := n.exec.Nonces(tx.AddressOf(k.Public().(ed25519.PublicKey))); err != nil || c != perSender || p != perSender {
			t.Fatalf("sender %d: committed nonce %d, pending %d (%v), want %d", s, c, p, err, perSender)
		}
	}

	// The same blocks, executed alone on a second node, give the same app hashes.
	alone := newNode(t, nil, "", "v1")
	if _, err := alone.rm.Install(ctx, 2, v2); err != nil {
		t.Fatal(err)
	}
	alone.initChain("v1")
	for h := int64(1); h <= last; h++ {
		if got := alone.block(blocks[h]...).AppHash; !bytes.Equal(got, hashes[h]) {
			t.Fatalf("height %d: app hash %X alone, %X under concurrent connections", h, got, hashes[h])
		}
	}
}

// queryLoop is the query connection: Info and every query path, round after round until
// done, checking each answer on its own and against the earlier ones (heights and nonces
// never go back). What needs the chain's record (Info's app hashes) goes into seen.
func queryLoop(t *testing.T, conn abcicli.Client, account string, done <-chan struct{}, seen *ccQueries) {
	ctx := context.Background()
	var height int64 // the highest height any answer reported
	var nonce uint64
	var history int
	fail := func(format string, args ...any) {
		t.Errorf("query round %d: %s", seen.rounds, fmt.Sprintf(format, args...))
	}
	query := func(path string, data []byte, h int64) (*abcitypes.ResponseQuery, bool) {
		r, err := conn.Query(ctx, &abcitypes.RequestQuery{Path: path, Data: data, Height: h})
		if err != nil {
			fail("%s: %v", path, err)
			return nil, false
		}
		if r.Height < height {
			fail("%s answered at height %d after an answer at %d", path, r.Height, height)
			return nil, false
		}
		height = r.Height
		return r, true
	}
	want := func(r *abcitypes.ResponseQuery, path string, code codes.Code, v any) bool {
		if codes.Code(r.Code) != code {
			fail("%s: code %d (%s), want %d", path, r.Code, r.Log, code)
			return false
		}
		if v != nil && code == executor.QueryOK {
			if err := json.Unmarshal(r.Value, v); err != nil {
				fail("%s: %v in %s", path, err, r.Value)
				return false
			}
		}
		return true
	}
	for {
		select {
		case <-done:
			return
		default:
		}
		seen.rounds++
		info, err := conn.Info(ctx, &abcitypes.RequestInfo{})
		if err != nil {
			fail("Info: %v", err)
			return
		}
		if info.LastBlockHeight < height {
			fail("Info at height %d after an answer at %d", info.LastBlockHeight, height)
			return
		}
		height = info.LastBlockHeight
		seen.infos = append(seen.infos, ccInfo{height: info.LastBlockHeight, appHash: info.LastBlockAppHash})

		r, ok := query("/state/kv", []byte("height"), 0)
		if !ok {
			return
		}
		if r.Height == 0 {
			if !want(r, "/state/kv height", executor.QueryNotFound, nil) {
				return
			}
		} else if !want(r, "/state/kv height", executor.QueryOK, nil) {
			return
		} else if string(r.Value) != strconv.FormatInt(r.Height, 10) {
			fail("/state/kv height answered %q as the state of height %d", r.Value, r.Height)
			return
		}
		if r.Height > 1 {
			if old, ok := query("/state/kv", []byte("height"), r.Height-1); !ok || !want(old, "/state/kv at a past height", executor.QueryBad, nil) {
				return
			}
		}
		if r, ok := query("/state/kv", nil, 0); !ok || !want(r, "/state/kv without a key", executor.QueryBad, nil) {
			return
		}

		var acct executor.AccountInfo
		if r, ok := query("/account/"+account, nil, 0); !ok || !want(r, "/account", executor.QueryOK, &acct) {
			return
		}
		if acct.Nonce < nonce || acct.PendingNonce < acct.Nonce || acct.NextNonce != acct.PendingNonce+1 {
			fail("/account %+v after a committed nonce of %d", acct, nonce)
			return
		}
		nonce = acct.Nonce

		var rt executor.RuntimeInfo
		if r, ok := query("/runtime", nil, 0); !ok || !want(r, "/runtime", executor.QueryOK, &rt) {
			return
		}
		if rt.Version != 1 && rt.Version != 2 {
			fail("/runtime: version %d", rt.Version)
			return
		}

		var st executor.UpgradeStatus
		r, ok = query("/upgrade/status", nil, 0)
		if !ok || !want(r, "/upgrade/status", executor.QueryOK, &st) {
			return
		}
		if st.Height != r.Height {
			fail("/upgrade/status at height %d reports height %d", r.Height, st.Height)
			return
		}
		if r, ok = query("/upgrade/status", []byte("2"), 0); !ok {
			return
		}
		if r.Code != uint32(executor.QueryNotFound) && !want(r, "/upgrade/status 2", executor.QueryOK, &st) { // not found until registered
			return
		}
		if r, ok := query("/upgrade/status", []byte("9"), 0); !ok || !want(r, "/upgrade/status 9", executor.QueryNotFound, nil) {
			return
		}

		var hist []executor.HistoryEntry
		if r, ok := query("/upgrade/history", nil, 0); !ok || !want(r, "/upgrade/history", executor.QueryOK, &hist) {
			return
		}
		if len(hist) < history {
			fail("/upgrade/history has %d entries after %d", len(hist), history)
			return
		}
		history = len(hist)

		var p executor.Params
		if r, ok := query("/params", nil, 0); !ok || !want(r, "/params", executor.QueryOK, &p) {
			return
		}
		if p.ChainID != chainID {
			fail("/params: chain id %q", p.ChainID)
			return
		}
		if r, ok := query("/nope", nil, 0); !ok || !want(r, "/nope", executor.QueryUnknown, nil) {
			return
		}
	}
}

func abciAttr(r *abcitypes.ExecTxResult, key string) string {
	for _, e := range r.Events {
		if e.Type != executor.EventTx {
			continue
		}
		for _, a := range e.Attributes {
			if a.Key == key {
				return a.Value
			}
		}
	}
	return ""
}

// TestReadsAreOfOneCommit: what the query connection reads while blocks commit as fast as
// they can belongs to one height: Info's height and app hash, and a query's answer and the
// height it reports. Each block holds one transaction of the clock account, whose nonce is
// then the height; it is a message the clock may not send, refused without running a
// contract, so blocks are quick and many commits meet many reads.
func TestReadsAreOfOneCommit(t *testing.T) {
	const blocks = 500 // the unsynchronised reads failed from the 23rd block to the 287th
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	app := abci.New(n.exec, nopLog{})
	clock := key(70)
	txs := make([][]byte, blocks+1)
	for h := int64(1); h <= blocks; h++ {
		txs[h] = signed(t, clock, uint64(h), "", "", "", cancelMsg)
	}
	var hashes sync.Map // height -> app hash, stored before the block commits
	readers := []struct {
		name string
		read func() error
	}{
		{"Info", func() error {
			info, err := app.Info(context.Background(), &abcitypes.RequestInfo{})
			if err != nil || info.LastBlockHeight == 0 {
				return err
			}
			if want, _ := hashes.Load(info.LastBlockHeight); !bytes.Equal(info.LastBlockAppHash, want.([]byte)) {
				return fmt.Errorf("height %d with app hash %X, that height's is %X", info.LastBlockHeight, info.LastBlockAppHash, want)
			}
			return nil
		}},
		{"Query", func() error {
			r, err := app.Query(context.Background(), &abcitypes.RequestQuery{Path: "/account/" + addr(clock)})
			if err != nil {
				return err
			}
			var a executor.AccountInfo
			if err := json.Unmarshal(r.Value, &a); err != nil {
				return fmt.Errorf("code %d %s: %w", r.Code, r.Log, err)
			}
			if int64(a.Nonce) != r.Height {
				return fmt.Errorf("/account answered nonce %d as the state of height %d", a.Nonce, r.Height)
			}
			return nil
		}},
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, rd := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for reads := 0; ; reads++ {
				select {
				case <-done:
					t.Logf("%s: %d reads", rd.name, reads)
					return
				default:
				}
				if err := rd.read(); err != nil {
					t.Errorf("%s: %v", rd.name, err)
					return
				}
			}
		}()
	}
	for h := int64(1); h <= blocks && !t.Failed(); h++ {
		res, err := n.exec.FinalizeBlock(context.Background(), h, [][]byte{txs[h]})
		if err != nil {
			close(done)
			wg.Wait()
			t.Fatal(err)
		}
		hashes.Store(h, res.AppHash)
		if _, err := n.exec.Commit(); err != nil {
			close(done)
			wg.Wait()
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
}

// TestQueriesBeforeFirstBlock: between InitChain and the first commit, which a node's RPC
// can be asked in, every query path answers from the genesis state (/upgrade/status read
// only the store, where nothing is yet, and failed).
func TestQueriesBeforeFirstBlock(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	for _, tc := range []struct {
		path string
		data string
		want codes.Code
	}{
		{"/state/kv", "a", executor.QueryNotFound},
		{"/account/" + addr(admin), "", executor.QueryOK},
		{"/runtime", "", executor.QueryOK},
		{"/upgrade/status", "", executor.QueryOK},
		{"/upgrade/status", "1", executor.QueryOK},
		{"/upgrade/history", "", executor.QueryOK},
		{"/params", "", executor.QueryOK},
	} {
		if r := n.exec.Query(tc.path, []byte(tc.data)); r.Code != tc.want || r.Height != 0 {
			t.Errorf("%s %q at height %d: code %d (%s), want %d", tc.path, tc.data, r.Height, r.Code, r.Log, tc.want)
		}
	}
	var st executor.UpgradeStatus
	if err := json.Unmarshal(n.exec.Query("/upgrade/status", nil).Value, &st); err != nil || st.Effective.Version != 1 || !st.Effective.Installed {
		t.Fatalf("/upgrade/status before the first block: %+v %v", st.Effective, err)
	}
}
