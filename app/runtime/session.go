package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/contracts/abi"
)

// Module is one installed, metered and compiled runtime version under one execution
// profile.
type Module struct {
	Version uint64
	SHA256  Hash
	Profile profile.Profile

	rt       wazero.Runtime
	compiled wazero.CompiledModule
	globals  []string // the metered module's exports of its mutable globals

	mu   sync.Mutex
	snap *snapshot
	// initErr is the module's own failure to initialise (a trap, its budget used up): it
	// is deterministic, so every call reports it, on every node.
	initErr *codes.Error
	// idle holds instances of closed sessions for the next one: every call restores the
	// snapshot first, so an instance carries nothing from one session to the next.
	idle []*instance

	stats *instanceStats // its manager's; nil for a module made without one
}

// maxIdle bounds the instances a module keeps between sessions: one per concurrent user
// (the block, a simulation, a CheckTx-side query) is plenty.
const maxIdle = 4

// Env is what a call may see of the chain: its contract's state (already namespaced by the
// caller of Execute), the sender and the height.
type Env interface {
	// Get returns nil, nil for an absent key. An error is a node failure, not the contract's.
	Get(key []byte) ([]byte, error)
	Set(key, value []byte)
	Delete(key []byte)
	Caller() string
	Height() int64
}

// Result is the outcome of one call. Err is nil on success; on failure the caller must
// discard every write the call made through its Env.
type Result struct {
	Data    []byte
	Events  []abi.Event
	GasUsed uint64
	Err     *codes.Error
}

// Session executes the calls of one block. Every call starts from the module's snapshot
// (memory and globals after _initialize and the warm-up), so a call's result and gas do
// not depend on what ran before it: not on its position in the block, nor on a trap or a
// large allocation by the previous call. A Session is not safe for concurrent use.
type Session struct {
	mod *Module
	in  *instance
}

// NewSession returns a session on m. Close it when the block is done.
func (m *Module) NewSession() *Session { return &Session{mod: m} }

// Close hands the session's instance back to its module for the next session.
func (s *Session) Close(ctx context.Context) {
	if s.in == nil {
		return
	}
	s.mod.mu.Lock()
	if len(s.mod.idle) < maxIdle {
		s.mod.idle = append(s.mod.idle, s.in)
		s.in = nil
	}
	s.mod.mu.Unlock()
	if s.in != nil {
		s.in.close(ctx)
		s.in = nil
	}
}

