package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/runtime/internal/meter"
	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/contracts/abi/migration"
)

// ExportWarmup is the optional export a module may provide (contracts/sdk does): the host
// calls it once after _initialize, before taking the snapshot every call starts from, so
// first-use costs (encoding/json's type caches, lazily built tables) are paid once per
// module instead of by every transaction. It may not touch state: a host call during the
// warm-up fails it, and with it the module's initialisation.
const ExportWarmup = "vchain_warmup"

// snapshot is the instance state every call starts from: linear memory and every mutable
// global right after _initialize and the warm-up, and the guest's clocks and random
// stream at that point. Restoring it before a call makes the call's result and gas a
// function of the call and the chain's state alone, whatever ran on the instance before.
// It is taken once per module (and profile) and only read afterwards.
type snapshot struct {
	mem     []byte   // the whole linear memory; its length fixes the memory size
	zero    []bool   // which pages of mem are all zero (see copyChanged)
	globals []uint64 // by position in Module.globals
	depth   uint64
	clock   clockState
}

// clockState is what the guest can observe of its clocks and random source. wazero's
// defaults keep that state in closures no snapshot reaches (each clock read advances a
// counter): these replicas of the same fake clocks (1 ms per read from the same epochs)
// and of the same seeded stream keep it where restore can set it back.
type clockState struct {
	wall, nano int64
	randRead   int64 // bytes read from the random stream
}

const (
	fakeEpochNanos = 1640995200000 * int64(time.Millisecond) // wazero's: 2022-01-01 UTC
	randSeed       = 42                                      // wazero's fake random seed
)

type clock struct {
	clockState
	rnd *rand.Rand
}

func newClock() *clock {
	return &clock{
		clockState: clockState{wall: fakeEpochNanos - int64(time.Millisecond), nano: -int64(time.Millisecond)},
		rnd:        rand.New(rand.NewSource(randSeed)),
	}
}

func (c *clock) walltime() (int64, int32) {
	c.wall += int64(time.Millisecond)
	return c.wall / 1e9, int32(c.wall % 1e9)
}

func (c *clock) nanotime() int64 {
	c.nano += int64(time.Millisecond)
	return c.nano
}

// Read implements the guest's random source. math/rand's Read keeps its position across
// calls, so the stream depends only on the number of bytes read, never on how reads
// were split: resetting re-seeds and skips that many bytes.
func (c *clock) Read(p []byte) (int, error) {
	n, _ := c.rnd.Read(p) //nolint:staticcheck // a deterministic stream, on purpose
	c.randRead += int64(n)
	return n, nil
}

func (c *clock) reset(s clockState) {
	if c.randRead != s.randRead {
		c.rnd = rand.New(rand.NewSource(randSeed))
		if _, err := io.CopyN(io.Discard, c.rnd, s.randRead); err != nil {
			panic(err) // math/rand never fails a read
		}
	}
	c.clockState = s
}

// instance is one instantiated module with the handles a call needs.
type instance struct {
	mod     api.Module
	mem     api.Memory
	globals []api.MutableGlobal
	gas     api.MutableGlobal
	depth   api.MutableGlobal
	alloc   api.Function
	exec    api.Function
	// migrations and migrate are the optional migration exports (nil when absent).
	migrations, migrate api.Function
	clock               *clock
	stderr              *limitedBuffer
	// written and pages are the meter's record of what the guest wrote since the last
	// restore: bits of 64 KiB regions (meter.WrittenGlobalExport) and of 4 KiB pages
	// (meter.WrittenPagesGlobalExport), each mod 64; the host adds its own writes (mark).
	written, pages api.MutableGlobal
	// whole is set while the memory is not known to match the snapshot except in the
	// marked regions: a new instance, whose memory is the module's initial one.
	whole bool
	// dirty is set once a call ran since the last restore.
	dirty bool
}

func (in *instance) close(ctx context.Context) { in.mod.Close(ctx) }

