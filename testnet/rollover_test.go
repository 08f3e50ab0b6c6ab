package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/localnet"
)

// TestProcessBinaryRollover (issue 11 §1): replacing vchaind is a rolling restart that never
// changes a result, and a new rule reaches the chain only as a new execution profile
// scheduled like a runtime switch.
//
// Binary A carries profile 1; binary B is built from the same tree with -tags
// vchain_profile2, which adds profile 2 (profile 1 with state_set priced 2,000 instead of
// 200). Release v2 is the v1 module's own bytes under profile 2, so the only thing the
// switch changes is the rules. Four validators start on A; the release is refused while
// fewer than the threshold run B, and accepted once three of four do. node3, still on A,
// pauses at the start height saying which vchaind it needs, and resumes when restarted on
// B. Every kv.set after the switch costs exactly 1,800 gas more than the same call before.
// A full node started afterwards on B replays from genesis and reproduces every block's
// results (each transaction's code, data and gas) and app hash.
func TestProcessBinaryRollover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	binA, binB := Binary(t), BinaryWithTags(t, "vchain_profile2")
	p := StartProcNet(t, 4, 1)
	p.WaitHeight(t, 2, 60*time.Second, validators4...)
	admin := p.Node(t, p.M.AdminHome)

	kvSet := func(key string) (height int64, gas uint64) {
		t.Helper()
		out, err := p.M.Run(binA, admin, "tx", "call", "kv", "set", fmt.Sprintf(`{"key":%q,"value":"v"}`, key),
			"--gas", "5000000", "--from", "admin", "-o", "json")
		if err != nil {
			t.Fatalf("kv.set: %v", err)
		}
		var res struct {
			Height  int64  `json:"height"`
			Code    uint32 `json:"code"`
			GasUsed uint64 `json:"gas_used"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Code != 0 {
			t.Fatalf("kv.set: %s (%v)", out, err)
		}
		return res.Height, res.GasUsed
	}
	_, gasBefore := kvSet("key-a") // keys of one length: the same work but for the profile

	// The release: the v1 module's bytes as version 2, under profile 2. Binary A's CLI
	// registers it (with a note that it does not carry the profile itself).
	p.Admin(t, "upgrade", "register", "2", "--file", p.Modules["v1"], "--profile", "2")
	for _, name := range validators4 {
		p.CLI(t, name, 0, "runtime", "install", p.Modules["v1"], "--version", "2")
	}
	refused := func(why string) {
		t.Helper()
		out, err := p.M.Run(binA, admin, "upgrade", "schedule", "2", "--in", "4", "--from", "admin")
		var re *localnet.RunError
		if err == nil || !strings.Contains(fmt.Sprint(err, out), "profile 2") {
			t.Fatalf("schedule with %s: %v %s; want a refusal naming profile 2", why, err, out)
		}
		if errors.As(err, &re) {
			t.Logf("schedule with %s refused: %s", why, firstNonEmpty(re.Stderr, re.Stdout))
		}
	}
	refused("every node on binary A")

	// Roll node0..node2 onto B one at a time; each attests again from the new binary.
	for i, name := range validators4[:3] {
		n := p.Node(t, name)
		if err := p.M.StopNode(n, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		p.startEnv(t, binB, name)
		if _, err := p.M.Run(binB, n, "runtime", "attest"); err != nil {
			t.Fatalf("%s: runtime attest on binary B: %v", name, err)
		}
		if i == 1 {
			p.WaitHeight(t, p.Status(t, name).Height, 30*time.Second, "node0")
			refused("2 of 4 validators on binary B")
		}
	}
	// Each attest waited for its block on its own node; schedule reads readiness from
	// node0, which may commit that block a moment later.
	p.WaitHeight(t, p.Status(t, "node2").Height, 30*time.Second, "node0")
	start := p.Admin(t, "upgrade", "schedule", "2", "--in", "4") + 4

	// node3 is still on A: it stops before the switch block and says what it needs.
	n3 := p.Node(t, "node3")
	logPath := filepath.Join(p.M.HomeOf(n3), localnet.LogFile)
	waitSay(t, logPath, 0, "it will pause at the start height: this vchaind knows profiles 1..1; release v2 needs profile 2", 60*time.Second)
	waitSay(t, logPath, 0, "PAUSED: this node cannot execute the next block: this vchaind knows profiles 1..1; release v2 needs profile 2: upgrade vchaind", 60*time.Second)
	if s := p.Status(t, "node3"); !s.Paused || s.PausedFor != 2 {
		t.Fatalf("node3 on binary A: %+v, want paused for v2", s)
	}
	info, err := p.Client(t, "node3").RPC.ABCIInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ah := info.Response.LastBlockHeight; ah != start-1 {
		t.Fatalf("node3 on binary A executed up to %d, want %d: the block of the switch must not run under profile 1", ah, start-1)
	}
	p.WaitHeight(t, start+2, 60*time.Second, validators4[:3]...)

	h, gasAfter := kvSet("key-b")
	if h < start || gasAfter != gasBefore+1_800 {
		t.Fatalf("kv.set at %d costs %d gas, before the switch at %d it cost %d: want exactly 1,800 more (state_set 200 -> 2,000)", h, gasAfter, start, gasBefore)
	}

	// node3 restarted on B resumes; the late full node on B replays from genesis.
	if err := p.M.StopNode(n3, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	p.startEnv(t, binB, "node3")
	p.CLI(t, "node4", 0, "runtime", "install", p.Modules["v1"], "--version", "2")
	p.startEnv(t, binB, "node4")
	top := p.Status(t, "node0").Height
	p.WaitHeight(t, top, 90*time.Second, "node3", "node4")
	for _, name := range append(validators4, "node4") {
		hist := p.History(t, name)
		if len(hist) != 2 || hist[0].Profile != 1 || hist[1].Height != start || hist[1].Version != 2 || hist[1].Profile != 2 {
			t.Fatalf("%s: history %+v, want v1 (profile 1) then v2 (profile 2) from %d", name, hist, start)
		}
	}
	checked := p.CheckConsistency(t, append(validators4, "node4")...)
	t.Logf("switch to profile 2 at %d; kv.set %d -> %d gas; 5 processes (a late one replaying from genesis on binary B) identical up to %d",
		start, gasBefore, gasAfter, checked)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
