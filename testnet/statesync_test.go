package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/localnet"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestProcessStateSync (issue 12 §3): four validators taking a snapshot every 20 blocks run
// under load through a switch v1 -> v2 and back, with a third switch to v2 pending; a fifth
// node made by `vchaind init --state-sync` (no module installed by hand, no genesis made
// by hand) joins. Every kept snapshot's chunk is corrupted on every validator before it
// starts; once its first chunk is refused (it names the sender), the files are repaired on
// all but that sender: the chunk must be refetched from another peer and the sender left
// out. The joiner restores the snapshot, installs v1 and v2 from it (checked against the
// restored state's records), reaches the tip with the same app hashes as the others at
// every height it holds, executes the pending switch, answers a query, and, added as a
// validator, attests the versions the snapshot installed like any validator.
func TestProcessStateSync(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	// node4 joins by state sync; node5 replays from genesis, for the figures. The
	// validators take snapshots, turned on through the environment (app.toml has 0).
	p := NewProcNet(t, 4, 2)
	for _, name := range validators4 {
		n := p.Node(t, name)
		if _, err := p.M.StartNodeEnv(p.Bin, n, "VCHAIN_SNAPSHOT_INTERVAL=20"); err != nil {
			t.Fatal(err)
		}
		if err := p.M.WaitRPC(context.Background(), n, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	p.WaitHeight(t, 2, 60*time.Second, validators4...)
	load := StartLoad(t, p.M.ChainID, p.Clients(t, validators4...), 4, 100*time.Millisecond)

	p.Admin(t, "upgrade", "register", "2", "--file", p.Modules["v2"])
	for _, name := range validators4 {
		p.CLI(t, name, 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	}
	start := p.Admin(t, "upgrade", "schedule", "2", "--in", "4") + 4
	p.WaitHeight(t, start+1, 60*time.Second, validators4...)
	down := p.Admin(t, "upgrade", "schedule", "1", "--next-block") + 1
	p.WaitHeight(t, down+1, 60*time.Second, validators4...)
	third := p.Admin(t, "upgrade", "schedule", "2", "--in", "30") + 30
	snapAt := (third-30)/20*20 + 20 // the first snapshot with the switch pending
	if snapAt >= third {
		t.Fatalf("no snapshot height between the schedule and the switch at %d", third)
	}
	n0 := p.Node(t, "node0")
	snapDir := filepath.Join(p.M.HomeOf(n0), "data", "snapshots")
	waitFile(t, filepath.Join(snapDir, strconv.FormatInt(snapAt, 10), "info.json"), 90*time.Second)
	p.WaitHeight(t, snapAt+3, 60*time.Second, validators4...) // the light client verifies snapAt+2
	t.Logf("switches v1->v2 at %d, v2->v1 at %d, v1->v2 pending for %d; snapshot at %d", start, down, third, snapAt)

	// Every snapshot the validators keep, chunks byte-identical across them; then corrupt
	// every chunk 0 (kept for repair).
	type kept struct{ path, name string }
	var chunk0 []kept
	good := map[string][]byte{}
	for _, name := range validators4 {
		dir := filepath.Join(p.M.HomeOf(p.Node(t, name)), "data", "snapshots")
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if _, err := strconv.ParseInt(e.Name(), 10, 64); err != nil {
				continue
			}
			path := filepath.Join(dir, e.Name(), "chunk-0")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if g, ok := good[e.Name()]; ok && !bytes.Equal(g, b) {
				t.Fatalf("snapshot %s: %s's chunk 0 differs from node0's", e.Name(), name)
			}
			good[e.Name()] = b
			bad := append([]byte(nil), b...)
			bad[len(bad)/2] ^= 0x55
			if err := os.WriteFile(path, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			chunk0 = append(chunk0, kept{path, name})
		}
	}
	var info struct {
		Size   int64 `json:"size"`
		Chunks int   `json:"chunks"`
	}
	raw, _ := os.ReadFile(filepath.Join(snapDir, strconv.FormatInt(snapAt, 10), "info.json"))
	_ = json.Unmarshal(raw, &info)
	t.Logf("snapshot %d: %d bytes in %d chunks, identical on the 4 validators", snapAt, info.Size, info.Chunks)

	// The joiner: node4's home made anew by init --state-sync.
	n4 := p.Node(t, "node4")
	h4 := p.M.HomeOf(n4)
	if err := os.RemoveAll(h4); err != nil {
		t.Fatal(err)
	}
	n1 := p.Node(t, "node1")
	out, err := exec.Command(p.Bin, "init", "--home", h4, "--moniker", "node4", "--keyring-backend", "test",
		"--state-sync", fmt.Sprintf("http://127.0.0.1:%d,127.0.0.1:%d", n0.RPC, n1.RPC),
		"--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", n4.P2P), "--rpc.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", n4.RPC), "-o", "json").CombinedOutput()
	if err != nil {
		t.Fatalf("init --state-sync: %v\n%s", err, out)
	}
	if mods, _ := filepath.Glob(filepath.Join(h4, "runtime", "*.wasm")); len(mods) != 0 {
		t.Fatalf("init --state-sync installed %v", mods)
	}
	joinStart := time.Now()
	if _, err := p.M.StartNodeEnv(p.Bin, n4, "VCHAIN_RUNTIME_CACHE_DIR="+testwasm.CacheDir()); err != nil {
		t.Fatal(err)
	}

	// The first chunk it gets is corrupt whoever sends it: it must be refused, naming the
	// sender; then every other peer serves the good bytes again.
	logPath := filepath.Join(h4, localnet.LogFile)
	refused := regexp.MustCompile(`snapshot chunk refused.*sender=([0-9a-f]{40}).*does not match its sha256`)
	var sender string
	for deadline := time.Now().Add(90 * time.Second); sender == ""; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the joiner never refused a corrupt chunk")
		}
		b, _ := os.ReadFile(logPath)
		if m := refused.FindSubmatch(b); m != nil {
			sender = string(m[1])
		}
	}
	var badPeer string
	for _, name := range validators4 {
		if p.Node(t, name).NodeID == sender {
			badPeer = name
		}
	}
	if badPeer == "" {
		t.Fatalf("refused chunk from %s, not a validator's node id", sender)
	}
	for _, k := range chunk0 {
		if k.name != badPeer {
			// A snapshot pruned meanwhile (keep_recent) is gone: nothing to repair.
			if err := os.WriteFile(k.path, good[filepath.Base(filepath.Dir(k.path))], 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
	}
	t.Logf("the joiner refused chunk 0 from %s (%s); repaired on the others", badPeer, sender)

	waitSay(t, logPath, 0, "snapshot restored", 120*time.Second)
	p.WaitHeight(t, third+2, 120*time.Second, "node4")
	top := p.Status(t, "node0").Height
	p.WaitHeight(t, top, 120*time.Second, "node4")
	joined := time.Since(joinStart)

	logb, _ := os.ReadFile(logPath)
	log := string(logb)
	m := regexp.MustCompile(`snapshot restored\s+module=snapshot height=(\d+) bytes=(\d+) chunks=(\d+) modules=(\d+) duration=(\S+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatal("no restore line in the joiner's log")
	}
	height, _ := strconv.ParseInt(m[1], 10, 64)
	if height < snapAt || m[4] != "2" {
		t.Fatalf("restored %s: want height >= %d with 2 modules (v1 effective, v2 pending)", m[0], snapAt)
	}
	if !strings.Contains(log, "does not match its sha256") || strings.Contains(log, "Snapshot rejected") {
		t.Fatalf("joiner's log: want the corrupt chunk refused and no snapshot rejected")
	}
	for _, v := range []string{"1", "2"} {
		if !regexp.MustCompile(`runtime installed from the snapshot\s+module=snapshot version=` + v).MatchString(log) {
			t.Fatalf("v%s not installed from the snapshot", v)
		}
	}
	earliest := earliestHeight(t, p, "node4")
	if earliest <= 1 || earliest > height+1 {
		t.Fatalf("node4's earliest block %d: want the block after the snapshot (%d), not a replay from genesis", earliest, height)
	}
	if h := p.History(t, "node4"); len(h) != 4 || h[1].Height != start || h[2].Height != down || h[3].Height != third || h[3].Version != 2 {
		t.Fatalf("joiner's history %+v: want v2 at %d, v1 at %d, v2 at %d", h, start, down, third)
	}
	lr := load.StopAndCheck(t, p.Client(t, "node0"))
	p.Admin(t, "tx", "call", "kv", "set", `{"key":"synced","value":"yes"}`)
	checked := p.CheckConsistency(t, append(validators4, "node4")...)
	if got := strings.TrimSpace(p.CLI(t, "node4", 0, "query", "state", "kv", "synced")); got != "yes" {
		t.Fatalf("node4 answers %q", got)
	}
	// The joiner then becomes a validator and attests like any node: its operator (the key
	// init --state-sync made) signs the attestation of the versions the snapshot installed,
	// and the chain counts it.
	var op struct{ Address string }
	opOut := p.CLI(t, "node4", 0, "keys", "show", "operator", "-o", "json")
	if err := json.Unmarshal([]byte(opOut[strings.Index(opOut, "{"):]), &op); err != nil {
		t.Fatalf("keys show operator: %v: %s", err, opOut)
	}
	added := p.Admin(t, "validator", "add", "--pubkey", filepath.Join(h4, "config", "priv_validator_key.json"),
		"--power", "10", "--operator", op.Address, "--moniker", "node4")
	p.WaitHeight(t, added+1, 60*time.Second, "node4")
	p.CLI(t, "node4", 0, "runtime", "attest")
	p.WaitHeight(t, p.Status(t, "node4").Height+2, 60*time.Second, "node4")
	var vals []struct {
		Address  string
		Attested []struct{ Version uint64 }
	}
	if err := json.Unmarshal([]byte(p.CLI(t, "node1", 0, "validator", "list", "-o", "json")), &vals); err != nil {
		t.Fatal(err)
	}
	addr4 := validatorAddr(t, p, "node4")
	attested := -1
	for _, v := range vals {
		if v.Address == addr4 {
			attested = len(v.Attested)
		}
	}
	if attested != 2 {
		t.Fatalf("node4 (%s) as a validator attested %d versions, want 2 (v1 and v2): %+v", addr4, attested, vals)
	}
	// The validators' own figures: each snapshot they took (size, chunks, time).
	if b, err := os.ReadFile(filepath.Join(p.M.HomeOf(n0), localnet.LogFile)); err == nil {
		for _, l := range regexp.MustCompile(`snapshot taken\s+module=snapshot (height=\d+ bytes=\d+ chunks=\d+ nodes=\d+ duration=\S+)`).FindAllStringSubmatch(string(b), -1) {
			t.Logf("node0 took a snapshot: %s", l[1])
		}
	}

	// For comparison: node5, made by testnet init with v1, replays the same chain from
	// genesis (v2 installed by hand: it executes the blocks of both switches).
	p.CLI(t, "node5", 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	replayStart := time.Now()
	p.Start(t, "node5")
	p.WaitHeight(t, checked, 120*time.Second, "node5")
	t.Logf("replay from genesis: node5 reached %d in %s", checked, time.Since(replayStart).Round(100*time.Millisecond))
	t.Logf("joiner restored height %d (%s bytes, %s chunks, restore %s), at the tip %d after %s, switched to v2 at %d; 5 processes identical from %d to %d; load %+v",
		height, m[2], m[3], m[5], top, joined.Round(time.Second), third, earliest, checked, lr)
}

func earliestHeight(t *testing.T, p *ProcNet, name string) int64 {
	st, err := p.Client(t, name).RPC.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.SyncInfo.EarliestBlockHeight
}

func waitFile(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written after %s", path, timeout)
		}
	}
}
