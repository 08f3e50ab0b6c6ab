package executor_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/internal/testwasm"
)

// migChain is a chain started on v1 whose genesis bounds migrations at gasLimit (0: the
// default).
func migChain(t testing.TB, gasLimit uint64) *chain {
	return migChainState(t, gasLimit, nil)
}

// migChainState is migChain with contract state at genesis.
func migChainState(t testing.TB, gasLimit uint64, contracts map[string]map[string]string) *chain {
	t.Helper()
	return migChainOn(t, nil, gasLimit, contracts)
}

// migChainOn is migChainState on db (a fresh memdb when nil).
func migChainOn(t testing.TB, db dbm.DB, gasLimit uint64, contracts map[string]map[string]string) *chain {
	t.Helper()
	n := newNode(t, db, "", "v1")
	var a genesis.AppState
	if err := json.Unmarshal(appState(t, testwasm.Module(t, "v1")), &a); err != nil {
		t.Fatal(err)
	}
	a.MigrationGasLimit = gasLimit
	a.ContractState = contracts
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.exec.InitChain(chainID, 1, raw, genesisValidators(), executor.NoMaxBlockGas); err != nil {
		t.Fatal(err)
	}
	return &chain{node: n, nonces: map[string]uint64{}}
}

// release installs module as version on the node, registers it and has three of the four
// validators attest it (with v1), so it can be scheduled.
func (c *chain) release(version uint64, module string) {
	c.t.Helper()
	wasm := testwasm.Module(c.t, module)
	if _, err := c.rm.Install(context.Background(), version, wasm); err != nil {
		c.t.Fatal(err)
	}
	txs := [][]byte{c.tx(admin, register(version, wasm))}
	for i := 0; i < 3; i++ {
		txs = append(txs, c.tx(operators[i], attest(i, map[uint64][]byte{1: testwasm.Module(c.t, "v1"), version: wasm})))
	}
	for i, r := range c.block(txs...).TxResults {
		if r.Code != codes.OK {
			c.t.Fatalf("release v%d, tx %d: %s", version, i, r.Log)
		}
	}
}

// switchTo schedules version for the next block and executes that block with txs.
func (c *chain) switchTo(version uint64, txs ...[]byte) *executor.BlockResult {
	c.t.Helper()
	if r := c.block(c.tx(admin, schedule(version, nextBlock))); r.TxResults[0].Code != codes.OK {
		c.t.Fatalf("schedule v%d: %s", version, r.TxResults[0].Log)
	}
	return c.block(txs...)
}

func eventAttr(evs []abi.Event, typ, key string) (string, bool) {
	for _, e := range evs {
		if e.Type == typ {
			for _, a := range e.Attrs {
				if a.Key == key {
					return a.Value, true
				}
			}
		}
	}
	return "", false
}

