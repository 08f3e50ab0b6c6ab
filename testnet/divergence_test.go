package testnet

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/fault"
)

// startDiverging starts node name from a vchaind built with faults, armed to add one write
// to its block at height h (see internal/fault), and returns the line it logs there.
func (p *ProcNet) startDiverging(t testing.TB, name string, h int64) string {
	t.Helper()
	p.startEnv(t, BinaryWithTags(t, "faults"), name, fmt.Sprintf("%s=%s@%d", fault.EnvVar, fault.Diverged, h))
	return fmt.Sprintf("FAULT %s@%d: one write of the block changed", fault.Diverged, h)
}

// waitSay waits until the log at logPath, from offset before, says want.
func waitSay(t testing.TB, logPath string, before int64, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := readFrom(t, logPath, before)
		if strings.Contains(log, want) {
			t.Logf("the node said: %s", firstLine(log, want))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node did not say %q in %s:\n%s", want, timeout, tail(log, 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// mustName fails unless err, the comparison of the nodes, reports that name computed
// another app hash than the others at height h and is behind there.
func mustName(t testing.TB, err error, name string, h int64) {
	t.Helper()
	if err == nil {
		t.Fatalf("the comparison of the nodes passed with %s diverged at %d", name, h)
	}
	for _, want := range []string{fmt.Sprintf("height %d: %s computed app hash ", h, name), fmt.Sprintf("behind: %s at %d, ", name, h)} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("the comparison of the nodes does not say %q:\n%v", want, err)
		}
	}
	t.Logf("the comparison of the nodes says: %v", err)
}
