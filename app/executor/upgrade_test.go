package executor_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/internal/testwasm"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// chain drives one node block by block, tracking each sender's nonce.
type chain struct {
	*node
	nonces map[string]uint64
}

func newChain(t *testing.T) *chain {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	return &chain{node: n, nonces: map[string]uint64{}}
}

func (c *chain) tx(priv ed25519.PrivateKey, set func(*txv1.TxBody)) []byte {
	a := addr(priv)
	c.nonces[a]++
	return signed(c.t, priv, c.nonces[a], "x", "x", "", set)
}

func (c *chain) call(priv ed25519.PrivateKey, contract, method, args string) []byte {
	a := addr(priv)
	c.nonces[a]++
	return signed(c.t, priv, c.nonces[a], contract, method, args)
}

func register(version uint64, module []byte) func(*txv1.TxBody) {
	sum := sha256.Sum256(module)
	return func(b *txv1.TxBody) {
		b.Msg = &txv1.TxBody_RegisterRelease{RegisterRelease: &txv1.RegisterRelease{Version: version, CodeSha256: sum[:], Note: "test", Profile: 1}}
	}
}

func attest(validator int, versions map[uint64][]byte) func(*txv1.TxBody) {
	return attestProfiles(validator, versions, 1)
}

// attestProfiles is attest from a node whose vchaind carries profiles.
func attestProfiles(validator int, versions map[uint64][]byte, profiles ...uint32) func(*txv1.TxBody) {
	return func(b *txv1.TxBody) {
		m := &txv1.AttestInstall{Validator: validatorAddr(validator), Profiles: profiles}
		for v, mod := range versions {
			sum := sha256.Sum256(mod)
			m.Versions = append(m.Versions, &txv1.InstalledVersion{Version: v, CodeSha256: sum[:]})
		}
		b.Msg = &txv1.TxBody_AttestInstall{AttestInstall: m}
	}
}

func schedule(version uint64, act func(*txv1.ScheduleUpgrade)) func(*txv1.TxBody) {
	return func(b *txv1.TxBody) {
		s := &txv1.ScheduleUpgrade{Version: version}
		act(s)
		b.Msg = &txv1.TxBody_ScheduleUpgrade{ScheduleUpgrade: s}
	}
}

func nextBlock(s *txv1.ScheduleUpgrade) {
	s.Activation = &txv1.ScheduleUpgrade_NextBlock{NextBlock: true}
}
func in(n uint64) func(*txv1.ScheduleUpgrade) {
	return func(s *txv1.ScheduleUpgrade) { s.Activation = &txv1.ScheduleUpgrade_InBlocks{InBlocks: n} }
}
func at(h int64) func(*txv1.ScheduleUpgrade) {
	return func(s *txv1.ScheduleUpgrade) { s.Activation = &txv1.ScheduleUpgrade_Height{Height: h} }
}
func cancelMsg(b *txv1.TxBody) {
	b.Msg = &txv1.TxBody_CancelUpgrade{CancelUpgrade: &txv1.CancelUpgrade{}}
}

func wantCodes(t *testing.T, res *executor.BlockResult, want ...codes.Code) {
	t.Helper()
	if len(res.TxResults) != len(want) {
		t.Fatalf("%d results, want %d", len(res.TxResults), len(want))
	}
	for i, r := range res.TxResults {
		if r.Code != want[i] {
			t.Fatalf("tx %d: code %s (%s), want %s", i, r.Code, r.Log, want[i])
		}
	}
}