func (c *chain) raw(contract, key string) []byte {
	c.t.Helper()
	v, err := c.store.Get(state.ContractKey(contract, []byte(key)))
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

func be(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// migrationScenario runs v1 -> v3 (migration to v3's binary format) -> v2 (migration back)
// on c and returns the app hash of every block. It checks what the contracts answer and
// what the state holds at each step.
func migrationScenario(t *testing.T, c *chain) [][]byte {
	alice, bob := key(40), key(41)
	var hashes [][]byte
	blk := func(txs ...[]byte) *executor.BlockResult {
		r := c.block(txs...)
		hashes = append(hashes, r.AppHash)
		return r
	}
	wantCodes(t, blk(c.call(alice, "bank", "mint", `{"amount":1000}`), c.call(alice, "kv", "set", `{"key":"a","value":"one"}`),
		c.call(bob, "kv", "set", `{"key":"b","value":"two"}`)), codes.OK, codes.OK, codes.OK)
	wantCodes(t, blk(c.call(alice, "bank", "transfer", `{"to":"`+addr(bob)+`","amount":250}`)), codes.OK)
	c.release(3, "v3")
	reads := func() [][]byte {
		return [][]byte{
			c.call(alice, "kv", "get", `{"key":"a"}`), c.call(alice, "kv", "get", `{"key":"b"}`),
			c.call(alice, "bank", "balance", `{"address":"`+addr(alice)+`"}`), c.call(alice, "bank", "balance", `{"address":"`+addr(bob)+`"}`),
		}
	}
	check := func(r *executor.BlockResult, version uint64) {
		t.Helper()
		want := []string{"one", "two", `{"address":"` + addr(alice) + `","balance":750}`, `{"address":"` + addr(bob) + `","balance":250}`}
		for i, w := range want {
			tr := r.TxResults[i]
			if tr.Code != codes.OK {
				t.Fatalf("v%d read %d: %s %s", version, i, tr.Code, tr.Log)
			}
			if rec := execRecord(t, tr.Data); string(rec.Data) != w || rec.RuntimeVersion != version {
				t.Fatalf("v%d read %d: %q from v%d, want %q", version, i, rec.Data, rec.RuntimeVersion, w)
			}
		}
	}
	before := reads()
	r := blk(before...)
	check(r, 1)

	// Up: v3's migration runs before the switch block's transactions, which read the same
	// answers from the new format.
	if err := c.block(c.tx(admin, schedule(3, nextBlock))); err.TxResults[0].Code != codes.OK {
		t.Fatalf("schedule v3: %s", err.TxResults[0].Log)
	}
	hashes = append(hashes, c.store.AppHash())
	up := c.store.Height() + 1
	r = blk(append(reads(), c.call(bob, "kv", "set", `{"key":"c","value":"three"}`), c.call(bob, "kv", "written", `{"key":"a"}`))...)
	if r.RuntimeVersion != 3 || !hasEvent(r.Events, upgrade.EventRuntimeSwitched) {
		t.Fatalf("switch block: v%d, events %v", r.RuntimeVersion, r.Events)
	}
	check(r, 3)
	if rec := execRecord(t, r.TxResults[5].Data); string(rec.Data) != "0" {
		t.Fatalf("kv written a: %q, want 0 (migrated, written before v3)", rec.Data)
	}
	// bank: balance/alice, balance/bob, minted/alice; kv: a, b.
	if n, _ := eventAttr(r.Events, upgrade.EventRuntimeMigrated, "keys_changed"); n != "5" {
		t.Fatalf("runtime_migrated keys_changed %q, want 5 (events %v)", n, r.Events)
	}
	if g, _ := eventAttr(r.Events, upgrade.EventRuntimeMigrated, "gas_used"); g == "" || g == "0" {
		t.Fatalf("runtime_migrated gas_used %q", g)
	} else {
		t.Logf("v1 -> v3 migration of 5 keys: %s gas", g)
	}
	if got := c.raw("bank", "balance/"+addr(alice)); !bytes.Equal(got, be(750)) {
		t.Fatalf("v3 raw balance %x, want %x", got, be(750))
	}
	if got := c.raw("kv", "a"); !bytes.Equal(got, append(be(0), "one"...)) {
		t.Fatalf("v3 raw kv a %x: want height 0 (written before v3) and the value", got)
	}
	if got := c.raw("kv", "c"); !bytes.Equal(got, append(be(uint64(up)), "three"...)) {
		t.Fatalf("v3 raw kv c %x: want height %d and the value", got, up)
	}

	// Down: v2's migration brings v3's format back.
	c.release(2, "v2")
	hashes = append(hashes, c.store.AppHash())
	if res := c.block(c.tx(admin, schedule(2, nextBlock))); res.TxResults[0].Code != codes.OK {
		t.Fatalf("schedule v2: %s", res.TxResults[0].Log)
	}
	hashes = append(hashes, c.store.AppHash())
	r = blk(append(reads(), c.call(alice, "kv", "get", `{"key":"c"}`))...)
	if r.RuntimeVersion != 2 {
		t.Fatalf("downgrade block: v%d", r.RuntimeVersion)
	}
	check(r, 2)
	if from, _ := eventAttr(r.Events, upgrade.EventRuntimeMigrated, "from_version"); from != "3" {
		t.Fatalf("downgrade migration from %q, want 3", from)
	}
	if rec := execRecord(t, r.TxResults[4].Data); string(rec.Data) != "three" {
		t.Fatalf("kv c after the downgrade: %q", rec.Data)
	}
	if got := c.raw("bank", "balance/"+addr(bob)); string(got) != "250" {
		t.Fatalf("v2 raw balance %q, want decimal 250", got)
	}
	if got := c.raw("kv", "c"); string(got) != "three" {
		t.Fatalf("v2 raw kv c %q", got)
	}
	return hashes
}

// TestMigrationUpAndDown: a switch to v3 migrates bank and kv to v3's stored format before
// the block's transactions, a downgrade to v2 migrates them back, the contracts answer
// the same throughout, and two nodes compute the same app hash at every block.
func TestMigrationUpAndDown(t *testing.T) {
	a := migrationScenario(t, migChain(t, 0))
	b := migrationScenario(t, migChain(t, 0))
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("block %d: app hashes %x and %x differ", i, a[i], b[i])
		}
	}
}

