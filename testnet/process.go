package testnet

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vchain/vchain/internal/testwasm"
)

// builds caches one vchaind build per set of build tags for the test process.
var builds sync.Map // tags -> *build

type build struct {
	once sync.Once
	path string
	err  error
}

// Binary builds cmd/vchaind once per test process and returns its path.
func Binary(t testing.TB) string { return BinaryWithTags(t, "") }

// CrashBinary builds cmd/vchaind with the crashpoints build tag (see internal/crashpoint):
// a node started from it with VCHAIN_CRASH_AT=<point>@<height> kills itself there.
func CrashBinary(t testing.TB) string { return BinaryWithTags(t, "crashpoints") }

// BinaryWithTags builds cmd/vchaind with the given -tags once per test process and returns
// its path.
func BinaryWithTags(t testing.TB, tags string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(tags, &build{})
	b := v.(*build)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "vchaind-bin")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "vchaind")
		cmd := exec.Command("go", "build", "-buildvcs=false", "-tags="+tags, "-o", b.path, "./cmd/vchaind")
		cmd.Dir = testwasm.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = err
			t.Logf("%s", out)
		}
	})
	if b.err != nil {
		t.Fatalf("build vchaind (tags %q): %v", tags, b.err)
	}
	return b.path
}
