package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/crashpoint"
	"github.com/vchain/vchain/internal/keyring"
	"github.com/vchain/vchain/internal/localnet"
)

// TestProcessCrashPoints kills one validator of four, a real vchaind process built with
// crash points, inside the app at each crash point in turn (between FinalizeBlock and
// Commit, before the store saves anything, inside the save of its trees, after the commit
// record's write, and in the block where a scheduled switch to v2 applies), under load. After each crash it restarts the node and checks that
// it recovers to the same blocks and app hashes as the others; at the end, that every
// transaction acknowledged as committed is in every node's state exactly once: a witness
// account's bank transfers (not idempotent) add up to what was acknowledged, and its nonce
// counts them.
func TestProcessCrashPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	crashBin := CrashBinary(t)
	p := NewProcNet(t, 4, 0)
	const victim = "node3"
	others := validators4[:3]
	for _, name := range others {
		p.Start(t, name)
	}
	p.startEnv(t, crashBin, victim)
	p.WaitHeight(t, 2, 60*time.Second, validators4...)
	load := StartLoad(t, p.M.ChainID, p.Clients(t, "node0", "node1"), 2, 150*time.Millisecond)
	w := startWitness(t, p.M.ChainID, p.Client(t, "node0"))

	// v2 is registered and installed everywhere up front: the switch step only schedules it.
	p.Admin(t, "upgrade", "register", "2", "--file", p.Modules["v2"])
	for _, name := range validators4 {
		p.CLI(t, name, 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	}

	// appAhead says whether the app has committed the crash height when CometBFT's
	// handshake asks it after the restart.
	for _, c := range []struct {
		point    string
		appAhead bool
	}{
		{crashpoint.AfterFinalize, false},
		{crashpoint.BeforeCommit, false},
		{crashpoint.MidCommit, false},
		{crashpoint.TreeSave, false},
		{crashpoint.AfterCommitWrite, true},
	} {
		t.Run(c.point, func(t *testing.T) {
			h := p.Status(t, "node0").Height + 4
			p.crashAndRecover(t, crashBin, victim, c.point, h, c.appAhead)
		})
	}
	t.Run(crashpoint.SwitchBlock, func(t *testing.T) {
		start := p.Admin(t, "upgrade", "schedule", "2", "--in", "6") + 6
		p.crashAndRecover(t, crashBin, victim, crashpoint.SwitchBlock, start, false)
		for _, name := range validators4 {
			if h := p.History(t, name); len(h) != 2 || h[1].Height != start || h[1].Version != 2 {
				t.Fatalf("%s: history %+v, want v2 from %d", name, h, start)
			}
		}
	})

	lr := load.StopAndCheck(t, p.Client(t, "node0"))
	acked := w.stop(t)
	top := p.Status(t, "node0").Height
	p.WaitHeight(t, top, 60*time.Second, validators4...)
	for _, name := range validators4 {
		w.check(t, name, p.Client(t, name), acked)
	}
	checked := p.CheckConsistency(t, validators4...)
	t.Logf("load %+v; witness transfers acknowledged %v; identical blocks and app hashes on 4 nodes up to %d", lr, acked, checked)
}

// startEnv starts node name from bin with env added and waits for its RPC.
func (p *ProcNet) startEnv(t testing.TB, bin, name string, env ...string) {
	t.Helper()
	n := p.Node(t, name)
	if _, err := p.M.StartNodeEnv(bin, n, env...); err != nil {
		t.Fatal(err)
	}
	if err := p.M.WaitRPC(context.Background(), n, 60*time.Second); err != nil {
		t.Fatal(err)
	}
}

// crashAndRecover restarts name armed to crash at point@h, waits for it to die there,
// restarts it unarmed and checks that it catches up with identical blocks, and that its
// own app computes the app hash the others agreed on.
func (p *ProcNet) crashAndRecover(t *testing.T, bin, name, point string, h int64, appAhead bool) {
	t.Helper()
	n := p.Node(t, name)
	stopStart := time.Now()
	if err := p.M.StopNode(n, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped %s in %s", name, time.Since(stopStart).Round(time.Millisecond))
	logPath := filepath.Join(p.M.HomeOf(n), localnet.LogFile)
	before := fileSize(logPath)
	p.startEnv(t, bin, name, fmt.Sprintf("%s=%s@%d", crashpoint.EnvVar, point, h))
	deadline := time.Now().Add(90 * time.Second)
	for {
		if _, running := p.M.PID(n); !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still running %s after it was armed to crash at %s@%d", name, 90*time.Second, point, h)
		}
		time.Sleep(50 * time.Millisecond)
	}
	log := readFrom(t, logPath, before)
	line := fmt.Sprintf("CRASHPOINT %s@%d: killing the process", point, h)
	if !strings.Contains(log, line) {
		t.Fatalf("%s exited without reaching %s@%d:\n%s", name, point, h, tail(log, 3000))
	}
	if after := log[strings.Index(log, line)+len(line):]; strings.TrimSpace(after) != "" {
		t.Fatalf("%s wrote after the crash point (no cleanup may run):\n%s", name, tail(after, 2000))
	}

	before = fileSize(logPath)
	restart := time.Now()
	p.startEnv(t, p.Bin, name)
	tip := p.Status(t, "node0").Height
	p.WaitHeight(t, tip, 60*time.Second, name)
	recovered := time.Since(restart)
	got, err := HandshakeHeight(logPath, before)
	if err != nil {
		t.Fatalf("%s's restart: %v", name, err)
	}
	want := h - 1
	if appAhead {
		want = h
	}
	if got != want {
		t.Fatalf("after the crash at %s@%d the app restarted at height %d, want %d", point, h, got, want)
	}
	p.checkAppHash(t, name)
	top := p.CheckConsistency(t, validators4...)
	t.Logf("%s crashed at %s@%d, restarted with the app at %d, reached the tip in %s; identical up to %d",
		name, point, h, want, recovered.Round(time.Millisecond), top)
}