// TestMigrationAbort: a migration that runs out of gas, traps, returns an error or panics
// aborts its switch at the start height: nothing it wrote remains, the block executes
// with the previous version, the next header returns to it, the history records the
// attempt with a deterministic reason, and the chain goes on.
func TestMigrationAbort(t *testing.T) {
	const limit = 20_000_000
	for _, tc := range []struct {
		mode   string
		code   codes.Code
		reason string
	}{
		{"", codes.OutOfGas, "kv: out_of_gas"},
		{"exit", codes.ContractTrap, "kv: contract_trap"},
		{"error", codes.ContractError, "kv: contract_error: testmig: refusing to migrate"},
		{"panic", codes.ContractAbort, "kv: contract_abort: panic: testmig: migration panicked"},
	} {
		t.Run(tc.code.String(), func(t *testing.T) {
			c := migChain(t, limit)
			alice := key(42)
			txs := [][]byte{c.call(alice, "kv", "set", `{"key":"x","value":"1"}`)}
			if tc.mode != "" {
				txs = append(txs, c.call(alice, "kv", "set", `{"key":"migration","value":"`+tc.mode+`"}`))
			}
			c.block(txs...)
			c.release(3, "testmig")
			r := c.switchTo(3, c.call(alice, "kv", "get", `{"key":"x"}`), c.call(alice, "kv", "append", `{"key":"x","value":"2"}`))
			h := c.store.Height()
			if r.RuntimeVersion != 1 || hasEvent(r.Events, upgrade.EventRuntimeSwitched) {
				t.Fatalf("aborted switch block: v%d, events %v", r.RuntimeVersion, r.Events)
			}
			// v1 executed the block: it has no append.
			wantCodes(t, r, codes.OK, codes.ContractError)
			if r.NextAppVersion != 1 {
				t.Fatalf("next app version %d, want 1 (the header of %d carried 3)", r.NextAppVersion, h)
			}
			code, _ := eventAttr(r.Events, upgrade.EventRuntimeSwitchAborted, "code")
			reason, _ := eventAttr(r.Events, upgrade.EventRuntimeSwitchAborted, "reason")
			gas, _ := eventAttr(r.Events, upgrade.EventRuntimeSwitchAborted, "gas_used")
			if code != tc.code.String() || reason != tc.reason {
				t.Fatalf("runtime_switch_aborted code %q reason %q, want %s %q (events %v)", code, reason, tc.code, tc.reason, r.Events)
			}
			if g, _ := strconv.ParseUint(gas, 10, 64); g == 0 || g > limit || (tc.code == codes.OutOfGas && g != limit) {
				t.Fatalf("gas_used %s (limit %d)", gas, limit)
			}
			if v := c.raw("kv", "half_migrated"); v != nil {
				t.Fatalf("the failed migration's write remains: %q", v)
			}
			eff, err := c.exec.EffectiveRuntime()
			if err != nil || eff.Version != 1 || eff.SinceHeight != 1 {
				t.Fatalf("effective %v %v, want v1 since 1", eff, err)
			}
			var st executor.UpgradeStatus
			if err := json.Unmarshal(c.exec.Query("/upgrade/status", nil).Value, &st); err != nil {
				t.Fatal(err)
			}
			if st.Pending != nil || st.LastAborted == nil || st.LastAborted.Height != h || st.LastAborted.Aborted.Reason != tc.reason {
				t.Fatalf("status: pending %v, last aborted %+v", st.Pending, st.LastAborted)
			}
			hist, err := c.exec.History()
			if err != nil {
				t.Fatal(err)
			}
			last := hist[len(hist)-1]
			if last.Height != h || last.Version != 1 || last.Aborted == nil || last.Aborted.Version != 3 || last.Aborted.FromVersion != 1 ||
				last.Aborted.Code != tc.code.String() || executor.VersionAt(hist, h) != 1 {
				t.Fatalf("history %+v", hist)
			}
			r = c.block(c.call(alice, "kv", "get", `{"key":"x"}`))
			if r.RuntimeVersion != 1 || r.NextAppVersion != 0 || r.TxResults[0].Code != codes.OK {
				t.Fatalf("after the abort: v%d next %d %s", r.RuntimeVersion, r.NextAppVersion, r.TxResults[0].Log)
			}
			var params executor.Params
			if err := json.Unmarshal(c.exec.Query("/params", nil).Value, &params); err != nil || params.App.MigrationGasLimit != limit {
				t.Fatalf("/params: migration_gas_limit %d %v, want %d", params.App.MigrationGasLimit, err, limit)
			}
			// Replaying the aborted height needs the aborted module: a node without it
			// lists it as missing.
			if err := os.Remove(c.rm.Path(3)); err != nil {
				t.Fatal(err)
			}
			if miss, err := c.exec.Missing(); err != nil || len(miss) != 1 || miss[0].Version != 3 {
				t.Fatalf("missing %v %v, want the aborted v3", miss, err)
			}
		})
	}
}

