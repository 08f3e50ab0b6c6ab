package testnet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestCLISingleNode drives the real binary as an operator would: init, start, a kv call,
// a query, a failing call, then kill -9 and restart, which must keep every committed
// transaction and the app hash.
func TestCLISingleNode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	bin := Binary(t)
	dir := t.TempDir()
	homeDir := filepath.Join(dir, "home")
	wasmPath := filepath.Join(dir, "v1.wasm")
	if err := os.WriteFile(wasmPath, testwasm.Module(t, "v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	ports := FreePorts(t, 2)
	rpc := fmt.Sprintf("tcp://127.0.0.1:%d", ports[1])
	run := func(wantExit int, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--home", homeDir, "--node", rpc)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if code != wantExit {
			t.Fatalf("vchaind %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantExit, out, stderr.String())
		}
		return string(out)
	}
	run(0, "init", "--chain-id", "cli-test", "--runtime", wasmPath, "--keyring-backend", "test")
	if out := run(1, "init", "--chain-id", "cli-test", "--runtime", wasmPath, "--keyring-backend", "test"); out != "" {
		t.Fatalf("a refused re-init printed %q", out)
	}

	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "start", "--home", homeDir,
			"--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", ports[0]), "--rpc.laddr", rpc)
		logf, err := os.OpenFile(filepath.Join(dir, "node.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
		c, _ := client.New(rpc)
		deadline := time.Now().Add(60 * time.Second)
		for {
			if st, err := c.RPC.Status(t.Context()); err == nil && st.SyncInfo.LatestBlockHeight >= 1 {
				return cmd
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "node.log"))
				t.Fatalf("node did not produce a block in 60s:\n%s", log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	node := start()

	var res struct {
		Height         int64  `json:"height"`
		Code           uint32 `json:"code"`
		GasUsed        int64  `json:"gas_used"`
		RuntimeVersion string `json:"runtime_version"`
	}
	if err := json.Unmarshal([]byte(run(0, "tx", "call", "kv", "set", `{"key":"a","value":"1"}`, "--from", "admin", "-o", "json")), &res); err != nil {
		t.Fatal(err)
	}
	if res.Code != 0 || res.GasUsed == 0 || res.RuntimeVersion != "1" {
		t.Fatalf("tx call: %+v", res)
	}
	if got := strings.TrimSpace(run(0, "query", "state", "kv", "a")); got != "1" {
		t.Fatalf("query state kv a = %q, want 1", got)
	}
	run(2, "tx", "call", "bank", "transfer", `{"to":"`+strings.Repeat("AB", 20)+`","amount":5}`, "--from", "admin", "--gas", "5000000") // --gas: committed with its failure, not stopped by a simulation
	run(1, "tx", "call", "kv", "set", `not json`, "--from", "admin")
	run(1, "tx", "call", "kv", "set", `{}`, "--from", "nobody")

	appHash := func() (int64, string) {
		c, _ := client.New(rpc)
		info, err := c.RPC.ABCIInfo(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return info.Response.LastBlockHeight, fmt.Sprintf("%X", info.Response.LastBlockAppHash)
	}
	h, hash := appHash()
	if err := node.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = node.Wait()

	start()
	c, _ := client.New(rpc)
	blk, err := c.RPC.Block(t.Context(), &[]int64{h + 1}[0])
	for i := 0; err != nil && i < 100; i++ {
		time.Sleep(100 * time.Millisecond)
		blk, err = c.RPC.Block(t.Context(), &[]int64{h + 1}[0])
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := blk.Block.AppHash.String(); got != hash {
		t.Fatalf("after kill -9: app hash of height %d is %s in the next header, was %s", h, got, hash)
	}
	if got := strings.TrimSpace(run(0, "query", "state", "kv", "a")); got != "1" {
		t.Fatalf("after kill -9: query state kv a = %q, want 1", got)
	}
	var acct struct{ Nonce uint64 }
	if err := json.Unmarshal([]byte(run(0, "query", "account", "admin", "-o", "json")), &acct); err != nil || acct.Nonce != 2 {
		t.Fatalf("after kill -9: admin nonce %d (%v), want 2", acct.Nonce, err)
	}

	// The upgrade path of the README, with the real commands.
	v2Path := filepath.Join(dir, "v2.wasm")
	if err := os.WriteFile(v2Path, testwasm.Module(t, "v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(0, "upgrade", "register", "2", "--file", v2Path, "--from", "admin")
	run(1, "upgrade", "schedule", "2", "--in", "3", "--from", "admin") // not installed anywhere: refused
	run(1, "upgrade", "schedule", "2", "--in", "3", "--next-block", "--from", "admin")
	run(0, "runtime", "install", v2Path, "--version", "2")
	run(0, "runtime", "install", v2Path, "--version", "2", "--no-attest") // same bytes again: a no-op
	run(1, "runtime", "install", wasmPath, "--version", "2")              // other bytes for v2: refused
	var sched struct{ Height int64 }
	if err := json.Unmarshal([]byte(run(0, "upgrade", "schedule", "2", "--in", "3", "--from", "admin", "-o", "json")), &sched); err != nil {
		t.Fatal(err)
	}
	switchHeight := sched.Height + 3
	var rt struct {
		Version     uint64 `json:"version"`
		SinceHeight int64  `json:"since_height"`
	}
	for i := 0; i < 100 && rt.Version != 2; i++ {
		time.Sleep(100 * time.Millisecond)
		_ = json.Unmarshal([]byte(run(0, "query", "runtime", "-o", "json")), &rt)
	}
	if rt.Version != 2 || rt.SinceHeight != switchHeight {
		t.Fatalf("query runtime: %+v, want v2 since %d", rt, switchHeight)
	}
	if blk, err := c.RPC.Block(t.Context(), &switchHeight); err != nil || blk.Block.Version.App != 2 {
		t.Fatalf("header of %d: %v %v, want version.app 2", switchHeight, blk, err)
	}
	if err := json.Unmarshal([]byte(run(0, "tx", "call", "kv", "append", `{"key":"a","value":"2"}`, "--from", "admin", "-o", "json")), &res); err != nil || res.RuntimeVersion != "2" {
		t.Fatalf("call after the switch: %+v %v", res, err)
	}
	if got := strings.TrimSpace(run(0, "query", "state", "kv", "a")); got != "12" {
		t.Fatalf("kv a after v2's append = %q, want 12", got)
	}
	if out := run(0, "upgrade", "status"); !strings.Contains(out, "effective:  v2") {
		t.Fatalf("upgrade status:\n%s", out)
	}
}
