package testnet

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vchain/vchain/internal/testwasm"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary builds cmd/vchaind once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vchaind-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "vchaind")
		cmd := exec.Command("go", "build", "-buildvcs=false", "-o", binPath, "./cmd/vchaind")
		cmd.Dir = testwasm.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = err
			t.Logf("%s", out)
		}
	})
	if binErr != nil {
		t.Fatalf("build vchaind: %v", binErr)
	}
	return binPath
}
