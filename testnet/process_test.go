package testnet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/localnet"
)

var validators4 = []string{"node0", "node1", "node2", "node3"}

// TestProcessRollingUpgradeAndLateJoiner (scenarios 1 and 2): on real processes, under
// load, v2 is installed node by node with `vchaind runtime install` (no node restarted),
// scheduled, switched at the same height everywhere, then downgraded; a full node started
// afterwards syncs from genesis across both switches.
func TestProcessRollingUpgradeAndLateJoiner(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	p := StartProcNet(t, 4, 1)
	p.WaitHeight(t, 2, 60*time.Second, validators4...)
	load := StartLoad(t, p.M.ChainID, p.Clients(t, validators4...), 4, 100*time.Millisecond)

	p.Admin(t, "upgrade", "register", "2", "--file", p.Modules["v2"])
	for i, name := range validators4 {
		p.CLI(t, name, 0, "runtime", "install", p.Modules["v2"], "--version", "2")
		if i == 1 {
			p.CLI(t, p.M.AdminHome, 1, "upgrade", "schedule", "2", "--in", "3", "--from", "admin") // 2 of 4: refused
		}
	}
	start := p.Admin(t, "upgrade", "schedule", "2", "--in", "4") + 4
	p.WaitHeight(t, start+1, 60*time.Second, validators4...)
	for _, name := range validators4 {
		if h := p.History(t, name); len(h) != 2 || h[1].Height != start || h[1].Version != 2 {
			t.Fatalf("%s: history %+v, want v2 from %d", name, h, start)
		}
	}
	down := p.Admin(t, "upgrade", "schedule", "1", "--next-block") + 1
	p.WaitHeight(t, down+1, 60*time.Second, validators4...)
	lr := load.StopAndCheck(t, p.Client(t, "node0"))
	if lr.Committed == 0 || lr.Failed != 0 || lr.Refused != 0 {
		t.Fatalf("load: %+v", lr)
	}
	t.Logf("switch to v2 at %d, back to v1 at %d; load %+v", start, down, lr)

	// The late joiner installs both versions first (its node is not running: no attestation).
	p.CLI(t, "node4", 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	p.Start(t, "node4")
	top := p.Status(t, "node0").Height
	p.WaitHeight(t, top, 90*time.Second, "node4")
	if h := p.History(t, "node4"); len(h) != 3 || h[1].Height != start || h[2].Height != down {
		t.Fatalf("late joiner's history %+v", h)
	}
	checked := p.CheckConsistency(t, append(validators4, "node4")...)
	t.Logf("5 processes: identical blocks and app hashes at heights 1..%d", checked)
}

// TestProcessPausedValidator (scenario 3): a validator process without v2 pauses at the
// start height while the others go on, answers its RPC saying so, and resumes after
// `vchaind runtime install` with no restart.
func TestProcessPausedValidator(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	p := StartProcNet(t, 4, 0)
	p.WaitHeight(t, 2, 60*time.Second, validators4...)
	p.Admin(t, "upgrade", "register", "2", "--file", p.Modules["v2"])
	for _, name := range validators4[:3] {
		p.CLI(t, name, 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	}
	start := p.Admin(t, "upgrade", "schedule", "2", "--in", "3") + 3
	deadline := time.Now().Add(60 * time.Second)
	for !p.Status(t, "node3").Paused {
		if time.Now().After(deadline) {
			t.Fatalf("node3 never paused: %+v", p.Status(t, "node3"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.WaitHeight(t, start+3, 60*time.Second, validators4[:3]...)
	if out := p.CLI(t, "node3", 0, "upgrade", "status"); !strings.Contains(out, "PAUSED") {
		t.Fatalf("upgrade status of the paused node:\n%s", out)
	}
	log, _ := os.ReadFile(filepath.Join(p.M.HomeOf(p.Node(t, "node3")), localnet.LogFile))
	if n := strings.Count(string(log), "PAUSED"); n != 1 {
		t.Fatalf("the pause was logged %d times, want once", n)
	}
	p.CLI(t, "node3", 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	top := p.Status(t, "node0").Height
	p.WaitHeight(t, top, 60*time.Second, "node3")
	if p.Status(t, "node3").Paused {
		t.Fatal("node3 still paused after install")
	}
	t.Logf("node3 paused before %d, resumed; identical up to %d", start, p.CheckConsistency(t, validators4...))
}

// TestProcessDivergenceDetected (scenario 4): a validator computes another result than
// the chain. node3, from a vchaind built with faults (internal/fault), adds one write to
// its block at height 8: it commits a state and app hash of its own, and the block after,
// whose header carries the app hash the others computed, stops it with an app-hash error
// while the three others go on. Restarted from a build without faults, it stays at 8 (its
// state is not the chain's), and the suite's comparison of what each node computed names
// it. Then the module of the effective version is replaced behind its back (other bytes
// under the same version number): on restart it refuses to load it and stops with a clear
// error instead of signing another app hash; the other nodes go on.
func TestProcessDivergenceDetected(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	const diverged, at = "node3", 8
	p := NewProcNet(t, 4, 0)
	faultSaid := p.startDiverging(t, diverged, at)
	for _, name := range validators4[:3] {
		p.Start(t, name)
	}
	n3 := p.Node(t, diverged)
	logPath := filepath.Join(p.M.HomeOf(n3), localnet.LogFile)
	log := p.waitExit(t, diverged, logPath, 0, 120*time.Second)
	mustSay(t, log, "STOPPING: consensus failed", faultSaid)
	if stop := firstLine(log, "STOPPING: consensus failed"); !strings.Contains(stop, "wrong Block.Header.AppHash") {
		t.Fatalf("%s stopped, but not on the app hash: %s", diverged, stop)
	}
	p.WaitHeight(t, at+3, 60*time.Second, validators4[:3]...)

	before := fileSize(logPath)
	p.Start(t, diverged)
	waitSay(t, logPath, before, "wrong Block.Header.AppHash", 60*time.Second)
	p.WaitHeight(t, p.Status(t, "node0").Height+2, 60*time.Second, validators4[:3]...)
	if s := p.Status(t, diverged); s.Height != at {
		t.Fatalf("%s restarted at height %d, want it stuck at %d where it diverged (%s)", diverged, s.Height, at, s.Err)
	}
	_, err := p.Consistency(validators4...)
	mustName(t, err, diverged, at)

	if err := p.M.StopNode(n3, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	bad, err := os.ReadFile(p.Modules["testmod"])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.M.HomeOf(n3), "runtime", "v1.wasm"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	before = fileSize(logPath)
	if _, err := p.M.StartNode(p.Bin, n3); err != nil {
		t.Fatal(err)
	}
	log = p.waitExit(t, diverged, logPath, before, 30*time.Second)
	if !strings.Contains(log, "sha256 mismatch") || !strings.Contains(log, "the chain expects") {
		t.Fatalf("node3 stopped without saying why:\n%s", tail(log, 2000))
	}
	h := p.Status(t, "node0").Height
	p.WaitHeight(t, h+3, 30*time.Second, validators4[:3]...)
	t.Logf("node3 refused the replaced module and stopped; the others reached %d", h+3)
}

// TestProcessKillBeforeSwitch (scenario 5): a validator killed with -9 at the block before
// the start height restarts, replays, switches at the same height and agrees with the rest.
// That the kill came after its app committed start-1 and before it committed start is read
// on the node itself: its ABCI handshake at the restart names the height its app had
// committed, and its log after the restart shows it executing the switch.
func TestProcessKillBeforeSwitch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	p := StartProcNet(t, 4, 0)
	p.WaitHeight(t, 2, 60*time.Second, validators4...)
	p.Admin(t, "upgrade", "register", "2", "--file", p.Modules["v2"])
	for _, name := range validators4 {
		p.CLI(t, name, 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	}
	// The kill follows node2's own /abci_info reaching start-1, a commit timeout (300 ms)
	// before it can commit start; a machine slow enough to let it commit start first is
	// seen in the handshake, and the test tries again with the next switch (v1, then v2).
	const attempts = 3
	var k killedBeforeSwitch
	for attempt, version := 1, uint64(2); ; attempt, version = attempt+1, 3-version {
		k = p.killBeforeSwitch(t, "node2", version)
		if k.AppAtRestart < k.Start {
			break
		}
		if attempt == attempts {
			t.Fatalf("%d attempts: node2's app had always committed the switch height when it died (last: %+v)", attempts, k)
		}
		t.Logf("attempt %d missed: node2's app had committed %d, the switch height %d, when it died; again with a switch to v%d", attempt, k.AppAtRestart, k.Start, 3-version)
	}
	p.checkKilledBeforeSwitch(t, "node2", k)
	p.checkAppHash(t, "node2")
	t.Logf("node2 killed with its app at %d (switch to v%d at %d), restarted, executed the switch itself; identical up to %d",
		k.AppAtRestart, k.Version, k.Start, p.CheckConsistency(t, validators4...))
}
