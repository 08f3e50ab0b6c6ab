package testnet

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/localnet"
)

// TestFetchModulesFromPeers: `runtime fetch` refuses an unknown version and a version no
// peer has (installing nothing), then fetches v2 from a peer, installs and attests it; a
// validator that was down while the switch to v2 was scheduled and happened starts with
// runtime.auto_fetch, fetches v2 from its peers by itself and catches up with the same
// app hashes, with no operator action.
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
		Version    uint64
		CodeSHA256 string `json:"code_sha256"`
		From       string
	}
	out := p.CLI(t, "node2", 0, "runtime", "fetch", "2", "-o", "json")
	// The install's answer, then (as runtime install prints it) the attestation's.
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&got); err != nil || got.Version != 2 ||
		(got.From != p.Node(t, "node0").RPCAddr() && got.From != p.Node(t, "node1").RPCAddr()) {
		t.Fatalf("fetch: %v: %s", err, out)
	}
	want, _ := os.ReadFile(p.Modules["v2"])
	if b, err := os.ReadFile(v2Path); err != nil || string(b) != string(want) {
		t.Fatalf("node2's v2 after fetch: %d bytes, %v", len(b), err)
	}

	// node0, node1 and node2 (attested by fetch) make 3 of 4: the switch is scheduled.
	start := p.Admin(t, "upgrade", "schedule", "2", "--in", "4") + 4
	p.WaitHeight(t, start+2, 60*time.Second, "node0")
	n3 := p.Node(t, "node3")
	if _, err := p.M.StartNodeEnv(p.Bin, n3, "VCHAIN_RUNTIME_AUTO_FETCH=true"); err != nil {
		t.Fatal(err)
	}
	top := p.Status(t, "node0").Height
	p.WaitHeight(t, top, 90*time.Second, "node3")
	if at := p.CheckConsistency(t, "node0", "node1", "node2", "node3"); at < start {
		t.Fatalf("checked up to %d, before the switch at %d", at, start)
	}
	log, err := os.ReadFile(filepath.Join(p.M.HomeOf(n3), localnet.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "auto_fetch") && (strings.Contains(line, "installed") || strings.Contains(line, "PAUSED")) {
			t.Log(line)
		}
	}
	if !strings.Contains(string(log), "fetched from a peer and installed") {
		t.Fatal("node3's log does not say it fetched v2 from a peer")
	}
}