// checkAppHash compares the app hash name's own app reports for its last committed height
// with the one node0's chain recorded for it (in the header of the next block).
func (p *ProcNet) checkAppHash(t testing.TB, name string) {
	t.Helper()
	ctx := context.Background()
	info, err := p.Client(t, name).RPC.ABCIInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := info.Response.LastBlockHeight + 1
	c0 := p.Client(t, "node0")
	deadline := time.Now().Add(30 * time.Second)
	for p.Status(t, "node0").Height < h && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	b, err := c0.RPC.Block(ctx, &h)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprintf("%X", info.Response.LastBlockAppHash), b.Block.AppHash.String(); got != want {
		t.Fatalf("%s's app has app hash %s at height %d; the chain has %s", name, got, h-1, want)
	}
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func readFrom(t testing.TB, path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[min(offset, int64(len(b))):])
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }

// witness sends bank transfers of 1 token from one account to another, one at a time, and
// counts those acknowledged as committed with code 0, by the runtime version that executed
// them. Transfers are not idempotent: a block applied twice, or lost, shows in the balances.
type witness struct {
	c        *client.Client
	chainID  string
	from     *keyring.Key
	to       *keyring.Key
	quit     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	acked    map[string]int // runtime version -> acknowledged transfers
	nonce    uint64
	firstErr error
}

// witnessMint is what the witness account mints itself before its transfers.
const witnessMint = 1_000_000

func startWitness(t testing.TB, chainID string, c *client.Client) *witness {
	kr := keyring.Open(t.TempDir())
	from, err := kr.Add("witness")
	if err != nil {
		t.Fatal(err)
	}
	to, err := kr.Add("recipient")
	if err != nil {
		t.Fatal(err)
	}
	w := &witness{c: c, chainID: chainID, from: from, to: to, quit: make(chan struct{}), done: make(chan struct{}), acked: map[string]int{}}
	if _, err := w.send("mint", fmt.Sprintf(`{"amount":%d}`, witnessMint)); err != nil {
		t.Fatal(err)
	}
	go w.run()
	return w
}

func (w *witness) run() {
	defer close(w.done)
	for {
		select {
		case <-w.quit:
			return
		default:
		}
		version, err := w.send("transfer", fmt.Sprintf(`{"to":%q,"amount":1}`, w.to.Address.String()))
		w.mu.Lock()
		if err != nil {
			w.firstErr = err
		} else {
			w.acked[version]++
		}
		w.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// send signs and broadcasts one bank call with the next nonce and waits for its commit.
func (w *witness) send(method, args string) (version string, err error) {
	w.nonce++
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	raw, _, err := w.c.SignCall(ctx, w.from, client.CallTx{ChainID: w.chainID, Contract: "bank", Method: method, Args: []byte(args), GasLimit: 1_000_000, Nonce: w.nonce})
	if err != nil {
		return "", err
	}
	hash, err := w.c.Broadcast(ctx, raw)
	if err != nil {
		return "", fmt.Errorf("witness %s nonce %d: %w", method, w.nonce, err)
	}
	res, err := w.c.WaitTx(ctx, hash, 50*time.Second)
	if err != nil {
		return "", err
	}
	if res.TxResult.Code != 0 {
		return "", fmt.Errorf("witness %s nonce %d failed at %d: %s", method, w.nonce, res.Height, res.TxResult.Log)
	}
	return client.RuntimeVersion(&res.TxResult), nil
}

// stop waits for the witness's transfer in flight and returns the acknowledged counts.
func (w *witness) stop(t testing.TB) map[string]int {
	close(w.quit)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.firstErr != nil {
		t.Fatalf("witness: %v", w.firstErr)
	}
	return w.acked
}

// check reads the witness's balances and nonce from c's committed state: each
// acknowledged transfer moved exactly one token (and burned v2's fee of one), once.
func (w *witness) check(t testing.TB, name string, c *client.Client, acked map[string]int) {
	t.Helper()
	ctx := context.Background()
	total := 0
	for _, n := range acked {
		total += n
	}
	balance := func(k *keyring.Key) int {
		r, err := c.Query(ctx, "/state/bank", []byte("balance/"+k.Address.String()))
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(string(r.Value))
		if err != nil {
			t.Fatalf("balance of %s: %q", k.Address, r.Value)
		}
		return n
	}
	if got := balance(w.to); got != total {
		t.Fatalf("%s: recipient balance %d, want %d acknowledged transfers", name, got, total)
	}
	if got, want := balance(w.from), witnessMint-total-acked["2"]; got != want {
		t.Fatalf("%s: witness balance %d, want %d (acknowledged %v)", name, got, want, acked)
	}
	a, err := c.Account(ctx, w.from.Address)
	if err != nil {
		t.Fatal(err)
	}
	if a.Nonce != uint64(total+1) {
		t.Fatalf("%s: witness nonce %d, want %d (mint + %d transfers)", name, a.Nonce, total+1, total)
	}
	b, _ := json.Marshal(acked)
	t.Logf("%s: witness state matches %s acknowledged transfers", name, b)
}
