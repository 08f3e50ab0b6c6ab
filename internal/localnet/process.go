package localnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vchain/vchain/internal/client"
)

// LogFile and PIDFile are kept in each node's home.
const (
	LogFile = "node.log"
	PIDFile = "vchaind.pid"
)

// PID returns the process id of n if it is running.
func (m *Manifest) PID(n Node) (int, bool) {
	b, err := os.ReadFile(filepath.Join(m.HomeOf(n), PIDFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, alive(pid)
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie answers signal 0 too: look at its state.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) == 0 || fields[0] != "Z"
}

// StartNode starts `bin start --home HOME` for n as its own process (its own process
// group, so it outlives the command that started it), appending its output to HOME/node.log
// and writing HOME/vchaind.pid. It does not wait for the node to answer: see WaitRPC.
func (m *Manifest) StartNode(bin string, n Node) (int, error) {
	return m.StartNodeEnv(bin, n)
}

// StartCommand starts bin with args as n's process, the way StartNode does (for other
// binaries, such as CometBFT's own for a reference network).
func (m *Manifest) StartCommand(n Node, bin string, args ...string) (int, error) {
	return m.StartCommandEnv(n, nil, bin, args...)
}

// StartNodeEnv starts n as StartNode does, with env ("KEY=value") added to this process's
// environment: tests arm a crash point this way (see internal/crashpoint).
func (m *Manifest) StartNodeEnv(bin string, n Node, env ...string) (int, error) {
	return m.StartCommandEnv(n, env, bin, "start", "--home", m.HomeOf(n))
}

// StartCommandEnv is StartCommand with env added to this process's environment.
func (m *Manifest) StartCommandEnv(n Node, env []string, bin string, args ...string) (int, error) {
	if pid, ok := m.PID(n); ok {
		return pid, fmt.Errorf("%s is already running (pid %d)", n.Name, pid)
	}
	h := m.HomeOf(n)
	log, err := os.OpenFile(filepath.Join(h, LogFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", n.Name, err)
	}
	pid := cmd.Process.Pid
	go func() { _ = cmd.Wait() }() // reap it if it exits while we run
	if err := os.WriteFile(filepath.Join(h, PIDFile), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return pid, err
	}
	return pid, nil
}

// StopNode stops n gracefully (SIGTERM), then kills it if it has not exited in time.
func (m *Manifest) StopNode(n Node, timeout time.Duration) error {
	pid, ok := m.PID(n)
	if !ok {
		os.Remove(filepath.Join(m.HomeOf(n), PIDFile))
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(timeout)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			time.Sleep(200 * time.Millisecond)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return os.Remove(filepath.Join(m.HomeOf(n), PIDFile))
}

// KillNode kills n with SIGKILL, as a crash would.
func (m *Manifest) KillNode(n Node) error {
	pid, ok := m.PID(n)
	if !ok {
		return fmt.Errorf("%s is not running", n.Name)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	for i := 0; i < 100 && alive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// ErrNotAnswering reports a node whose RPC did not answer in time.
var ErrNotAnswering = errors.New("node RPC not answering")

// WaitRPC waits until n's RPC answers /status.
func (m *Manifest) WaitRPC(ctx context.Context, n Node, timeout time.Duration) error {
	c, err := client.New(n.RPCAddr())
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.RPC.Status(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s after %s: %w (see %s)", n.Name, timeout, ErrNotAnswering, filepath.Join(m.HomeOf(n), LogFile))
		}
		if _, ok := m.PID(n); !ok {
			return fmt.Errorf("%s exited: see %s", n.Name, filepath.Join(m.HomeOf(n), LogFile))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