// newInstance instantiates m as _initialize found it: no guest code runs. A failure here
// is the node's (the module passed the same steps in its install trial), never a result.
func (m *Module) newInstance(ctx context.Context) (*instance, error) {
	clk := newClock()
	stderr := &limitedBuffer{}
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: many instances of one module may coexist
		WithStartFunctions().
		WithStderr(stderr).
		WithWalltime(clk.walltime, 1000).
		WithNanotime(clk.nanotime, 1).
		WithRandSource(clk)
	mod, err := m.rt.InstantiateModule(ctx, m.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiate runtime v%d: %w", m.Version, err)
	}
	m.stats.create()
	in := &instance{mod: mod, mem: mod.Memory(), clock: clk, stderr: stderr, whole: true}
	fail := func(what string) (*instance, error) {
		mod.Close(ctx)
		return nil, fmt.Errorf("runtime v%d: %s missing after metering", m.Version, what)
	}
	var ok bool
	if in.gas, ok = mod.ExportedGlobal(meter.GasGlobalExport).(api.MutableGlobal); !ok {
		return fail("gas global")
	}
	if in.depth, ok = mod.ExportedGlobal(meter.DepthGlobalExport).(api.MutableGlobal); !ok {
		return fail("depth global")
	}
	if in.written, ok = mod.ExportedGlobal(meter.WrittenGlobalExport).(api.MutableGlobal); !ok {
		return fail("written global")
	}
	if in.pages, ok = mod.ExportedGlobal(meter.WrittenPagesGlobalExport).(api.MutableGlobal); !ok {
		return fail("written pages global")
	}
	if in.mem == nil {
		return fail("memory")
	}
	for _, name := range m.globals {
		g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			return fail("global " + name)
		}
		in.globals = append(in.globals, g)
	}
	in.alloc = mod.ExportedFunction(abi.ExportAlloc)
	in.exec = mod.ExportedFunction(abi.ExportExecute)
	in.migrations = mod.ExportedFunction(migration.ExportMigrations)
	in.migrate = mod.ExportedFunction(migration.ExportMigrate)
	return in, nil
}

// initialise runs _initialize and the warm-up on a new instance under the profile's
// init budget. A *codes.Error is the module's own, deterministic failure; any other
// error is the node's.
func (m *Module) initialise(ctx context.Context, in *instance) error {
	in.gas.Set(m.Profile.InitGas)
	ctx = context.WithValue(ctx, callKey{}, &call{gas: in.gas, host: &m.Profile.Host})
	for _, name := range []string{abi.ExportInitialize, ExportWarmup} {
		fn := in.mod.ExportedFunction(name)
		if fn == nil {
			continue // only the warm-up is optional: validate requires _initialize
		}
		if _, err := fn.Call(ctx); err != nil {
			var nodeErr *nodeError
			switch {
			case errors.As(err, &nodeErr):
				return nodeErr.err
			case int64(in.gas.Get()) < 0:
				return codes.Errorf(codes.ContractTrap, "%s of runtime v%d: used up its gas budget of %d without finishing", name, m.Version, m.Profile.InitGas)
			case uint32(in.depth.Get()) > m.Profile.MaxCallDepth:
				return codes.Errorf(codes.ContractTrap, "%s of runtime v%d: call depth exceeded %d", name, m.Version, m.Profile.MaxCallDepth)
			default:
				return codes.Errorf(codes.ContractTrap, "%s of runtime v%d: %s", name, m.Version, describe(err, in.stderr))
			}
		}
	}
	return nil
}

// take records in's state as the snapshot.
func (in *instance) take() *snapshot {
	buf, _ := in.mem.Read(0, in.mem.Size())
	s := &snapshot{mem: append([]byte(nil), buf...), depth: in.depth.Get(), clock: in.clock.clockState}
	s.zero = zeroPages(s.mem)
	for _, g := range in.globals {
		s.globals = append(s.globals, g.Get())
	}
	return s
}