func hasEvent(evs []abi.Event, typ string) bool {
	for _, e := range evs {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// ready registers v2 and has validators 0..n-1 attest it.
func (c *chain) ready(n int) {
	v1, v2 := testwasm.Module(c.t, "v1"), testwasm.Module(c.t, "v2")
	txs := [][]byte{c.tx(admin, register(2, v2))}
	for i := 0; i < n; i++ {
		txs = append(txs, c.tx(operators[i], attest(i, map[uint64][]byte{1: v1, 2: v2})))
	}
	res := c.block(txs...)
	for i, r := range res.TxResults {
		if r.Code != codes.OK {
			c.t.Fatalf("setup tx %d: %s", i, r.Log)
		}
	}
}

func TestAuthority(t *testing.T) {
	c := newChain(t)
	v2 := testwasm.Module(t, "v2")
	stranger := key(40)
	// CheckTx refuses, and so does the block if a proposer includes them anyway.
	// A refused message still consumes its nonce, so these go in order.
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"register by non-admin", c.tx(stranger, register(2, v2))},
		{"schedule by non-admin", c.tx(stranger, schedule(2, nextBlock))},
		{"cancel by non-admin", c.tx(stranger, cancelMsg)},
		{"attest with another operator", c.tx(operators[1], attest(0, map[uint64][]byte{2: v2}))},
		{"attest by a non-operator", c.tx(admin, attest(0, map[uint64][]byte{2: v2}))},
	} {
		name, raw := tc.name, tc.raw
		if _, cerr := c.exec.CheckTx(raw); cerr == nil || cerr.Code != codes.Unauthorized {
			t.Errorf("%s: CheckTx %v, want unauthorized", name, cerr)
		}
		if r := c.block(raw).TxResults[0]; r.Code != codes.Unauthorized {
			t.Errorf("%s: in a block %s, want unauthorized", name, r.Code)
		}
	}
	raw := c.tx(operators[0], func(b *txv1.TxBody) {
		b.Msg = &txv1.TxBody_AttestInstall{AttestInstall: &txv1.AttestInstall{Validator: "ABABABABABABABABABABABABABABABABABABABAB"}}
	})
	if _, cerr := c.exec.CheckTx(raw); cerr == nil || cerr.Code != codes.UnknownValidator {
		t.Errorf("attest for a non-validator: %v", cerr)
	}
}

func TestScheduleRules(t *testing.T) {
	c := newChain(t)
	v1, v2 := testwasm.Module(t, "v1"), testwasm.Module(t, "v2")
	wantCodes(t, c.block(c.tx(admin, schedule(2, nextBlock))), codes.UnknownRelease)
	wantCodes(t, c.block(c.tx(admin, register(2, v2))), codes.OK)
	wantCodes(t, c.block(c.tx(admin, register(2, v2))), codes.OK) // same release again: no-op
	wantCodes(t, c.block(c.tx(admin, register(2, v1))), codes.ReleaseConflict)

	// 2 of 4 equal validators = 1/2 < 2/3: refused; 3 of 4 = 3/4: accepted.
	wantCodes(t, c.block(
		c.tx(operators[0], attest(0, map[uint64][]byte{1: v1, 2: v2})),
		c.tx(operators[1], attest(1, map[uint64][]byte{2: v2})),
		c.tx(operators[2], attest(2, map[uint64][]byte{2: v1})), // wrong bytes for v2: does not count
	), codes.OK, codes.OK, codes.OK)
	r := c.block(c.tx(admin, schedule(2, nextBlock)))
	wantCodes(t, r, codes.NotReady)
	t.Logf("refused: %s", r.TxResults[0].Log)

	wantCodes(t, c.block(c.tx(operators[2], attest(2, map[uint64][]byte{2: v2}))), codes.OK)
	h := c.store.Height()
	wantCodes(t, c.block(c.tx(admin, schedule(2, at(h+1)))), codes.BadActivation) // h+1 is the containing block
	wantCodes(t, c.block(c.tx(admin, schedule(1, in(5)))), codes.BadActivation)   // v1 is effective
	// Several schedules in one block: the last wins.
	r = c.block(c.tx(admin, schedule(2, in(10))), c.tx(admin, schedule(2, in(4))))
	wantCodes(t, r, codes.OK, codes.OK)
	p, _ := upgrade.NewKeeper(committed(c)).Pending()
	if p == nil || p.StartHeight != c.store.Height()+4 {
		t.Fatalf("pending %+v, want start %d (last schedule: in 4 from block %d)", p, c.store.Height()+4, c.store.Height())
	}
	wantCodes(t, c.block(c.tx(admin, cancelMsg)), codes.OK)
	wantCodes(t, c.block(c.tx(admin, cancelMsg)), codes.NothingToCancel)
	for i := 0; i < 5; i++ {
		if r := c.block(); r.RuntimeVersion != 1 || r.NextAppVersion != 0 {
			t.Fatalf("a cancelled switch happened: %+v", r)
		}
	}
}

