package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/keyring"
)

// TestUpgradeSimulate drives `vchaind upgrade simulate` against a live node running v1:
// a dry run of v2 over the blocks holding a known mix of transactions reports a changed
// code or result for exactly the ones v2's transfer fee changes (the transfer, and a later
// balance read of its sender, one token lower) and no others, and for the others only
// their gas (v2 is another build); a dry run of v1 itself reports nothing, not even gas;
// bad requests get clear errors; `upgrade schedule` prints the dry run's one-line summary
// before sending. The node keeps its state and keeps committing throughout.
func TestUpgradeSimulate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a vchaind process")
	}
	p := StartProcNet(t, 1, 0)
	ctx := context.Background()
	c := p.Client(t, "node0")
	p.Admin(t, "upgrade", "register", "2", "--file", p.Modules["v2"])
	p.Admin(t, "upgrade", "register", "3", "--file", p.Modules["testmod"]) // registered, installed nowhere
	p.CLI(t, "node0", 0, "runtime", "install", p.Modules["v2"], "--version", "2")

	kr := keyring.Open(t.TempDir())
	a, err := kr.Add("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := kr.Add("b")
	if err != nil {
		t.Fatal(err)
	}
	chainID, err := c.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type call struct {
		key              *keyring.Key
		nonce            uint64
		contract, method string
		args             string
		differs          bool // under v2
	}
	calls := []call{
		{a, 1, "bank", "mint", `{"amount":100}`, false},
		{a, 2, "kv", "set", `{"key":"k1","value":"v"}`, false},
		{a, 3, "bank", "transfer", fmt.Sprintf(`{"to":%q,"amount":10}`, b.Address), true}, // v2 burns 1
		{b, 1, "kv", "set", `{"key":"k2","value":"w"}`, false},
		{b, 2, "bank", "balance", `{}`, false},   // received 10 either way
		{a, 4, "bank", "balance", `{}`, true},    // 90 under v1, 89 under v2
		{a, 5, "kv", "set", `{"key":""}`, false}, // fails alike
	}
	var hashes []string
	var raws [][]byte
	for _, cl := range calls {
		raw, _, err := c.SignCall(ctx, cl.key, client.CallTx{ChainID: chainID, Contract: cl.contract, Method: cl.method, Args: []byte(cl.args), GasLimit: 1_000_000, Nonce: cl.nonce})
		if err != nil {
			t.Fatal(err)
		}
		h, err := c.Broadcast(ctx, raw)
		if err != nil {
			t.Fatalf("%s.%s: %v", cl.contract, cl.method, err)
		}
		hashes, raws = append(hashes, fmt.Sprintf("%X", h)), append(raws, h)
	}
	first := int64(-1)
	for _, h := range raws {
		r, err := c.WaitTx(ctx, h, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if first < 0 || r.Height < first {
			first = r.Height
		}
	}
	// --blocks covering the transactions' blocks, with a margin for the blocks that
	// commit before the node answers.
	window := func() string { return strconv.FormatInt(p.Status(t, "node0").Height-first+1+3, 10) }
	var rep executor.DryRunReport
	out := p.CLI(t, "node0", 0, "upgrade", "simulate", "2", "--blocks", window(), "-o", "json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("upgrade simulate -o json printed %q: %v", out, err)
	}
	if rep.BaseHeight >= first || rep.Txs < len(calls) || rep.Version != 2 || rep.FromVersion != 1 || rep.Migration == nil ||
		!rep.Migration.Ran || rep.Migration.KeysChanged != 0 || rep.Migration.Error != "" { // v2's migration from v1 has nothing to do
		t.Fatalf("the dry run does not cover the transactions of blocks %d.. : %+v", first, rep)
	}
	want := map[string]call{}
	for i, cl := range calls {
		if cl.differs {
			want[hashes[i]] = cl
		}
	}
	// v2 is another build of the contracts: every call's gas differs a little. Its code
	// and data differ only where the fee reaches.
	for _, d := range rep.Differing {
		if d.Recorded.Code == d.Simulated.Code && bytes.Equal(d.Recorded.Data, d.Simulated.Data) {
			if d.Recorded.GasUsed == d.Simulated.GasUsed {
				t.Errorf("reported as differing with nothing different: %+v", d)
			}
			continue
		}
		cl, ok := want[d.Hash]
		if !ok {
			t.Errorf("reported as differing in code or data, but v2 changes neither: %+v", d)
			continue
		}
		delete(want, d.Hash)
		var rec, sim struct{ Balance, Fee uint64 }
		if json.Unmarshal(d.Recorded.Data, &rec) != nil || json.Unmarshal(d.Simulated.Data, &sim) != nil ||
			sim.Balance != rec.Balance-1 || (cl.method == "transfer") != (sim.Fee == rec.Fee+1) || d.Recorded.Code != 0 || d.Simulated.Code != 0 {
			t.Errorf("%s.%s: recorded %s, simulated %s: want the balance one lower (the fee)", cl.contract, cl.method, d.Recorded.Data, d.Simulated.Data)
		}
	}
	for h, cl := range want {
		t.Errorf("not reported: %s.%s (%s), whose result v2 changes", cl.contract, cl.method, h)
	}
	if rep.DifferingTxs != len(rep.Differing) || rep.DifferData != 2 || rep.DifferCode != 0 {
		t.Errorf("totals: %+v", rep)
	}
	t.Logf("dry run of v2: %d blocks, %d txs, %d ms (%.1f blocks/s), %d differing", rep.Blocks, rep.Txs, rep.ElapsedMillis, rep.BlocksPerSecond, rep.DifferingTxs)

	text := p.CLI(t, "node0", 0, "upgrade", "simulate", "2", "--blocks", window())
	if !strings.Contains(text, hashes[2]) || !strings.Contains(text, "(code 0, data 2, gas ") {
		t.Errorf("upgrade simulate's text does not list the transfer %s:\n%s", hashes[2], text)
	}
	t.Logf("upgrade simulate 2:\n%s", text)

	// The version already effective changes nothing: no false positives.
	same := p.CLI(t, "node0", 0, "upgrade", "simulate", "1", "--blocks", window())
	if !strings.Contains(same, "differing:  0 txs") || !strings.Contains(same, "migration:  none") {
		t.Errorf("a dry run of the effective version reports:\n%s", same)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"9", "--blocks", "2"}, "version 9 is not registered"},
		{[]string{"3", "--blocks", "2"}, "not installed on this node"},
		{[]string{"2", "--blocks", "100000"}, "this node's history allows at most"},
		{[]string{"2", "--blocks", "0"}, "want 1 or more"},
	} {
		_, err := p.M.Run(p.Bin, p.Node(t, "node0"), append([]string{"upgrade", "simulate"}, bad.args...)...)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("upgrade simulate %v: %v, want an error saying %q", bad.args, err, bad.want)
		}
	}

	// upgrade schedule prints the summary on stderr before it sends, unless --no-simulate.
	node := p.Node(t, "node0")
	schedule := func(extra ...string) string {
		cmd := exec.Command(p.Bin, append([]string{"upgrade", "schedule", "2", "--in", "1000", "--from", "admin", "--home", p.M.HomeOf(node), "--node", node.RPCAddr()}, extra...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("upgrade schedule: %v\n%s", err, stderr.String())
		}
		return stderr.String()
	}
	if quiet := schedule("--no-simulate"); strings.Contains(quiet, "dry run") {
		t.Errorf("upgrade schedule --no-simulate ran a dry run:\n%s", quiet)
	}
	stderr := schedule()
	if !regexp.MustCompile(`dry run of v2 over blocks \d+\.\.\d+ \(\d+ txs\): \d+ would differ \(code 0, data 2, gas \d+\)`).MatchString(stderr) {
		t.Errorf("upgrade schedule printed no dry run summary:\n%s", stderr)
	}
	t.Logf("upgrade schedule printed:\n%s", stderr)
	p.CheckConsistency(t, "node0")
}
