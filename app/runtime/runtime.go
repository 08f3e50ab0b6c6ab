// Package runtime is the runtime manager: it installs numbered versions of the contract
// execution software (wasm modules bound to their sha256), meters and compiles them with
// wazero, and executes calls on them. It knows nothing of CometBFT or of the store: the
// block executor hands it a KV view per call.
//
// Every property that can change a result is fixed here, identically on every node: the
// gas schedule, the memory cap, wazero's deterministic defaults (fake clocks, seeded
// randomness) and a fresh instance per block.
package runtime

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/vchain/vchain/app/modhash"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/runtime/internal/meter"
	"github.com/vchain/vchain/internal/crashpoint"
)

// MemoryLimitPages caps every instance's linear memory (64 KiB pages): 1024 pages = 64 MiB.
// It is part of the execution semantics (a contract that needs more traps), so it is the
// same constant on every node.
const MemoryLimitPages = 1024

// MaxModuleBytes bounds a module's size. A Go runtime module is about 2-3 MB; the bound
// keeps a wrong file (or a hostile one) from being read, metered and compiled at length.
const MaxModuleBytes = 32 << 20

// Hash is the sha256 of a module's original (unmetered) bytes: the identity the chain
// records for a version.
type Hash = modhash.Hash

// ParseHash parses a hex sha256.
func ParseHash(s string) (Hash, error) { return modhash.Parse(s) }

// ErrNotInstalled reports a version that has no module in this node's runtime directory.
var ErrNotInstalled = errors.New("runtime version not installed")

// ErrHashMismatch reports a module whose bytes do not hash to what the chain expects.
var ErrHashMismatch = errors.New("runtime module sha256 mismatch")

// Manager holds the installed versions of one node. It is safe for concurrent use.
type Manager struct {
	dir string
	rt  wazero.Runtime

	mu     sync.Mutex
	loaded map[loadKey]*Module
	// sums remembers the sha256 of each file List has read, by name, size and
	// modification time, so status queries do not re-hash megabytes each time. Load, the
	// check that guards execution, always hashes the bytes it compiles.
	sums map[fileStamp]Hash

	stats instanceStats
}

// instanceStats count what the sessions of a manager's modules did with instances, for
// the node's metrics.
type instanceStats struct {
	resets  atomic.Uint64 // an instance restored to its module's snapshot
	created atomic.Uint64 // a new instance, none idle or one that could not be restored
}

func (s *instanceStats) reset() {
	if s != nil {
		s.resets.Add(1)
	}
}

func (s *instanceStats) create() {
	if s != nil {
		s.created.Add(1)
	}
}

// InstanceStats returns how many times this manager's sessions reset an instance to its
// snapshot, and how many instances they created.
func (m *Manager) InstanceStats() (resets, created uint64) {
	return m.stats.resets.Load(), m.stats.created.Load()
}

// loadKey identifies a compiled module: the metering, and so the compiled code, depend on
// the profile as well as on the module.
type loadKey struct {
	version uint64
	profile uint32
}

type fileStamp struct {
	name  string
	size  int64
	mtime int64
}

// Option configures a Manager.
type Option func(*options)

type options struct{ cacheDir string }