// TestSwitchAtExactHeight upgrades v1 -> v2 with "in 3 blocks", then downgrades with "next
// block": the header update is returned by the block before the start height, every
// result before it is v1's and from it on v2's, and the history records both switches.
func TestSwitchAtExactHeight(t *testing.T) {
	c := newChain(t)
	if _, err := c.rm.Install(context.Background(), 2, testwasm.Module(t, "v2")); err != nil {
		t.Fatal(err)
	}
	c.ready(3)
	alice := key(30)
	c.block(c.call(alice, "bank", "mint", `{"amount":100}`))

	sched := c.block(c.tx(admin, schedule(2, in(3))))
	h := c.store.Height()
	wantCodes(t, sched, codes.OK)
	if !hasEvent(sched.TxResults[0].Events, upgrade.EventUpgradeScheduled) {
		t.Fatal("no upgrade_scheduled event")
	}
	start := h + 3
	for c.store.Height() < start-1 {
		r := c.block(c.call(alice, "bank", "transfer", `{"to":"`+validatorAddr(9)+`","amount":10}`))
		if r.RuntimeVersion != 1 || attr(r.TxResults[0], executor.AttrRuntimeVersion) != "1" {
			t.Fatalf("height %d: executed by v%d before the start height %d", c.store.Height(), r.RuntimeVersion, start)
		}
		if want := uint64(0); c.store.Height() == start-1 {
			want = 2
			if r.NextAppVersion != want {
				t.Fatalf("block %d (before the start) returned next app version %d, want 2", c.store.Height(), r.NextAppVersion)
			}
		} else if r.NextAppVersion != 0 {
			t.Fatalf("block %d returned a header update too early", c.store.Height())
		}
	}
	r := c.block(c.call(alice, "bank", "transfer", `{"to":"`+validatorAddr(9)+`","amount":10}`), c.call(alice, "kv", "append", `{"key":"k","value":"x"}`))
	if c.store.Height() != start || r.RuntimeVersion != 2 || !hasEvent(r.Events, upgrade.EventRuntimeSwitched) {
		t.Fatalf("block %d: runtime v%d, events %v; want the switch to v2 at %d", c.store.Height(), r.RuntimeVersion, r.Events, start)
	}
	wantCodes(t, r, codes.OK, codes.OK) // append exists only in v2
	var res struct{ Fee uint64 }
	rec := execRecord(t, r.TxResults[0].Data)
	if err := json.Unmarshal(rec.Data, &res); err != nil || res.Fee != 1 || rec.RuntimeVersion != 2 {
		t.Fatalf("v2 transfer result %s of v%d: want a fee of 1 from v2", rec.Data, rec.RuntimeVersion)
	}

	// Downgrade, effective from the next block.
	v1 := testwasm.Module(t, "v1")
	wantCodes(t, c.block(c.tx(admin, register(1, v1))), codes.OK)
	r = c.block(c.tx(admin, schedule(1, nextBlock)))
	wantCodes(t, r, codes.OK)
	if r.NextAppVersion != 1 {
		t.Fatalf("next-block downgrade: header update %d, want 1", r.NextAppVersion)
	}
	down := c.store.Height() + 1
	r = c.block(c.call(alice, "kv", "append", `{"key":"k","value":"y"}`))
	if r.RuntimeVersion != 1 || r.TxResults[0].Code != codes.ContractError {
		t.Fatalf("after downgrade: v%d, append %s", r.RuntimeVersion, r.TxResults[0].Code)
	}

	var hist []executor.HistoryEntry
	q := c.exec.Query("/upgrade/history", nil)
	if err := json.Unmarshal(q.Value, &hist); err != nil || len(hist) != 3 {
		t.Fatalf("history %s %v", q.Value, err)
	}
	if hist[0].Height != 1 || hist[0].Version != 1 || hist[1].Height != start || hist[1].Version != 2 || hist[2].Height != down || hist[2].Version != 1 {
		t.Fatalf("history %+v, want v1@1 v2@%d v1@%d", hist, start, down)
	}
}

