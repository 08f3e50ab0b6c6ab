//go:build linux

package testnet

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tty runs one vchaind command on a new pseudo-terminal, as an operator at a shell would.
type tty struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan error
	// answered lists the prompts answered so far, so a prompt asked again is told apart.
	answered []string
}

func startTTY(t *testing.T, env []string, bin string, args ...string) *tty {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	p := &tty{t: t, master: master, cmd: cmd, done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil { // EIO once the command exits and the slave closes
				return
			}
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); master.Close() })
	return p
}

func (p *tty) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// answer waits (at most 30s) for prompt and for the terminal's echo to be off, then types
// line: typed earlier, the terminal would echo it whatever the command does.
func (p *tty) answer(prompt, line string) {
	p.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strings.Count(p.output(), prompt) > strings.Count(p.typed(), prompt) {
			tio, err := unix.IoctlGetTermios(int(p.master.Fd()), unix.TCGETS)
			if err == nil && tio.Lflag&unix.ECHO == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no prompt %q with echo off in 30s; output:\n%s", prompt, p.output())
		}
	}
	p.mu.Lock()
	p.answered = append(p.answered, prompt)
	p.mu.Unlock()
	if _, err := p.master.Write([]byte(line + "\n")); err != nil {
		p.t.Fatal(err)
	}
}

func (p *tty) typed() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.answered, "\n")
}

// wait returns the command's exit code (at most 60s).
func (p *tty) wait() int {
	p.t.Helper()
	select {
	case err := <-p.done:
		time.Sleep(100 * time.Millisecond) // the last output
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0
	case <-time.After(60 * time.Second):
		p.t.Fatalf("the command did not exit in 60s; output:\n%s", p.output())
		return -1
	}
}

// TestKeyringTerminal: on a terminal, the file backend asks for a new key's passphrase
// twice and for an existing key's once, with echo off (the passphrase never appears in
// the terminal's output); a wrong one exits 1; an export asks for its own passphrase,
// which then imports it.
func TestKeyringTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	bin := Binary(t)
	h := filepath.Join(t.TempDir(), "home")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VCHAIN_KEYRING_") {
			env = append(env, kv)
		}
	}
	const pass, exportPass = "typed at the terminal", "the export's own passphrase"

	add := startTTY(t, env, bin, "keys", "add", "alice", "--home", h)
	add.answer("New passphrase for key alice: ", pass)
	add.answer("Repeat it: ", pass)
	if code := add.wait(); code != 0 || !strings.Contains(add.output(), "address:") || strings.Contains(add.output(), pass) {
		t.Fatalf("keys add on a terminal: exit %d, output:\n%s", code, add.output())
	}
	addr := strings.Fields(add.output()[strings.Index(add.output(), "address:"):])[1]

	differ := startTTY(t, env, bin, "keys", "add", "bob", "--home", h)
	differ.answer("New passphrase for key bob: ", pass)
	differ.answer("Repeat it: ", pass+" but not the same")
	if code := differ.wait(); code != 1 || !strings.Contains(differ.output(), "the passphrases differ") {
		t.Fatalf("two different passphrases: exit %d, output:\n%s", code, differ.output())
	}

	wrong := startTTY(t, env, bin, "keys", "export", "alice", "--home", h)
	wrong.answer("Passphrase for key alice: ", "not "+pass)
	if code := wrong.wait(); code != 1 || !strings.Contains(wrong.output(), "wrong passphrase") {
		t.Fatalf("a wrong passphrase: exit %d, output:\n%s", code, wrong.output())
	}

	exported := filepath.Join(t.TempDir(), "alice.age")
	export := startTTY(t, env, bin, "keys", "export", "alice", "--home", h, "--out", exported)
	export.answer("Passphrase for key alice: ", pass)
	export.answer("New passphrase for the export of key alice: ", exportPass)
	export.answer("Repeat it: ", exportPass)
	if code := export.wait(); code != 0 || strings.Contains(export.output(), pass) || strings.Contains(export.output(), exportPass) {
		t.Fatalf("keys export on a terminal: exit %d, output:\n%s", code, export.output())
	}
	imp := exec.Command(bin, "keys", "import", "alice", exported, "--home", t.TempDir(), "--keyring-backend", "test")
	imp.Env = append(env, "VCHAIN_KEYRING_PASSPHRASE="+exportPass)
	if out, err := imp.CombinedOutput(); err != nil || !strings.Contains(string(out), addr) {
		t.Fatalf("import of the terminal's export: %v\n%s", err, out)
	}
}
