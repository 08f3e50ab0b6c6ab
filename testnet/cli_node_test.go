package testnet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/localnet"
	"github.com/vchain/vchain/internal/node"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestCLINodeOfHome drives the real binary against a node on non-default ports, with only
// --home given, as an operator of such a node would:
//   - init binds p2p and RPC on loopback;
//   - client commands dial the RPC address of --home's config (no --node), so
//     `runtime install` attests, which upgrade status shows on chain;
//   - an install on a home whose node runs but does not answer at the address dialed (an
//     explicit --node wins) exits 3 saying so and how to attest, and `runtime attest` then
//     attests;
//   - `upgrade history` shows a scheduled switch before its start block, then in the list;
//   - a SIGTERM stops the node with exit 0 and no error line in its log;
//   - with the node stopped, install succeeds with a note that it is not attested yet,
//     --no-attest installs only, and `runtime attest` fails;
//   - a node paused before starting CometBFT for a runtime it lacks is waited for by the
//     install that gives it that runtime, which then attests.
func TestCLINodeOfHome(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	bin := Binary(t)
	dir := t.TempDir()
	modules := map[string]string{}
	for _, name := range []string{"v1", "v2", "testmod"} {
		modules[name] = filepath.Join(dir, name+".wasm")
		if err := os.WriteFile(modules[name], testwasm.Module(t, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		code           int
		stdout, stderr string
	}
	run := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return result{ee.ExitCode(), string(out), stderr.String()}
		} else if err != nil {
			t.Fatalf("vchaind %s: %v", strings.Join(args, " "), err)
		}
		return result{0, string(out), stderr.String()}
	}
	must := func(wantExit int, args ...string) result {
		t.Helper()
		r := run(args...)
		if r.code != wantExit {
			t.Fatalf("vchaind %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, wantExit, r.stdout, r.stderr)
		}
		return r
	}

	// A home made by a plain init listens on loopback only.
	plain := filepath.Join(dir, "plain")
	must(0, "init", "--home", plain, "--chain-id", "plain", "--runtime", modules["v1"], "--keyring-backend", "test")
	cfg, err := node.LoadCometConfig(plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.P2P.ListenAddress != "tcp://127.0.0.1:26656" || cfg.RPC.ListenAddress != "tcp://127.0.0.1:26657" {
		t.Fatalf("init wrote p2p.laddr %q and rpc.laddr %q, want both on 127.0.0.1", cfg.P2P.ListenAddress, cfg.RPC.ListenAddress)
	}

	ports := FreePorts(t, 3) // p2p, RPC, and one nothing listens on
	rpc := fmt.Sprintf("tcp://127.0.0.1:%d", ports[1])
	nowhere := fmt.Sprintf("tcp://127.0.0.1:%d", ports[2])
	h := filepath.Join(dir, "home")
	must(0, "init", "--home", h, "--chain-id", "cli-home", "--runtime", modules["v1"], "--keyring-backend", "test",
		"--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", ports[0]), "--rpc.laddr", rpc)
	// Runs a client command with only --home (and any --node in args).
	cli := func(wantExit int, args ...string) result {
		t.Helper()
		return must(wantExit, append(args, "--home", h)...)
	}

	logPath := filepath.Join(dir, "node.log")
	// launch starts the node of h (its ports come from config.toml) without waiting.
	launch := func() (*exec.Cmd, chan error) {
		t.Helper()
		logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "start", "--home", h)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait(); logf.Close() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			err := <-exited
			exited <- err
		})
		return cmd, exited
	}
	start := func() (*exec.Cmd, chan error) {
		t.Helper()
		cmd, exited := launch()
		c, _ := client.New(rpc)
		for deadline := time.Now().Add(90 * time.Second); ; {
			if st, err := c.RPC.Status(t.Context()); err == nil && st.SyncInfo.LatestBlockHeight >= 1 {
				return cmd, exited
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(logPath)
				t.Fatalf("node did not produce a block in 90s:\n%s", log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	nodeCmd, exited := start()

	status := func(version string) executor.UpgradeStatus {
		t.Helper()
		var st executor.UpgradeStatus
		if err := json.Unmarshal([]byte(cli(0, "upgrade", "status", "--version", version, "-o", "json").stdout), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	attested := func(st executor.UpgradeStatus, version uint64) bool {
		for _, v := range st.Readiness.Validators {
			for _, a := range v.Attested {
				if a.Version == version {
					return true
				}
			}
		}
		return false
	}

	// Without --node, every command reaches the node of --home on its own port.
	cli(0, "upgrade", "register", "2", "--file", modules["v2"], "--from", "admin")
	cli(0, "upgrade", "register", "3", "--file", modules["testmod"], "--from", "admin")
	cli(0, "runtime", "install", modules["v2"], "--version", "2")
	if st := status("2"); !attested(st, 2) || !st.Readiness.Ready {
		t.Fatalf("runtime install --home without --node did not attest v2 on chain: %+v", st.Readiness)
	}

	// An explicit --node wins over the home's address: nothing listens there while the
	// node of the home runs, so the install happens but the attestation cannot: exit 3,
	// saying so and what to do.
	r := cli(exitNotAttested, "runtime", "install", modules["testmod"], "--version", "3", "--node", nowhere, "--timeout", "2s")
	for _, want := range []string{
		"installed v3 into " + h + ", but did not attest",
		"the node of " + h + " is running but did not answer at " + nowhere,
		"vchaind runtime attest --home " + h, "--no-attest",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("install with an unreachable --node: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if attested(status("3"), 3) {
		t.Fatal("v3 attested though the node was not reachable")
	}
	var installed []struct{ Version uint64 }
	if err := json.Unmarshal([]byte(cli(0, "runtime", "list", "-o", "json").stdout), &installed); err != nil || len(installed) != 3 {
		t.Fatalf("runtime list after the unattested install: %+v %v, want v1, v2, v3", installed, err)
	}
	cli(0, "runtime", "attest")
	if st := status("3"); !attested(st, 3) || !st.Readiness.Ready {
		t.Fatalf("runtime attest did not attest v3: %+v", st.Readiness)
	}

	// upgrade history shows the scheduled switch before its start block executes.
	type history struct {
		History []executor.HistoryEntry `json:"history"`
		Pending *executor.PendingInfo   `json:"pending"`
	}
	readHistory := func() history {
		t.Helper()
		var hist history
		if err := json.Unmarshal([]byte(cli(0, "upgrade", "history", "-o", "json").stdout), &hist); err != nil {
			t.Fatal(err)
		}
		return hist
	}
	var sched struct{ Height int64 }
	if err := json.Unmarshal([]byte(cli(0, "upgrade", "schedule", "2", "--in", "20", "--from", "admin", "-o", "json").stdout), &sched); err != nil {
		t.Fatal(err)
	}
	switchHeight := sched.Height + 20
	hist := readHistory()
	if len(hist.History) != 1 || hist.History[0].Version != 1 || hist.Pending == nil ||
		hist.Pending.Version != 2 || hist.Pending.StartHeight != switchHeight {
		t.Fatalf("upgrade history right after scheduling v2 from %d: %+v (pending %+v)", switchHeight, hist, hist.Pending)
	}
	text := cli(0, "upgrade", "history").stdout
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^pending: +v2 \(sha256 [0-9a-f]{64}, profile 1\) from height %d \(after \d+ more blocks?\)$`, switchHeight)).MatchString(text) {
		t.Fatalf("upgrade history text shows no pending line for v2 from %d:\n%s", switchHeight, text)
	}
	for deadline := time.Now().Add(120 * time.Second); ; {
		hist = readHistory()
		if len(hist.History) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no switch to v2 in 120s: %+v", hist)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if e := hist.History[1]; e.Version != 2 || e.Height != switchHeight || hist.Pending != nil {
		t.Fatalf("upgrade history after the switch: %+v (pending %+v), want v2 from %d and nothing pending", hist.History, hist.Pending, switchHeight)
	}
	if text := cli(0, "upgrade", "history").stdout; strings.Contains(text, "pending") {
		t.Fatalf("upgrade history text after the switch still shows a pending line:\n%s", text)
	}

	// A clean stop: exit 0, and no error line in the log (CometBFT's format: E[...).
	if err := nodeCmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("SIGTERM: vchaind start exited with %v:\n%s", err, log)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("vchaind start did not exit within 60s of SIGTERM")
	}
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "shutting down") || !strings.Contains(string(log), "Closing blockstore") {
		t.Fatalf("the log does not show the stop:\n%s", log)
	}
	if errs := regexp.MustCompile(`(?m)^E\[.*$`).FindAllString(string(log), -1); len(errs) > 0 {
		t.Fatalf("a clean SIGTERM stop logged %d error lines:\n%s", len(errs), strings.Join(errs, "\n"))
	}

	// The node is stopped: installing (first, as before a start) succeeds and says that
	// nothing was attested yet and how to; --no-attest installs only.
	r = cli(0, "runtime", "install", modules["v2"], "--version", "2")
	if !strings.Contains(r.stderr, "the node of "+h+" is not running, so v2 is installed but not attested") ||
		!strings.Contains(r.stderr, "vchaind runtime attest --home "+h) {
		t.Fatalf("install with the node stopped: stderr:\n%s", r.stderr)
	}
	if r = cli(0, "runtime", "install", modules["v2"], "--version", "2", "--no-attest"); strings.Contains(r.stderr, "not attested") {
		t.Fatalf("install --no-attest with the node stopped: stderr:\n%s", r.stderr)
	}
	cli(1, "runtime", "attest")

	// A node whose next block needs a runtime it lacks waits before starting CometBFT, so
	// its RPC is down while it runs: the install that brings the runtime waits for it to
	// answer, then attests.
	if err := os.Remove(filepath.Join(h, "runtime", "v2.wasm")); err != nil {
		t.Fatal(err)
	}
	launch()
	for deadline := time.Now().Add(90 * time.Second); ; {
		if log, _ := os.ReadFile(logPath); strings.Contains(string(log), "PAUSED before starting") {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("the node without v2 did not pause before starting:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r = cli(0, "runtime", "install", modules["v2"], "--version", "2", "--timeout", "90s")
	if !strings.Contains(r.stderr, "waiting up to 1m30s for it to answer at "+rpc) || !strings.Contains(r.stderr, "attesting 3 installed versions") ||
		!strings.Contains(r.stdout, "tx hash:") {
		t.Fatalf("install on a node paused before starting: stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

// TestProcessCleanStop stops a validator of a running network with SIGTERM, as `vchaind
// testnet stop` does: while it stops its peers' connections close under it and they dial
// back in, and none of that may be logged as an error.
func TestProcessCleanStop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	p := StartProcNet(t, 3, 0)
	p.WaitHeight(t, 3, 90*time.Second, "node0", "node1", "node2")
	n := p.Node(t, "node0")
	if err := p.M.StopNode(n, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(p.M.HomeOf(n), localnet.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	i := strings.Index(log, "shutting down")
	if i < 0 || !strings.Contains(log[i:], "Closing blockstore") {
		t.Fatalf("node0 did not stop cleanly within 30s of SIGTERM:\n%s", log[max(0, len(log)-5000):])
	}
	if errs := regexp.MustCompile(`(?m)^E\[.*$`).FindAllString(log[i:], -1); len(errs) > 0 {
		t.Fatalf("a clean SIGTERM stop of a validator with peers logged %d error lines:\n%s", len(errs), strings.Join(errs, "\n"))
	}
}

// exitNotAttested is the exit status of `runtime install` when the module was installed
// but not attested (cmd/vchaind).
const exitNotAttested = 3
