package testnet

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/crashpoint"
)

// TestProcessCrashDuringInstall kills `vchaind runtime install` between writing the module
// and renaming it into place, next to a running validator: the half-done install must not
// count as installed (not listed, not attested, the node unaffected), and installing again
// must work. It then writes a truncated module under the final name, as a copy cut short
// would: `runtime list` shows its wrong sha256, and a restart refuses it, naming the file
// and the sha256 the chain expects.
func TestProcessCrashDuringInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	crashBin := CrashBinary(t)
	p := StartProcNet(t, 1, 0)
	const name = "node0"
	p.WaitHeight(t, 2, 60*time.Second, name)
	p.Admin(t, "upgrade", "register", "2", "--file", p.Modules["v2"])
	n := p.Node(t, name)
	rtDir := filepath.Join(p.M.HomeOf(n), "runtime")
	v2, err := os.ReadFile(p.Modules["v2"])
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(crashBin, "runtime", "install", p.Modules["v2"], "--version", "2", "--home", p.M.HomeOf(n), "--node", n.RPCAddr())
	cmd.Env = append(os.Environ(), crashpoint.EnvVar+"="+crashpoint.Install+"@2")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("runtime install armed to crash: %v, want killed by SIGKILL; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "CRASHPOINT install@2: killing the process") {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(rtDir, "v2.wasm")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("v2.wasm after the crash: %v, want absent", err)
	}
	temps, _ := filepath.Glob(filepath.Join(rtDir, ".install-*"))
	if len(temps) != 1 || fileSize(temps[0]) != int64(len(v2)) {
		t.Fatalf("temporary files %v: want one holding the whole module (the crash came after the write)", temps)
	}
	if v := installedVersions(t, p, name); len(v) != 1 || v[1] == "" {
		t.Fatalf("runtime list after the crash: %v, want only v1", v)
	}
	h := p.Status(t, name).Height
	p.WaitHeight(t, h+2, 30*time.Second, name)

	// Installing again works, and attests.
	p.CLI(t, name, 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	if v := installedVersions(t, p, name); v[2] != fmt.Sprintf("%x", sha256.Sum256(v2)) {
		t.Fatalf("runtime list after installing again: %v", v)
	}
	st, err := p.Client(t, name).UpgradeStatus(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Readiness.Ready {
		t.Fatalf("v2 not attested after a completed install: %+v", st.Readiness)
	}

	// A truncated module under the final name: listed with its real (wrong) sha256, never
	// loaded. Make it the effective version's file so the restart has to load it.
	if err := p.M.StopNode(n, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	v1Path := filepath.Join(rtDir, "v1.wasm")
	v1, err := os.ReadFile(v1Path)
	if err != nil {
		t.Fatal(err)
	}
	short := v1[:len(v1)-4096]
	if err := os.WriteFile(v1Path, short, 0o644); err != nil {
		t.Fatal(err)
	}
	if v := installedVersions(t, p, name); v[1] != fmt.Sprintf("%x", sha256.Sum256(short)) {
		t.Fatalf("runtime list shows v1 as %s, want the truncated file's sha256", v[1])
	}
	logPath := filepath.Join(p.M.HomeOf(n), "node.log")
	before := fileSize(logPath)
	if _, err := p.M.StartNode(p.Bin, n); err != nil {
		t.Fatal(err)
	}
	log := p.waitExit(t, name, logPath, before, 60*time.Second)
	mustSay(t, log, v1Path, fmt.Sprintf("the chain expects %x", sha256.Sum256(v1)), "runtime install")
	if err := os.WriteFile(v1Path, v1, 0o644); err != nil {
		t.Fatal(err)
	}
	p.Start(t, name)
	p.WaitHeight(t, p.Status(t, name).Height+2, 30*time.Second, name)
}

// installedVersions returns `vchaind runtime list`'s versions and sha256s.
func installedVersions(t *testing.T, p *ProcNet, name string) map[uint64]string {
	t.Helper()
	var rows []struct {
		Version    uint64 `json:"version"`
		CodeSHA256 string `json:"code_sha256"`
	}
	if err := json.Unmarshal([]byte(p.CLI(t, name, 0, "runtime", "list", "-o", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	out := map[uint64]string{}
	for _, r := range rows {
		out[r.Version] = r.CodeSHA256
	}
	return out
}
