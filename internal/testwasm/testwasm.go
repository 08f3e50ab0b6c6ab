// Package testwasm builds runtime modules from contracts/ for tests. Modules are build
// outputs, never checked in: a test asks for one by folder name and gets the bytes of a
// fresh build, cached by the hash of the sources and the Go version so repeated test runs
// (and the parallel test binaries of one `go test ./...`) build each module once.
package testwasm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// BuildFlags are the flags `make contracts` uses; a module built here is byte-identical.
var BuildFlags = []string{"build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-ldflags=-buildid="}

// BuildEnv is the environment `make contracts` builds in. CGO_ENABLED is pinned because Go
// records it in the module: with CGO_ENABLED=1 in the environment (as .ci/run exports for
// the race detector) v1's sha256 differed.
var BuildEnv = []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"}

var (
	mu    sync.Mutex
	built = map[string][]byte{}
)

// RepoRoot returns the repository root (the directory of go.mod).
func RepoRoot() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Module returns the wasm bytes of contracts/<name> (e.g. "v1", "testmod").
func Module(t testing.TB, name string) []byte {
	t.Helper()
	b, err := Build(name)
	if err != nil {
		t.Fatalf("build contracts/%s: %v", name, err)
	}
	return b
}

// Build is Module for callers without a testing.TB.
func Build(name string) ([]byte, error) {
	mu.Lock()
	defer mu.Unlock()
	if b, ok := built[name]; ok {
		return b, nil
	}
	root := RepoRoot()
	key, err := sourceKey(root)
	if err != nil {
		return nil, err
	}
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		cacheDir = os.TempDir()
	}
	cacheDir = filepath.Join(cacheDir, "vchain-testwasm")
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(cacheDir, fmt.Sprintf("%s-%s.wasm", name, key[:16]))
	if b, err := os.ReadFile(out); err == nil {
		built[name] = b
		return b, nil
	}
	tmp := fmt.Sprintf("%s.tmp%d", out, os.Getpid())
	args := append(append([]string{}, BuildFlags...), "-o", tmp, "./contracts/"+name)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), BuildEnv...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	built[name] = b
	return b, nil
}

// CacheDir is a compilation cache directory shared by the tests of every package
// (see runtime.WithCacheDir), so each module is compiled once per machine.
func CacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "vchain-testwasm", "wazero")
}

// sourceKey hashes every file under contracts/, go.mod and the Go version.
func sourceKey(root string) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, goruntime.Version(), BuildFlags, BuildEnv)
	var files []string
	err := filepath.WalkDir(filepath.Join(root, "contracts"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("hash contract sources: %w", err)
	}
	files = append(files, filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum"))
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", strings.TrimPrefix(f, root), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