// WithCacheDir keeps compiled code in dir instead of the runtime directory's cache/. The
// cache is keyed by the metered module's content and is safe to share between nodes and
// processes (entries are written atomically), so several nodes on one machine, or a test
// suite, compile each module once.
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// NewManager opens the runtime directory dir (created if missing). Compiled code is cached
// under dir/cache (see WithCacheDir) so a restart does not recompile.
func NewManager(ctx context.Context, dir string, opts ...Option) (*Manager, error) {
	o := options{cacheDir: filepath.Join(dir, "cache")}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("runtime dir: %w", err)
	}
	if err := os.MkdirAll(o.cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("runtime cache dir: %w", err)
	}
	cache, err := wazero.NewCompilationCacheWithDir(o.cacheDir)
	if err != nil {
		return nil, fmt.Errorf("runtime compilation cache: %w", err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithMemoryLimitPages(MemoryLimitPages).
		WithCompilationCache(cache).
		WithCloseOnContextDone(false)) // wall-clock based: never in consensus
	// WASI as wazero provides it, except proc_exit: wazero's closes the instance, so a
	// transaction calling os.Exit would cost the block a new instance. This one stops the
	// guest with the same error and leaves the instance to be restored like after any trap.
	wasi := rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(wasi)
	wasi.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
		panic(sys.NewExitError(api.DecodeU32(stack[0])))
	}), []api.ValueType{api.ValueTypeI32}, nil).WithParameterNames("rval").Export("proc_exit")
	if _, err := wasi.Instantiate(ctx); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiate wasi: %w", err)
	}
	if err := instantiateHost(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return &Manager{dir: dir, rt: rt, loaded: make(map[loadKey]*Module), sums: make(map[fileStamp]Hash)}, nil
}

// Close releases every compiled module.
func (m *Manager) Close(ctx context.Context) error { return m.rt.Close(ctx) }

// Dir returns the runtime directory.
func (m *Manager) Dir() string { return m.dir }

// Path returns where version's module is stored.
func (m *Manager) Path(version uint64) string {
	return filepath.Join(m.dir, fmt.Sprintf("v%d.wasm", version))
}

// Installed describes one module in the runtime directory.
type Installed struct {
	Version uint64
	SHA256  Hash
	Path    string
}

