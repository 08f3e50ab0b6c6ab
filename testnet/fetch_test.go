package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmtlog "github.com/cometbft/cometbft/libs/log"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/internal/localnet"
	"github.com/vchain/vchain/internal/node"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestFetchModulesFromPeers: `runtime fetch` refuses an unknown version and a version no
// peer has (installing nothing), then fetches v2 from a peer, installs and attests it; a
// validator paused at the switch for lack of v2, restarted with runtime.auto_fetch,
// fetches it by itself before starting CometBFT and catches up with the same app hashes.
// (A running node's pause: TestPausedNodeFetchesItsRuntime.)
func TestFetchModulesFromPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 4 vchaind processes")
	}
	p := NewProcNet(t, 4, 0)
	for _, name := range []string{"node0", "node1", "node2"} { // 3 of 4: the chain runs
		p.Start(t, name)
	}
	p.WaitHeight(t, 2, 60*time.Second, "node0", "node1", "node2")
	p.Admin(t, "upgrade", "register", "2", "--file", p.Modules["v2"])
	v2Path := filepath.Join(p.M.HomeOf(p.Node(t, "node2")), "runtime", "v2.wasm")

	fail := func(args []string, want string) {
		t.Helper()
		_, err := p.M.Run(p.Bin, p.Node(t, "node2"), args...)
		var re *localnet.RunError
		if !errors.As(err, &re) || re.Code != 1 || !strings.Contains(re.Stderr, want) {
			t.Fatalf("vchaind %s: %v; want exit 1 saying %q", strings.Join(args, " "), err, want)
		}
		if _, err := os.Stat(v2Path); !os.IsNotExist(err) {
			t.Fatalf("after a failed fetch, %s: %v", v2Path, err)
		}
	}
	fail([]string{"runtime", "fetch", "9"}, "v9 is not a release registered on the chain")
	fail([]string{"runtime", "fetch", "2"}, "does not have v2") // its peers node0, node1 lack it too
	for _, name := range []string{"node0", "node1"} {
		p.CLI(t, name, 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	}
	var got struct {
		Version         uint64
		From            string
		Size            int
		DownloadSeconds float64 `json:"download_seconds"`
	}
	out := p.CLI(t, "node2", 0, "runtime", "fetch", "2", "-o", "json")
	// The install's answer, then (as runtime install prints it) the attestation's.
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&got); err != nil || got.Version != 2 ||
		(got.From != p.Node(t, "node0").RPCAddr() && got.From != p.Node(t, "node1").RPCAddr()) {
		t.Fatalf("fetch: %v: %s", err, out)
	}
	t.Logf("runtime fetch: %d bytes from %s in %.3fs", got.Size, got.From, got.DownloadSeconds)
	want, _ := os.ReadFile(p.Modules["v2"])
	if b, err := os.ReadFile(v2Path); err != nil || string(b) != string(want) {
		t.Fatalf("node2's v2 after fetch: %d bytes, %v", len(b), err)
	}

	// node0, node1 and node2 (attested by fetch) make 3 of 4: the switch is scheduled.
	start := p.Admin(t, "upgrade", "schedule", "2", "--in", "4") + 4
	p.WaitHeight(t, start+2, 60*time.Second, "node0")
	// node3 was down through it all. Without auto_fetch it catches up to the switch and
	// pauses there; restarted with auto_fetch it waits before starting CometBFT (no peers
	// yet), fetches v2 from runtime.fetch_from, and catches up with nobody installing it.
	n3 := p.Node(t, "node3")
	p.Start(t, "node3")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var rt executor.RuntimeInfo
		if err := p.Client(t, "node3").QueryJSON(context.Background(), "/runtime", &rt); err == nil && rt.Paused != nil {
			if rt.Paused.Height != start || rt.Paused.Version != 2 {
				t.Fatalf("node3 paused %+v, want at %d for v2", rt.Paused, start)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node3 did not pause at %d", start)
		}
	}
	if err := p.M.StopNode(n3, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := p.M.StartNodeEnv(p.Bin, n3, "VCHAIN_RUNTIME_AUTO_FETCH=true", "VCHAIN_RUNTIME_FETCH_FROM="+p.Node(t, "node0").RPCAddr()); err != nil {
		t.Fatal(err)
	}
	p.WaitHeight(t, p.Status(t, "node0").Height, 90*time.Second, "node3")
	if at := p.CheckConsistency(t, "node0", "node1", "node2", "node3"); at < start {
		t.Fatalf("checked up to %d, before the switch at %d", at, start)
	}
	log, err := os.ReadFile(filepath.Join(p.M.HomeOf(n3), localnet.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	said := "auto_fetch: runtime fetched and installed before starting"
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, said) {
			t.Log(line)
		}
	}
	if !strings.Contains(string(log), said) || !strings.Contains(string(log), "from="+p.Node(t, "node0").RPCAddr()) {
		t.Fatalf("node3's log does not say it fetched v2 from node0 before starting")
	}
}

// TestPausedNodeFetchesItsRuntime pins the pause path of runtime.auto_fetch, which the
// process test may or may not take (a node usually fetches a scheduled version before
// its start height): the lagging node's fetcher is held back until the node pauses, then
// the real one (the node's CometBFT peers, their /runtime/module, the chain's sha256)
// runs, and the node resumes by itself and catches up with the same app hashes.
func TestPausedNodeFetchesItsRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-validator network")
	}
	v2 := testwasm.Module(t, "v2")
	net := Start(t, Options{Validators: 4})
	lagging := net.Nodes[3]
	fetch := node.AutoFetcher(lagging.Comet.Switch, nil, lagging.App.Runtimes, cmtlog.NewNopLogger())
	lagging.App.Exec.SetFetcher(func(ctx context.Context, v uint64, sha runtime.Hash) (executor.FetchReport, error) {
		if lagging.App.Exec.Paused() == nil {
			return executor.FetchReport{}, errors.New("held back by the test until the node pauses")
		}
		return fetch(ctx, v, sha)
	})
	net.WaitHeight(t, 2, 60*time.Second)
	net.Register(t, 2, v2)
	for _, n := range net.Nodes[:3] {
		n.Install(t, 2, v2)
	}
	r := net.Schedule(t, 2, 3)
	if r.Code != 0 {
		t.Fatal(r.Log)
	}
	start := r.Height + 3
	var paused *executor.PauseInfo
	for deadline := time.Now().Add(60 * time.Second); lagging.App.Exec.Height() < start+2; {
		if p := lagging.App.Exec.Paused(); p != nil {
			paused = p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s at height %d, paused %+v; the switch was at %d", lagging.Name, lagging.App.Exec.Height(), paused, start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if paused == nil || paused.Height != start || paused.Version != 2 {
		t.Fatalf("paused %+v, want a pause at %d for v2", paused, start)
	}
	checked := net.CheckConsistency(t)
	t.Logf("paused at %d, fetched v2 from its peers, resumed: identical app hashes at heights 1..%d", start, checked)
}
