package testnet

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/localnet"
)

// TestProcessDiskFaults gives one validator of four a data directory on its own small
// tmpfs, then, under load: fills it, makes it read-only, and corrupts the runtime module in
// its home. Each time the node must stop with a clear error and never sign a divergent
// state; once the fault is removed it restarts and agrees with the others. Where a tmpfs
// cannot be mounted (it takes CAP_SYS_ADMIN) only the full and read-only cases skip: the
// corrupt module is a file in the node's home and runs everywhere.
func TestProcessDiskFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	p := NewProcNet(t, 4, 0)
	const victim = "node3"
	n := p.Node(t, victim)
	data := filepath.Join(p.M.HomeOf(n), "data")
	noTmpfs := mountTmpfs(t, data, "64m")
	t.Cleanup(func() { _ = p.M.StopNode(n, 15*time.Second) }) // before the unmount
	for _, name := range validators4 {
		p.Start(t, name)
	}
	p.WaitHeight(t, 2, 60*time.Second, validators4...)
	load := StartLoad(t, p.M.ChainID, p.Clients(t, "node0", "node1"), 2, 150*time.Millisecond)
	logPath := filepath.Join(p.M.HomeOf(n), localnet.LogFile)

	t.Run("full", func(t *testing.T) {
		if noTmpfs != nil {
			t.Skip(noTmpfs)
		}
		before := fileSize(logPath)
		filler := filepath.Join(data, "filler")
		fill(t, filler)
		log := p.waitExit(t, victim, logPath, before, 60*time.Second)
		mustSay(t, log, "no space left on device")
		stop := firstLine(log, "STOPPING: consensus failed")
		if stop == "" {
			stop = firstLine(log, "pebble: fatal commit error")
		}
		if stop == "" {
			t.Fatalf("%s stopped without a clear error:\n%s", victim, tail(log, 4000))
		}
		t.Logf("and stopped: %s", stop)
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		p.restartAndCheck(t, victim)
	})
	// The kernel refuses to remount a file system read-only while files on it are open for
	// writing (EBUSY), so the read-only fault is met at start-up, as after a reboot on a
	// disk the kernel had switched to read-only.
	t.Run("read-only", func(t *testing.T) {
		if noTmpfs != nil {
			t.Skip(noTmpfs)
		}
		if err := p.M.StopNode(n, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		remount(t, data, "ro")
		before := fileSize(logPath)
		if _, err := p.M.StartNode(p.Bin, n); err != nil {
			t.Fatal(err)
		}
		log := p.waitExit(t, victim, logPath, before, 60*time.Second)
		mustSay(t, log, "read-only file system")
		remount(t, data, "rw")
		p.restartAndCheck(t, victim)
	})
	t.Run("corrupt-runtime", func(t *testing.T) {
		if err := p.M.StopNode(n, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		module := filepath.Join(p.M.HomeOf(n), "runtime", "v1.wasm")
		good, err := os.ReadFile(module)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(module, good[:len(good)/2], 0o644); err != nil { // a copy cut short
			t.Fatal(err)
		}
		before := fileSize(logPath)
		if _, err := p.M.StartNode(p.Bin, n); err != nil {
			t.Fatal(err)
		}
		log := p.waitExit(t, victim, logPath, before, 60*time.Second)
		mustSay(t, log, module, "the chain expects "+fmt.Sprintf("%x", sha256.Sum256(good)), "sha256 mismatch")
		// The operator's fix: remove the damaged file and install the right one.
		if err := os.Remove(module); err != nil {
			t.Fatal(err)
		}
		p.CLI(t, victim, 0, "runtime", "install", p.Modules["v1"], "--version", "1")
		p.restartAndCheck(t, victim)
	})
	lr := load.StopAndCheck(t, p.Client(t, "node0"))
	t.Logf("load %+v; identical up to %d", lr, p.CheckConsistency(t, validators4...))
}

// mountTmpfs mounts a tmpfs of size over dir, keeping dir's files, for the rest of the
// test. Where mounting is not permitted it leaves dir as it is and returns why, for the
// cases that need the tmpfs to skip.
func mountTmpfs(t *testing.T, dir, size string) error {
	t.Helper()
	keep := t.TempDir()
	if out, err := exec.Command("cp", "-a", dir+"/.", keep).CombinedOutput(); err != nil {
		t.Fatalf("save %s: %v: %s", dir, err, out)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("cannot mount a tmpfs to simulate a full or read-only disk (needs root with CAP_SYS_ADMIN): %w: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	if out, err := exec.Command("cp", "-a", keep+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("restore %s: %v: %s", dir, err, out)
	}
	return nil
}

func remount(t *testing.T, dir, mode string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+mode, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s %s: %v: %s", dir, mode, err, out)
	}
}

// fill writes path until the file system has no space left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", path, err)
			}
			return
		}
	}
}

// waitExit waits for node name's process to exit and returns what it logged after offset
// before.
func (p *ProcNet) waitExit(t *testing.T, name, logPath string, before int64, timeout time.Duration) string {
	t.Helper()
	n := p.Node(t, name)
	deadline := time.Now().Add(timeout)
	for {
		if _, running := p.M.PID(n); !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still running %s after the fault:\n%s", name, timeout, tail(readFrom(t, logPath, before), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return readFrom(t, logPath, before)
}

// mustSay fails unless log contains every one of want.
func mustSay(t *testing.T, log string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Fatalf("the node's log does not say %q:\n%s", w, tail(log, 4000))
		}
	}
	t.Logf("the node said: %s", firstLine(log, want[0]))
}

// firstLine returns the first line of log that contains s.
func firstLine(log, s string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// restartAndCheck restarts node name and checks that it reaches the tip with the same
// blocks and app hashes as the others.
func (p *ProcNet) restartAndCheck(t *testing.T, name string) {
	t.Helper()
	p.Start(t, name)
	p.WaitHeight(t, p.Status(t, "node0").Height, 60*time.Second, name)
	p.checkAppHash(t, name)
	t.Logf("%s restarted; identical up to %d", name, p.CheckConsistency(t, validators4...))
}