// List returns the installed versions in ascending order.
func (m *Manager) List() ([]Installed, error) {
	ents, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, fmt.Errorf("list runtime dir: %w", err)
	}
	var out []Installed
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, "v") || !strings.HasSuffix(name, ".wasm") {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSuffix(name[1:], ".wasm"), 10, 64)
		if err != nil || v == 0 {
			continue
		}
		sum, err := m.fileSum(e)
		if err != nil {
			return nil, err
		}
		out = append(out, Installed{Version: v, SHA256: sum, Path: filepath.Join(m.dir, name)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// fileSum returns the sha256 of a file of the runtime directory, hashing it only when its
// name, size or modification time is new.
func (m *Manager) fileSum(e os.DirEntry) (Hash, error) {
	info, err := e.Info()
	if err != nil {
		return Hash{}, fmt.Errorf("stat %s: %w", e.Name(), err)
	}
	stamp := fileStamp{name: e.Name(), size: info.Size(), mtime: info.ModTime().UnixNano()}
	m.mu.Lock()
	sum, ok := m.sums[stamp]
	m.mu.Unlock()
	if ok {
		return sum, nil
	}
	b, err := os.ReadFile(filepath.Join(m.dir, e.Name()))
	if err != nil {
		return Hash{}, fmt.Errorf("read %s: %w", e.Name(), err)
	}
	sum = sha256.Sum256(b)
	m.mu.Lock()
	m.sums[stamp] = sum
	m.mu.Unlock()
	return sum, nil
}

// Install validates wasm, meters and compiles it, and stores it as version. Installing the
// same bytes again is a no-op; different bytes for an installed version are refused. The
// trial run, and the returned module, use the newest profile this binary knows.
func (m *Manager) Install(ctx context.Context, version uint64, wasm []byte) (*Module, error) {
	if version == 0 {
		return nil, fmt.Errorf("install: version must be 1 or more")
	}
	p, err := profile.Get(profile.Latest())
	if err != nil {
		return nil, fmt.Errorf("install v%d: %w", version, err)
	}
	sum := Hash(sha256.Sum256(wasm))
	path := m.Path(version)
	if old, err := os.ReadFile(path); err == nil {
		if Hash(sha256.Sum256(old)) != sum {
			return nil, fmt.Errorf("install v%d: a different module (sha256 %x) is already installed at %s", version, sha256.Sum256(old), path)
		}
		return m.Load(ctx, version, sum, p)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("install v%d: %w", version, err)
	}
	mod, err := m.compile(ctx, version, sum, wasm, p)
	if err != nil {
		return nil, fmt.Errorf("install v%d: %w", version, err)
	}
	// Instantiate it once, as every block will: a module whose start function or
	// initialisation traps, loops or needs an import nobody provides is refused now rather
	// than failing every transaction of every block once it is effective.
	if err := mod.trial(ctx); err != nil {
		mod.compiled.Close(ctx)
		return nil, fmt.Errorf("install v%d: %w", version, err)
	}
	if err := writeFileAtomic(path, wasm, func() { crashpoint.Hit(crashpoint.Install, int64(version)) }); err != nil {
		return nil, fmt.Errorf("install v%d: %w", version, err)
	}
	m.mu.Lock()
	m.loaded[loadKey{version, p.ID}] = mod
	m.mu.Unlock()
	return mod, nil
}

// Load returns version's module under profile p, compiling it on first use, and refuses
// it unless its bytes hash to want: a module replaced behind the node's back must never
// execute.
func (m *Manager) Load(ctx context.Context, version uint64, want Hash, p profile.Profile) (*Module, error) {
	key := loadKey{version, p.ID}
	m.mu.Lock()
	mod := m.loaded[key]
	m.mu.Unlock()
	if mod != nil && mod.SHA256 == want {
		return mod, nil
	}
	wasm, err := os.ReadFile(m.Path(version))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load runtime v%d (sha256 %s): %w", version, want, ErrNotInstalled)
	}
	if err != nil {
		return nil, fmt.Errorf("load runtime v%d: %w", version, err)
	}
	if got := Hash(sha256.Sum256(wasm)); got != want {
		return nil, fmt.Errorf("load runtime v%d: %s has sha256 %s, the chain expects %s: %w",
			version, m.Path(version), got, want, ErrHashMismatch)
	}
	mod, err = m.compile(ctx, version, want, wasm, p)
	if err != nil {
		return nil, fmt.Errorf("load runtime v%d: %w", version, err)
	}
	m.mu.Lock()
	m.loaded[key] = mod
	m.mu.Unlock()
	return mod, nil
}

func (m *Manager) compile(ctx context.Context, version uint64, sum Hash, wasm []byte, p profile.Profile) (*Module, error) {
	if len(wasm) > MaxModuleBytes {
		return nil, fmt.Errorf("module is %d bytes, the limit is %d", len(wasm), MaxModuleBytes)
	}
	metered, err := meter.Instrument(wasm, meterRules(p))
	if err != nil {
		return nil, fmt.Errorf("meter module: %w", err)
	}
	compiled, err := compileSafely(ctx, m.rt, metered)
	if err != nil {
		return nil, fmt.Errorf("compile module: %w", err)
	}
	if err := validate(compiled); err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("validate module: %w", err)
	}
	// The meter exports every defined mutable global (Go's stack pointer among them) so
	// the host can snapshot and restore it; a module's own globals are otherwise
	// invisible to the host.
	globals, err := meter.RestorableGlobals(wasm)
	if err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("read the metered module's exports: %w", err)
	}
	return &Module{Version: version, SHA256: sum, Profile: p, rt: m.rt, compiled: compiled, globals: globals, stats: &m.stats}, nil
}

// compileSafely compiles a metered module, turning a panic inside wazero into an error: the
// meter already rejects every crashing input fuzzing found, but an installed file is
// operator input and must never take the node down.
func compileSafely(ctx context.Context, rt wazero.Runtime, wasm []byte) (c wazero.CompiledModule, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("wazero panicked compiling the module: %v", r)
		}
	}()
	return rt.CompileModule(ctx, wasm)
}

// writeFileAtomic writes data to path so that path, even after a crash or power cut at any
// point, either does not exist or holds all of data: data goes to a synced temporary file
// (whose name List ignores) renamed over path, and the rename is synced through the
// directory. beforeRename runs between the two steps (a crash point).
func writeFileAtomic(path string, data []byte, beforeRename func()) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".install-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	beforeRename()
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
