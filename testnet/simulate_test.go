package testnet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestCLISimulate drives the real binary: `tx call --simulate` prints the gas a call would
// use and its result and broadcasts nothing (the key stays absent, the account's nonces
// stay put); `tx call` without --gas then commits the same call with the simulated gas plus
// the margin as its limit, using exactly the simulated gas (it runs alone in its block, on
// the state simulated on); a call that would fail is printed and not broadcast, and an
// explicit --gas skips the simulation, so such a call commits with its failure.
func TestCLISimulate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	bin := Binary(t)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	wasmPath := filepath.Join(dir, "testmod.wasm")
	if err := os.WriteFile(wasmPath, testwasm.Module(t, "testmod"), 0o644); err != nil {
		t.Fatal(err)
	}
	ports := FreePorts(t, 2)
	rpc := fmt.Sprintf("tcp://127.0.0.1:%d", ports[1])
	run := func(wantExit int, args ...string) (stdout, stderr string) {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--home", home, "--node", rpc)...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		out, err := cmd.Output()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if code != wantExit {
			t.Fatalf("vchaind %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantExit, out, errb.String())
		}
		return string(out), errb.String()
	}
	run(0, "init", "--chain-id", "sim-test", "--runtime", wasmPath, "--keyring-backend", "test")
	node := exec.Command(bin, "start", "--home", home,
		"--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", ports[0]), "--rpc.laddr", rpc)
	logf, err := os.Create(filepath.Join(dir, "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	node.Stdout, node.Stderr = logf, logf
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Process.Kill(); _ = node.Wait(); logf.Close() })
	c, err := client.New(rpc)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		if st, err := c.RPC.Status(t.Context()); err == nil && st.SyncInfo.LatestBlockHeight >= 1 {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "node.log"))
			t.Fatalf("node did not produce a block in 60s:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}

	type account struct {
		Nonce        uint64 `json:"nonce"`
		PendingNonce uint64 `json:"pending_nonce"`
	}
	nonces := func() account {
		t.Helper()
		var a account
		out, _ := run(0, "query", "account", "admin", "-o", "json")
		if err := json.Unmarshal([]byte(out), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	type simulated struct {
		Code           uint32 `json:"code"`
		CodeName       string `json:"code_name"`
		Log            string `json:"log"`
		GasWanted      uint64 `json:"gas_wanted"`
		GasUsed        uint64 `json:"gas_used"`
		GasSuggested   uint64 `json:"gas_suggested"`
		RuntimeVersion string `json:"runtime_version"`
	}
	simulate := func(wantExit int, args ...string) simulated {
		t.Helper()
		before := nonces()
		out, _ := run(wantExit, append(append([]string{"tx", "call"}, args...), "--from", "admin", "--simulate", "-o", "json")...)
		var s simulated
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("tx call %s --simulate printed %q: %v", strings.Join(args, " "), out, err)
		}
		if after := nonces(); after != before {
			t.Fatalf("tx call --simulate changed the admin's nonces: %+v, then %+v", before, after)
		}
		return s
	}

	set := []string{"kv", "set", `{"key":"sim","value":"1"}`}
	sim := simulate(0, set...)
	if sim.Code != 0 || sim.GasUsed == 0 || sim.RuntimeVersion != "1" || sim.GasWanted != genesis.DefaultMaxGasPerTx ||
		sim.GasSuggested != client.GasWithMargin(sim.GasUsed, genesis.DefaultMaxGasPerTx) || sim.GasSuggested <= sim.GasUsed {
		t.Fatalf("tx call --simulate: %+v", sim)
	}
	run(1, "query", "state", "kv", "sim") // nothing was broadcast
	text, _ := run(0, append(append([]string{"tx", "call"}, set...), "--from", "admin", "--simulate")...)
	if !strings.Contains(text, fmt.Sprintf("%d of %d", sim.GasUsed, sim.GasWanted)) {
		t.Fatalf("tx call --simulate text output does not show the gas used:\n%s", text)
	}

	var res struct {
		Code      uint32 `json:"code"`
		GasWanted uint64 `json:"gas_wanted"`
		GasUsed   uint64 `json:"gas_used"`
	}
	out, _ := run(0, append(append([]string{"tx", "call"}, set...), "--from", "admin", "-o", "json")...)
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Code != 0 || res.GasWanted != sim.GasSuggested || res.GasUsed != sim.GasUsed {
		t.Fatalf("tx call without --gas: %+v, want gas limit %d (simulated %d + margin) and gas used %d", res, sim.GasSuggested, sim.GasUsed, sim.GasUsed)
	}
	if out, _ := run(0, "query", "state", "kv", "sim"); strings.TrimSpace(out) != "1" {
		t.Fatalf("kv sim = %q after the call", out)
	}

	// A call that would fail: printed, exit 2, nothing broadcast, with or without --simulate.
	transfer := []string{"bank", "transfer", `{"to":"` + strings.Repeat("AB", 20) + `","amount":5}`}
	if s := simulate(2, transfer...); s.CodeName != "contract_error" || s.Log == "" {
		t.Fatalf("simulated transfer without funds: %+v", s)
	}
	before := nonces()
	if out, stderr := run(2, append(append([]string{"tx", "call"}, transfer...), "--from", "admin")...); !strings.Contains(out, "contract_error") ||
		!strings.Contains(stderr, "nothing broadcast") {
		t.Fatalf("tx call of a failing transfer:\nstdout: %s\nstderr: %s", out, stderr)
	}
	if after := nonces(); after != before {
		t.Fatalf("a call whose simulation failed was broadcast: nonces %+v, then %+v", before, after)
	}
	if s := simulate(2, "kv", "set", `{"key":"sim","value":"2"}`, "--gas", "1000"); s.CodeName != "out_of_gas" || s.GasUsed != 1000 {
		t.Fatalf("simulated with --gas 1000: %+v", s)
	}
	// An explicit --gas skips the simulation: the failing transfer commits, failed.
	run(2, append(append([]string{"tx", "call"}, transfer...), "--from", "admin", "--gas", "1000000")...)
	if after := nonces(); after.Nonce != before.Nonce+1 {
		t.Fatalf("tx call --gas of a failing transfer: nonce %d, want %d (committed with its failure)", after.Nonce, before.Nonce+1)
	}
}
