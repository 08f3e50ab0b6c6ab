//go:build crashpoints

package crashpoint

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want target
	}{
		{"", target{}},
		{"after-finalize@12", target{point: AfterFinalize, n: 12, ok: true}},
		{"install@2", target{point: Install, n: 2, ok: true}},
		{"after-finalize", target{}},
		{"after-finalize@x", target{}},
		{"nowhere@3", target{}},
	} {
		if got := parse(c.in); got != c.want {
			t.Errorf("parse(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

// TestHitKills runs this test binary again with a crash point armed and checks that Hit
// kills it at that point only, with SIGKILL, after saying so on stderr.
func TestHitKills(t *testing.T) {
	if os.Getenv("CRASHPOINT_CHILD") != "" {
		Hit(MidCommit, 4) // not armed at 4
		Hit(AfterFinalize, 5)
		Hit(MidCommit, 5)
		os.Exit(0)
	}
	for _, c := range []struct {
		env    string
		killed bool
	}{
		{"mid-commit@5", true},
		{"mid-commit@6", false},
		{"", false},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHitKills$")
		cmd.Env = append(os.Environ(), "CRASHPOINT_CHILD=1", EnvVar+"="+c.env)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
		if killed != c.killed || (!c.killed && err != nil) {
			t.Fatalf("%s=%q: err %v, want killed=%v; stderr:\n%s", EnvVar, c.env, err, c.killed, stderr.String())
		}
		if said := strings.Contains(stderr.String(), "CRASHPOINT mid-commit@5: killing the process"); said != c.killed {
			t.Fatalf("%s=%q: stderr %q", EnvVar, c.env, stderr.String())
		}
	}
}