// TestMigrationAbortDeterministic: two nodes abort the same switch with the same app hash.
func TestMigrationAbortDeterministic(t *testing.T) {
	var hashes []string
	for i := 0; i < 2; i++ {
		c := migChain(t, 5_000_000)
		c.block(c.call(key(43), "kv", "set", `{"key":"x","value":"1"}`))
		c.release(3, "testmig")
		r := c.switchTo(3)
		if !hasEvent(r.Events, upgrade.EventRuntimeSwitchAborted) {
			t.Fatalf("node %d: no abort (events %v)", i, r.Events)
		}
		hashes = append(hashes, hex.EncodeToString(r.AppHash))
	}
	if hashes[0] != hashes[1] {
		t.Fatalf("app hashes differ: %v", hashes)
	}
}

// TestMigrationScale measures v3's migration of a state of 10,000 bank balances and
// 10,000 kv values (v1's format, from genesis): its gas and the switch block's wall time,
// logged (tests assert no time). Run: go test ./app/executor -run TestMigrationScale -v
func TestMigrationScale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a state of 20,000 keys")
	}
	const n = 10_000
	bank, kv := map[string]string{}, map[string]string{}
	for i := 0; i < n; i++ {
		bank[fmt.Sprintf("balance/%040X", i+1)] = strconv.Itoa(1000 + i)
		kv[fmt.Sprintf("key-%05d", i)] = fmt.Sprintf("value of key %d", i)
	}
	c := migChainState(t, 0, map[string]map[string]string{"bank": bank, "kv": kv})
	c.block()
	c.release(3, "v3")
	if r := c.block(c.tx(admin, schedule(3, nextBlock))); r.TxResults[0].Code != codes.OK {
		t.Fatal(r.TxResults[0].Log)
	}
	start := time.Now()
	r, err := c.exec.FinalizeBlock(context.Background(), c.store.Height()+1, nil)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.exec.Commit(); err != nil {
		t.Fatal(err)
	}
	keys, _ := eventAttr(r.Events, upgrade.EventRuntimeMigrated, "keys_changed")
	gas, _ := eventAttr(r.Events, upgrade.EventRuntimeMigrated, "gas_used")
	if keys != strconv.Itoa(2*n) || r.RuntimeVersion != 3 {
		t.Fatalf("keys changed %s, v%d (events %v)", keys, r.RuntimeVersion, r.Events)
	}
	if got := c.raw("bank", fmt.Sprintf("balance/%040X", n)); !bytes.Equal(got, be(1000+n-1)) {
		t.Fatalf("last balance %x", got)
	}
	t.Logf("v1 -> v3 migration of %d keys: %s gas; switch block (migration, no transactions) %s", 2*n, gas, took.Round(time.Millisecond))
}
