package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/runtime/internal/meter"
	"github.com/vchain/vchain/contracts/abi"
)

// Module is one installed, metered and compiled runtime version.
type Module struct {
	Version uint64
	SHA256  Hash

	rt       wazero.Runtime
	compiled wazero.CompiledModule
}

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

// Session executes the calls of one block on one fresh instance of a module. The instance
// is created on the first call and replaced after any failed call, so a trap never leaves
// a broken Go runtime behind for the next transaction. A Session is not safe for
// concurrent use.
type Session struct {
	mod    *Module
	inst   api.Module
	gas    api.MutableGlobal
	depth  api.Global
	alloc  api.Function
	exec   api.Function
	stderr limitedBuffer
}

// NewSession returns a session on m. Close it when the block is done.
func (m *Module) NewSession() *Session { return &Session{mod: m} }

// Close releases the session's instance.
func (s *Session) Close(ctx context.Context) {
	if s.inst != nil {
		s.inst.Close(ctx)
		s.inst = nil
	}
}

func (s *Session) instantiate(ctx context.Context) error {
	s.stderr.Reset()
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: many instances of one module may coexist
		WithStartFunctions().
		WithStderr(&s.stderr)
	inst, err := s.mod.rt.InstantiateModule(ctx, s.mod.compiled, cfg)
	if err != nil {
		return fmt.Errorf("instantiate runtime v%d: %w", s.mod.Version, err)
	}
	gas, ok := inst.ExportedGlobal(meter.GasGlobalExport).(api.MutableGlobal)
	if !ok {
		inst.Close(ctx)
		return fmt.Errorf("runtime v%d: gas global missing after metering", s.mod.Version)
	}
	depth := inst.ExportedGlobal(meter.DepthGlobalExport)
	if depth == nil {
		inst.Close(ctx)
		return fmt.Errorf("runtime v%d: depth global missing after metering", s.mod.Version)
	}
	gas.Set(GasInitialize)
	if _, err := inst.ExportedFunction(abi.ExportInitialize).Call(ctx); err != nil {
		inst.Close(ctx)
		if int64(gas.Get()) < 0 {
			return fmt.Errorf("initialize runtime v%d: used up its gas budget of %d without finishing", s.mod.Version, uint64(GasInitialize))
		}
		if depthExceeded(depth) {
			return fmt.Errorf("initialize runtime v%d: call depth exceeded %d", s.mod.Version, rules.MaxCallDepth)
		}
		return fmt.Errorf("initialize runtime v%d: %s", s.mod.Version, s.describe(err))
	}
	s.inst, s.gas, s.depth = inst, gas, depth
	s.alloc = inst.ExportedFunction(abi.ExportAlloc)
	s.exec = inst.ExportedFunction(abi.ExportExecute)
	return nil
}

// trial instantiates m once and initialises it, as the first call of a block does.
func (m *Module) trial(ctx context.Context) error {
	s := m.NewSession()
	defer s.Close(ctx)
	return s.instantiate(ctx)
}

// Execute runs req with at most gasLimit gas. Contract failures are reported in the
// Result; the error is reserved for node failures (the store could not be read), after
// which the block cannot be executed deterministically.
func (s *Session) Execute(ctx context.Context, env Env, req abi.Request, gasLimit uint64) (Result, error) {
	if len(req.Args) > abi.MaxArgsLen {
		return Result{Err: codes.Errorf(codes.ContractAbort, "arguments are %d bytes, the limit is %d", len(req.Args), abi.MaxArgsLen)}, nil
	}
	if s.inst == nil {
		if err := s.instantiate(ctx); err != nil {
			return Result{Err: codes.Errorf(codes.ContractTrap, "%v", err)}, nil
		}
	}
	c := &call{env: env, gas: s.gas}
	ctx = context.WithValue(ctx, callKey{}, c)
	s.gas.Set(gasLimit)
	data, err := s.run(ctx, abi.EncodeRequest(req))

	left := int64(s.gas.Get())
	deep := depthExceeded(s.depth)
	res := Result{GasUsed: gasLimit, Events: c.events}
	if left >= 0 {
		res.GasUsed = gasLimit - uint64(left)
	}
	if err != nil {
		s.Close(ctx) // the guest stopped mid-way: its Go runtime cannot be trusted again
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
			// The metering's own depth check (rules.MaxCallDepth) trapped: the same call
			// traps at the same frame with the same gas on every machine.
			res.Err = codes.Errorf(codes.ContractTrap, "call depth exceeded %d", rules.MaxCallDepth)
		case isStackOverflow(err):
			// Defence in depth only: the injected depth limit traps first unless frames
			// are very large (over about 60 KB each on amd64, see meter/depth.go), and
			// the depth at which wazero's own stack overflows depends on the machine's frame
			// sizes: a node on another architecture may run the same recursion until its gas
			// is gone instead. Reporting both the same way, as out of gas with the whole
			// limit used, keeps that case deterministic.
			res.Err = codes.Errorf(codes.OutOfGas, "out of gas: call stack exhausted (limit %d)", gasLimit)
		default:
			res.Err = codes.Errorf(codes.ContractTrap, "%s", s.describe(err))
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

// depthExceeded reports that the instance trapped on the injected call depth check: only
// that check leaves the depth global above the limit (see meter.DepthGlobalExport).
func depthExceeded(depth api.Global) bool {
	return uint32(depth.Get()) > rules.MaxCallDepth
}

// isStackOverflow reports wazero's call stack overflow trap.
func isStackOverflow(err error) bool {
	return strings.Contains(firstLine(err.Error()), "stack overflow")
}

// nodeError marks a failure of the node itself inside a host call.
type nodeError struct{ err error }

func (e *nodeError) Error() string { return e.err.Error() }

func (s *Session) run(ctx context.Context, req []byte) (out []byte, err error) {
	r, err := s.alloc.Call(ctx, uint64(len(req)))
	if err != nil {
		return nil, unwrapNodeError(err)
	}
	ptr := api.DecodeU32(r[0])
	if !s.inst.Memory().Write(ptr, req) {
		return nil, fmt.Errorf("allocator returned %#x+%d outside memory", ptr, len(req))
	}
	r, err = s.exec.Call(ctx, uint64(ptr), uint64(len(req)))
	if err != nil {
		return nil, unwrapNodeError(err)
	}
	rp, rn := abi.UnpackPtrLen(r[0])
	if rn > abi.MaxResultLen+1 {
		return nil, fmt.Errorf("result is %d bytes, the limit is %d", rn, abi.MaxResultLen)
	}
	b, ok := s.inst.Memory().Read(rp, rn)
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
func (s *Session) describe(err error) string {
	msg := firstLine(err.Error())
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		msg = fmt.Sprintf("module exited with code %d", exit.ExitCode())
	}
	if out := firstLine(s.stderr.String()); out != "" {
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