// restore sets in back to s. It reports false when it cannot: the memory grew (a wasm
// memory never shrinks), and the instance must be replaced.
//
// Only the pages the meter marks can differ from the snapshot (its contract, see
// meter.WrittenPagesGlobalExport): page q, and the 8 bytes after it, when bit (q>>4) mod
// 64 of the regions' global and bit q mod 64 of the pages' global are both set. Those are
// copied back. A new instance is compared whole.
func (in *instance) restore(s *snapshot) bool {
	size := in.mem.Size()
	switch {
	case size > uint32(len(s.mem)):
		return false
	case size < uint32(len(s.mem)):
		// Only a new instance is smaller: it has the module's initial memory.
		if _, ok := in.mem.Grow((uint32(len(s.mem)) - size) / wasmPageSize); !ok {
			return false
		}
	}
	buf, _ := in.mem.Read(0, uint32(len(s.mem)))
	if in.whole {
		copyChanged(buf, s.mem, s.zero)
		in.whole = false
	} else {
		restorePages(buf, s, in.written.Get(), in.pages.Get())
	}
	in.written.Set(0)
	in.pages.Set(0)
	for i, g := range in.globals {
		g.Set(s.globals[i])
	}
	in.depth.Set(s.depth)
	in.clock.reset(s.clock)
	in.stderr.Reset()
	in.dirty = false
	return true
}

// regionShift and pageShift are the log2 of the meter's write-tracking units.
const (
	regionShift = 16
	pageShift   = 12
)

// restorePages copies back the pages of buf that regions and pages both mark (see restore).
func restorePages(buf []byte, s *snapshot, regions, pages uint64) {
	n := (len(buf) + 1<<regionShift - 1) >> regionShift
	for b := 0; regions != 0 && b < 64; b++ {
		if regions&(1<<b) == 0 {
			continue
		}
		regions &^= 1 << b
		for r := b; r < n; r += 64 {
			for q := r << (regionShift - pageShift); q < (r+1)<<(regionShift-pageShift); q++ {
				if pages&(1<<(q%64)) == 0 {
					continue
				}
				lo := q << pageShift
				if lo >= len(buf) {
					break
				}
				// Copied without comparing first: a compare reads both pages, a copy reads
				// one and writes one (BenchmarkRestore: 6.8 against 8.5 µs after a kv.set).
				hi := min(lo+1<<pageShift+8, len(buf)) // a store's last bytes may spill over
				copy(buf[lo:hi], s.mem[lo:hi])
			}
		}
	}
}

// mark records a write the host made into the guest's memory, [ptr, ptr+n), as the
// meter's code records the guest's own. Writes of host functions (state_get, caller) need
// no mark here: the meter marks their ranges at the call site, from the call's arguments.
func (in *instance) mark(ptr, n uint32) {
	if n == 0 {
		return
	}
	in.written.Set(in.written.Get() | spanBits(ptr, n, regionShift))
	in.pages.Set(in.pages.Get() | spanBits(ptr, n, pageShift))
}

// spanBits returns the marks of the units of 1<<shift bytes that [ptr, ptr+n) touches, each
// unit u as bit u mod 64 (n > 0).
func spanBits(ptr, n uint32, shift uint) uint64 {
	first, last := uint64(ptr)>>shift, (uint64(ptr)+uint64(n)-1)>>shift
	if last-first >= 63 {
		return ^uint64(0)
	}
	var bits uint64
	for u := first; u <= last; u++ {
		bits |= 1 << (u % 64)
	}
	return bits
}

const wasmPageSize = 1 << 16

// copyChanged makes dst equal to src (of the same length) page by page, writing only the
// pages that differ. Reading both costs less than writing all of dst: a copy also reads
// every destination line before overwriting it, and writes it back. A page zero in src
// (zero[i], about 40% of a Go module's memory after initialisation) is checked against
// a zero page that stays in cache, so only dst is read from memory. zero may be nil.
func copyChanged(dst, src []byte, zero []bool) {
	for i, lo := 0, 0; lo < len(src); i, lo = i+1, lo+snapPage {
		hi := min(lo+snapPage, len(src))
		want := src[lo:hi]
		if zero != nil && zero[i] {
			want = zeroPage[:hi-lo]
		}
		if !bytes.Equal(dst[lo:hi], want) {
			copy(dst[lo:hi], want)
		}
	}
}

// snapPage is the unit copyChanged compares: the OS page, so a small write costs one
// small copy.
const snapPage = 4096

var zeroPage [snapPage]byte

// zeroPages reports which snapPage-sized pages of mem are all zero.
func zeroPages(mem []byte) []bool {
	zero := make([]bool, (len(mem)+snapPage-1)/snapPage)
	for i := range zero {
		lo := i * snapPage
		hi := min(lo+snapPage, len(mem))
		zero[i] = bytes.Equal(mem[lo:hi], zeroPage[:hi-lo])
	}
	return zero
}
