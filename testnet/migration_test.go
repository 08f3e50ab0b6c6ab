package testnet

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/internal/testwasm"
)

// migrationGasLimit is the process test's genesis migration_gas_limit: plenty for v3's
// migration of the test's state (about 10,000 gas a key), little enough that testmig's
// endless migration runs out in well under a second.
const migrationGasLimit = 200_000_000

// TestProcessMigration (issue 14 §1): four validator processes under load switch v2 -> v3,
// whose migration rewrites bank and kv into v3's format at the start height, then back
// v3 -> v2; the contracts answer the same throughout while the raw state changes format,
// and every node computes the same results and app hash at every height. Then a switch to
// testmig, whose migration runs out of gas, is aborted at its start height on every node:
// the chain keeps producing blocks with v2 and every node records the same abort.
func TestProcessMigration(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	p := NewProcNet(t, 4, 0)
	for _, name := range []string{"v3", "testmig"} {
		path := filepath.Join(filepath.Dir(p.Modules["v1"]), name+".wasm")
		if err := os.WriteFile(path, testwasm.Module(t, name), 0o644); err != nil {
			t.Fatal(err)
		}
		p.Modules[name] = path
	}
	for _, n := range p.M.Validators() {
		setGenesis(t, filepath.Join(p.M.HomeOf(n), "config", "genesis.json"), "migration_gas_limit", migrationGasLimit)
		p.Start(t, n.Name)
	}
	p.WaitHeight(t, 2, 60*time.Second, validators4...)
	admin := p.M.AdminHome
	call := func(args ...string) string {
		return p.CLI(t, admin, 0, append([]string{"tx", "call"}, append(args, "--from", "admin", "-o", "json")...)...)
	}
	call("bank", "mint", `{"amount":1000}`)
	call("kv", "set", `{"key":"m","value":"hello"}`)
	// answers reads the balance and the value as the contracts give them (simulated on
	// committed state) and the raw bytes the state holds.
	answers := func(node string) (balance, value, raw string) {
		t.Helper()
		sim := func(args ...string) string {
			var out struct {
				Data     string `json:"data"`
				CodeName string `json:"code_name"`
			}
			o := p.CLI(t, node, 0, append([]string{"tx", "call"}, append(args, "--from", "admin", "--simulate", "-o", "json")...)...)
			if err := json.Unmarshal([]byte(o), &out); err != nil || out.CodeName != "ok" {
				t.Fatalf("%v on %s: %s %v", args, node, o, err)
			}
			return out.Data
		}
		var st struct {
			Value string `json:"value"`
		}
		if o := p.CLI(t, node, 0, "query", "state", "kv", "m", "-o", "json"); json.Unmarshal([]byte(o), &st) != nil {
			t.Fatalf("query state: %s", o)
		}
		return sim("bank", "balance", `{}`), sim("kv", "get", `{"key":"m"}`), st.Value
	}
	bal0, val0, raw0 := answers(admin)

	load := StartLoad(t, p.M.ChainID, p.Clients(t, validators4...), 3, 150*time.Millisecond)
	switchTo := func(version, module string, install bool) int64 {
		t.Helper()
		if install {
			p.Admin(t, "upgrade", "register", version, "--file", p.Modules[module])
			for _, name := range validators4 {
				p.CLI(t, name, 0, "runtime", "install", p.Modules[module], "--version", version)
			}
		}
		start := p.Admin(t, "upgrade", "schedule", version, "--in", "4") + 4
		p.WaitHeight(t, start+2, 60*time.Second, validators4...)
		return start
	}
	switchTo("2", "v2", true)
	up := switchTo("3", "v3", true)
	bal3, val3, raw3 := answers(admin)
	t.Logf("kv m stored by v2: %q, by v3: %q", raw0, raw3)
	if bal3 != bal0 || val3 != val0 || raw3 == raw0 {
		t.Fatalf("after v3's migration: balance %s value %s raw %s; before: %s %s %s (want the same answers, another raw form)", bal3, val3, raw3, bal0, val0, raw0)
	}
	down := switchTo("2", "v2", false)
	bal2, val2, raw2 := answers(admin)
	if bal2 != bal0 || val2 != val0 || raw2 != raw0 {
		t.Fatalf("after v2's migration back: balance %s value %s raw %s; want %s %s %s", bal2, val2, raw2, bal0, val0, raw0)
	}
	aborted := switchTo("4", "testmig", true)
	lr := load.StopAndCheck(t, p.Client(t, "node0"))
	top := p.CheckConsistency(t, validators4...)
	if top < aborted+2 {
		t.Fatalf("consistent up to %d only, the abort was at %d", top, aborted)
	}
	for _, name := range validators4 {
		hist := p.History(t, name)
		last := hist[len(hist)-1]
		if last.Height != aborted || last.Version != 2 || last.Aborted == nil || last.Aborted.Version != 4 || last.Aborted.Code != "out_of_gas" ||
			last.Aborted.GasUsed != migrationGasLimit {
			t.Fatalf("%s: history ends with %+v (aborted %+v), want the abort of v4 at %d", name, last, last.Aborted, aborted)
		}
		if out := p.CLI(t, name, 0, "upgrade", "status"); !strings.Contains(out, "ABORTED at height") {
			t.Fatalf("%s: upgrade status does not show the abort:\n%s", name, out)
		}
	}
	// The migrations' events, in the results every node agreed on.
	res, err := p.Client(t, "node0").RPC.BlockResults(context.Background(), &up)
	if err != nil {
		t.Fatal(err)
	}
	migrated := false
	for _, ev := range res.FinalizeBlockEvents {
		migrated = migrated || ev.Type == upgrade.EventRuntimeMigrated
	}
	if !migrated {
		t.Fatalf("no %s event at the start height %d", upgrade.EventRuntimeMigrated, up)
	}
	t.Logf("v3 from %d, v2 again from %d, v4 aborted at %d; load: %+v; consistent to %d", up, down, aborted, lr, top)
}

// setGenesis sets app_state.key in a genesis file.
func setGenesis(t *testing.T, path, key string, value any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]json.RawMessage
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	var app map[string]any
	if err := json.Unmarshal(g["app_state"], &app); err != nil {
		t.Fatal(err)
	}
	app[key] = value
	if g["app_state"], err = json.Marshal(app); err != nil {
		t.Fatal(err)
	}
	if b, err = json.MarshalIndent(g, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