// snapshot returns the state every call starts from, taking it on first use: a new
// instance is initialised and warmed up and its state recorded; that instance, now in
// the snapshot's state, is returned to the caller too (nil when the snapshot existed).
func (m *Module) snapshot(ctx context.Context) (*snapshot, *instance, *codes.Error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snap != nil || m.initErr != nil {
		return m.snap, nil, m.initErr, nil
	}
	in, err := m.newInstance(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := m.initialise(ctx, in); err != nil {
		in.close(ctx)
		var cerr *codes.Error
		if errors.As(err, &cerr) {
			m.initErr = cerr
			return nil, nil, cerr, nil
		}
		return nil, nil, nil, err
	}
	m.snap = in.take()
	return m.snap, in, nil, nil
}

// acquire returns an instance in the snapshot's state.
func (s *Session) acquire(ctx context.Context) (*instance, *codes.Error, error) {
	snap, fresh, initErr, err := s.mod.snapshot(ctx)
	if err != nil || initErr != nil {
		return nil, initErr, err
	}
	in := s.in
	s.in = nil
	if in == nil {
		in = fresh
	} else if fresh != nil {
		fresh.close(ctx)
	}
	if in == nil {
		s.mod.mu.Lock()
		if n := len(s.mod.idle); n > 0 {
			in = s.mod.idle[n-1]
			s.mod.idle = s.mod.idle[:n-1]
		}
		s.mod.mu.Unlock()
	}
	// An instance the guest closed (proc_exit) cannot run again, and one whose memory
	// grew cannot be restored (wasm memory never shrinks): both are replaced.
	dirty := in != nil && in.dirty
	if in != nil && !in.mod.IsClosed() && (!in.dirty || in.restore(snap)) {
		if dirty {
			s.mod.stats.reset()
		}
		return in, nil, nil
	}
	if in != nil {
		in.close(ctx)
	}
	if in, err = s.mod.newInstance(ctx); err != nil {
		return nil, nil, err
	}
	if !in.restore(snap) {
		in.close(ctx)
		return nil, nil, fmt.Errorf("runtime v%d: cannot grow a new instance's memory to the snapshot's %d bytes", s.mod.Version, len(snap.mem))
	}
	return in, nil, nil
}

// trial instantiates m once, initialises and warms it up, as the first call does.
func (m *Module) trial(ctx context.Context) error {
	_, in, initErr, err := m.snapshot(ctx)
	if err != nil {
		return err
	}
	if initErr != nil {
		return initErr
	}
	if in != nil {
		in.close(ctx)
	}
	return nil
}

// Execute runs req with at most gasLimit gas. Contract failures are reported in the
// Result; the error is reserved for node failures (the store could not be read, an
// instance could not be created), after which the block cannot be executed
// deterministically.
func (s *Session) Execute(ctx context.Context, env Env, req abi.Request, gasLimit uint64) (Result, error) {
	if len(req.Args) > abi.MaxArgsLen {
		return Result{Err: codes.Errorf(codes.ContractAbort, "arguments are %d bytes, the limit is %d", len(req.Args), abi.MaxArgsLen)}, nil
	}
	return s.callWith(ctx, env, gasLimit, func(ctx context.Context) ([]byte, error) {
		return s.run(ctx, s.in.exec, abi.EncodeRequest(req))
	})
}

// callWith runs one call of the guest, invoke, on an instance in the snapshot's state
// with at most gasLimit gas, under the rules of Execute: the minimum gas per call, the
// charge for a memory that grew, the classification of every failure.
func (s *Session) callWith(ctx context.Context, env Env, gasLimit uint64, invoke func(context.Context) ([]byte, error)) (Result, error) {
	p := &s.mod.Profile
	if gasLimit < p.MinTxGas {
		// The reset after a call costs the node the same whatever the call did: a limit
		// that cannot pay for it buys nothing.
		return Result{GasUsed: gasLimit, Err: codes.Errorf(codes.OutOfGas, "out of gas: limit %d is below the minimum of %d per call", gasLimit, p.MinTxGas)}, nil
	}
	res, err := s.execute(ctx, env, gasLimit, invoke)
	if err != nil {
		return res, err
	}
	if s.in != nil && s.mod.snap != nil && s.in.mem.Size() > uint32(len(s.mod.snap.mem)) {
		// The memory grew: the instance cannot be reset, only replaced (GrowGas).
		switch {
		case res.Err != nil:
			res.GasUsed = min(gasLimit, res.GasUsed+min(p.GrowGas, gasLimit))
		case p.GrowGas > gasLimit-res.GasUsed:
			res = Result{GasUsed: gasLimit, Err: codes.Errorf(codes.OutOfGas,
				"out of gas: the call grew the memory, which costs %d gas more (limit %d)", p.GrowGas, gasLimit)}
		default:
			res.GasUsed += p.GrowGas
		}
	}
	res.GasUsed = max(res.GasUsed, p.MinTxGas)
	return res, nil
}

func (s *Session) execute(ctx context.Context, env Env, gasLimit uint64, invoke func(context.Context) ([]byte, error)) (Result, error) {
	in, initErr, err := s.acquire(ctx)
	if err != nil {
		return Result{}, err
	}
	if initErr != nil {
		return Result{Err: initErr}, nil
	}
	s.in = in
	in.dirty = true
	p := &s.mod.Profile
	c := &call{env: env, gas: in.gas, host: &p.Host}
	ctx = context.WithValue(ctx, callKey{}, c)
	in.gas.Set(gasLimit)
	data, err := invoke(ctx)

	left := int64(in.gas.Get())
	deep := uint32(in.depth.Get()) > p.MaxCallDepth
	res := Result{GasUsed: gasLimit, Events: c.events}
	if left >= 0 {
		res.GasUsed = gasLimit - uint64(left)
	}
	if err != nil {
		res.Events = nil
		var nodeErr *nodeError
		switch {
		case errors.As(err, &nodeErr):
			return Result{}, nodeErr.err
		case c.failure != nil:
			res.Err = c.failure
		case left < 0:
			res.Err = codes.Errorf(codes.OutOfGas, "out of gas: limit %d", gasLimit)
		case deep:
			// The metering's own depth check trapped: the same call traps at the same
			// frame with the same gas on every machine.
			res.Err = codes.Errorf(codes.ContractTrap, "call depth exceeded %d", p.MaxCallDepth)
		case isStackOverflow(err):
			// Defence in depth only: the injected depth limit traps first unless frames
			// are very large (over about 60 KB each on amd64, see meter.MaxCallDepth), and
			// the depth at which wazero's own stack overflows depends on the machine's frame
			// sizes: a node on another architecture may run the same recursion until its gas
			// is gone instead. Reporting both the same way, as out of gas with the whole
			// limit used, keeps that case deterministic.
			res.Err = codes.Errorf(codes.OutOfGas, "out of gas: call stack exhausted (limit %d)", gasLimit)
		default:
			res.Err = codes.Errorf(codes.ContractTrap, "%s", describe(err, in.stderr))
		}
		if res.Err.Code == codes.OutOfGas {
			res.GasUsed = gasLimit
		}
		return res, nil
	}
	resp, derr := abi.DecodeResponse(data)
	switch {
	case derr != nil:
		res.Err = codes.Errorf(codes.RuntimeIncomplete, "%v", derr)
	case resp.Err != "":
		res.Err = codes.Errorf(codes.ContractError, "%s", resp.Err)
	default:
		res.Data = resp.Data
	}
	if res.Err != nil {
		res.Events = nil
	}
	return res, nil
}

// isStackOverflow reports wazero's call stack overflow trap.
func isStackOverflow(err error) bool {
	return strings.Contains(firstLine(err.Error()), "stack overflow")
}

// nodeError marks a failure of the node itself inside a host call.
type nodeError struct{ err error }

func (e *nodeError) Error() string { return e.err.Error() }

// run writes req into a buffer from the guest's allocator and calls fn(ptr, len), which
// returns the packed pointer and length of its answer.
func (s *Session) run(ctx context.Context, fn api.Function, req []byte) (out []byte, err error) {
	r, err := s.in.alloc.Call(ctx, uint64(len(req)))
	if err != nil {
		return nil, unwrapNodeError(err)
	}
	ptr := api.DecodeU32(r[0])
	if !s.in.mem.Write(ptr, req) {
		return nil, fmt.Errorf("allocator returned %#x+%d outside memory", ptr, len(req))
	}
	s.in.mark(ptr, uint32(len(req)))
	r, err = fn.Call(ctx, uint64(ptr), uint64(len(req)))
	if err != nil {
		return nil, unwrapNodeError(err)
	}
	return s.answer(r[0])
}

// answer reads the guest's answer at the packed pointer and length v.
func (s *Session) answer(v uint64) ([]byte, error) {
	rp, rn := abi.UnpackPtrLen(v)
	if rn > abi.MaxResultLen+1 {
		return nil, fmt.Errorf("result is %d bytes, the limit is %d", rn, abi.MaxResultLen)
	}
	b, ok := s.in.mem.Read(rp, rn)
	if !ok {
		return nil, fmt.Errorf("result at %#x+%d is outside memory", rp, rn)
	}
	return bytes.Clone(b), nil
}

func unwrapNodeError(err error) error {
	var ne *nodeError
	if errors.As(err, &ne) {
		return ne
	}
	return err
}

// describe turns a wazero error into a one-line, deterministic message: the first line of
// the error, plus the first line the guest wrote to stderr (a Go runtime's fatal error).
func describe(err error, stderr *limitedBuffer) string {
	msg := firstLine(err.Error())
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		msg = fmt.Sprintf("module exited with code %d", exit.ExitCode())
	}
	if out := firstLine(stderr.String()); out != "" {
		msg += ": " + out
	}
	return msg
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// limitedBuffer keeps the first 4 KiB written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