// TestPauseAndResume: a node without v2 stops before the switch block, writes nothing,
// reports what it needs, and finishes the block with the same app hash as a node that had
// v2 all along once v2 is installed. A shutdown while paused returns without writing.
func TestPauseAndResume(t *testing.T) {
	old := executor.PauseInterval
	executor.PauseInterval = 20 * time.Millisecond
	defer func() { executor.PauseInterval = old }()

	ready, lacking := newChain(t), newChain(t)
	if _, err := ready.rm.Install(context.Background(), 2, testwasm.Module(t, "v2")); err != nil {
		t.Fatal(err)
	}
	var blocks [][][]byte
	feed := func(txs ...[]byte) {
		blocks = append(blocks, txs)
		ready.block(txs...)
	}
	// Both nodes see the same blocks; only "ready" has v2 installed.
	v1, v2 := testwasm.Module(t, "v1"), testwasm.Module(t, "v2")
	feed(ready.tx(admin, register(2, v2)), ready.tx(operators[0], attest(0, map[uint64][]byte{1: v1, 2: v2})),
		ready.tx(operators[1], attest(1, map[uint64][]byte{2: v2})), ready.tx(operators[2], attest(2, map[uint64][]byte{2: v2})))
	feed(ready.tx(admin, schedule(2, in(2))))
	feed()
	switchBlock := [][]byte{ready.call(key(31), "kv", "append", `{"key":"a","value":"b"}`)}
	want := ready.block(switchBlock...)
	for _, b := range blocks {
		lacking.block(b...)
	}

	h := lacking.store.Height() + 1
	done := make(chan *executor.BlockResult)
	go func() {
		r, err := lacking.exec.FinalizeBlock(context.Background(), h, switchBlock)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	deadline := time.Now().Add(5 * time.Second)
	for lacking.exec.Paused() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p := lacking.exec.Paused()
	if p == nil || p.Version != 2 || p.Height != h || p.Install == "" {
		t.Fatalf("paused: %+v", p)
	}
	var st executor.UpgradeStatus
	if err := json.Unmarshal(lacking.exec.Query("/upgrade/status", nil).Value, &st); err != nil || st.Paused == nil {
		t.Fatalf("status while paused: %+v %v", st, err)
	}
	if lacking.store.Height() != h-1 {
		t.Fatal("a paused node wrote")
	}
	if _, err := lacking.rm.Install(context.Background(), 2, v2); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if string(r.AppHash) != string(want.AppHash) || r.TxResults[0].Code != codes.OK {
		t.Fatalf("resumed block differs: %s vs %s", r.TxResults[0].Log, want.TxResults[0].Log)
	}
	if lacking.exec.Paused() != nil {
		t.Fatal("still reported paused after resuming")
	}

	// A node told to shut down while paused returns without writing.
	other := newChain(t)
	for _, b := range blocks {
		other.block(b...)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		other.exec.Shutdown()
	}()
	if _, err := other.exec.FinalizeBlock(context.Background(), h, switchBlock); !errors.Is(err, executor.ErrShutdown) {
		t.Fatalf("shutdown while paused: %v", err)
	}
}

// TestScheduleCommitsAtomically: a schedule commits in one batch with its nonce and the
// pending switch it records, and the switch block with the new effective version, its
// history entry and the removal of the pending record. Each block is finalized, the node
// crashes before Commit and reopens its on-disk store: neither half is there, replaying
// gives the same app hash, and after Commit and another reopen both halves are.
func TestScheduleCommitsAtomically(t *testing.T) {
	ctx := context.Background()
	open := onDisk(t, t.TempDir())
	c := &chain{node: open(), nonces: map[string]uint64{}}
	c.initChain("v1")
	if _, err := c.rm.Install(ctx, 2, testwasm.Module(t, "v2")); err != nil {
		t.Fatal(err)
	}
	c.ready(3)
	sender := tx.AddressOf(admin.Public().(ed25519.PublicKey))
	raw := c.tx(admin, schedule(2, nextBlock))
	nonce := c.nonces[addr(admin)]
	h := c.store.Height() + 1

	// reopen simulates a crash (no Commit when commit is false) and a restart.
	reopen := func(commit bool) {
		t.Helper()
		if commit {
			if _, err := c.exec.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.store.Close(); err != nil {
			t.Fatal(err)
		}
		c.node = open()
	}
	// read returns what the reopened store holds: the sender's nonce, the pending switch
	// and the effective version.
	read := func() (uint64, *statev1.PendingSwitch, *statev1.EffectiveRuntime) {
		t.Helper()
		n, _, err := c.exec.Nonces(sender)
		if err != nil {
			t.Fatal(err)
		}
		k := upgrade.NewKeeper(committed(c))
		p, err := k.Pending()
		if err != nil {
			t.Fatal(err)
		}
		eff, err := k.Effective()
		if err != nil {
			t.Fatal(err)
		}
		return n, p, eff
	}
	show := func(p *statev1.PendingSwitch) string {
		if p == nil {
			return "none"
		}
		return fmt.Sprintf("v%d from %d scheduled at %d", p.Version, p.StartHeight, p.ScheduledHeight)
	}
	finalize := func(height int64, txs ...[]byte) *executor.BlockResult {
		t.Helper()
		res, err := c.exec.FinalizeBlock(ctx, height, txs)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	// The schedule block.
	first := finalize(h, raw)
	wantCodes(t, first, codes.OK)
	reopen(false)
	if n, p, _ := read(); c.store.Height() != h-1 || n != nonce-1 || p != nil {
		t.Fatalf("after a crash before Commit: height %d, nonce %d, pending %s; want %d, %d and none", c.store.Height(), n, show(p), h-1, nonce-1)
	}
	again := finalize(h, raw) // the same block re-executed, as CometBFT's replay does
	wantCodes(t, again, codes.OK)
	if string(again.AppHash) != string(first.AppHash) || again.NextAppVersion != 2 {
		t.Fatalf("re-execution: app hash equal %v, next app version %d", string(again.AppHash) == string(first.AppHash), again.NextAppVersion)
	}
	reopen(true)
	if n, p, eff := read(); c.store.Height() != h || n != nonce || p == nil || p.Version != 2 || p.StartHeight != h+1 || p.ScheduledHeight != h || eff.Version != 1 {
		t.Fatalf("after Commit and a restart: height %d, nonce %d, pending %s, effective v%d; want %d, %d, v2 from %d, v1", c.store.Height(), n, show(p), eff.Version, h, nonce, h+1)
	}

	// The switch block.
	first = finalize(h + 1)
	if first.RuntimeVersion != 2 || !hasEvent(first.Events, upgrade.EventRuntimeSwitched) {
		t.Fatalf("switch block ran v%d, events %v", first.RuntimeVersion, first.Events)
	}
	reopen(false)
	if _, p, eff := read(); c.store.Height() != h || p == nil || p.Version != 2 || eff.Version != 1 {
		t.Fatalf("after a crash before committing the switch: height %d, pending %s, effective v%d; want %d, v2 pending, v1", c.store.Height(), show(p), eff.Version, h)
	}
	if hist, err := c.exec.History(); err != nil || len(hist) != 1 {
		t.Fatalf("history after the crash: %+v %v; want the genesis entry only", hist, err)
	}
	again = finalize(h + 1)
	if string(again.AppHash) != string(first.AppHash) || again.RuntimeVersion != 2 {
		t.Fatalf("re-executed switch block: app hash equal %v, v%d", string(again.AppHash) == string(first.AppHash), again.RuntimeVersion)
	}
	reopen(true)
	_, p, eff := read()
	if c.store.Height() != h+1 || p != nil || eff.Version != 2 || eff.SinceHeight != h+1 {
		t.Fatalf("after committing the switch and a restart: height %d, pending %s, effective v%d since %d; want %d, none, v2 since %d", c.store.Height(), show(p), eff.Version, eff.SinceHeight, h+1, h+1)
	}
	hist, err := c.exec.History()
	if err != nil || len(hist) != 2 || executor.VersionAt(hist, h) != 1 || executor.VersionAt(hist, h+1) != 2 {
		t.Fatalf("history after the switch: %+v %v; want v1 until %d, v2 from %d", hist, err, h, h+1)
	}
}
