package runtime

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/contracts/abi/migration"
)

// hostSignatures are the host functions a module may import, with their wasm signatures.
var hostSignatures = map[string][2][]api.ValueType{
	abi.ImportStateGet:        {{i32, i32, i32, i32}, {i32}},
	abi.ImportStateSet:        {{i32, i32, i32, i32}, nil},
	abi.ImportStateDelete:     {{i32, i32}, nil},
	abi.ImportEmitEvent:       {{i32, i32}, nil},
	abi.ImportCaller:          {{i32, i32}, {i32}},
	abi.ImportBlockHeight:     {nil, {i64}},
	abi.ImportAbort:           {{i32, i32}, nil},
	migration.ImportStateNext: {{i32, i32, i32, i32}, {i32}},
}

type callKey struct{}

// call is the state of the one call in flight, reached by host functions through the
// context. Host functions stop a call by recording failure and panicking with it: wazero
// unwinds the guest and returns the panic as the call's error.
type call struct {
	env  Env // nil during the warm-up, which may not touch state
	gas  api.MutableGlobal
	host *profile.HostCosts
	in   *instance // nil during the warm-up, which runs before the snapshot

	events  []abi.Event
	failure *codes.Error
}

func (c *call) fail(e *codes.Error) {
	c.failure = e
	panic(e)
}

// charge takes n gas from the same counter the injected meter uses.
func (c *call) charge(n uint64) {
	left := int64(c.gas.Get()) - int64(n)
	c.gas.Set(uint64(left))
	if left < 0 {
		c.fail(codes.Errorf(codes.OutOfGas, "out of gas in host call"))
	}
}

func (c *call) read(mod api.Module, ptr, n uint32, limit int, what string) []byte {
	if int(n) > limit {
		c.fail(codes.Errorf(codes.ContractAbort, "%s is %d bytes, the limit is %d", what, n, limit))
	}
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		c.fail(codes.Errorf(codes.ContractTrap, "%s at %#x+%d is outside memory", what, ptr, n))
	}
	return b
}

func (c *call) write(mod api.Module, ptr uint32, b []byte, what string) {
	if !mod.Memory().Write(ptr, b) {
		c.fail(codes.Errorf(codes.ContractTrap, "%s buffer at %#x+%d is outside memory", what, ptr, len(b)))
	}
}

func current(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	if c == nil {
		panic("vchain host function called outside an execution")
	}
	if c.env == nil {
		// The warm-up runs once per module, before the snapshot, with no transaction:
		// what it read or wrote would leak into every call.
		c.fail(codes.Errorf(codes.ContractTrap, "host function called during %s: the warm-up may not use the chain", ExportWarmup))
	}
	if nc, ok := c.env.(noChainEnv); ok {
		c.fail(codes.Errorf(codes.ContractTrap, "host function called during %s: it may not use the chain", nc.what))
	}
	return c
}

func u32(v uint64) uint32 { return api.DecodeU32(v) }

// instantiateHost registers the host module. Functions are api.GoModuleFunc: the
// reflection-based form costs several times more per call.
func instantiateHost(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	def := func(name string, fn api.GoModuleFunc) {
		sig := hostSignatures[name]
		b.NewFunctionBuilder().WithGoModuleFunction(fn, sig[0], sig[1]).Export(name)
	}
	def(abi.ImportStateGet, func(ctx context.Context, mod api.Module, s []uint64) {
		c := current(ctx)
		c.charge(c.host.StateGetBase)
		key := c.read(mod, u32(s[0]), u32(s[1]), abi.MaxKeyLen, "key")
		v, err := c.env.Get(key)
		if err != nil {
			panic(&nodeError{fmt.Errorf("state read: %w", err)}) // the store's failure, not the contract's
		}
		c.charge(c.host.StateGetByte * uint64(len(key)+len(v)))
		if v == nil {
			s[0] = api.EncodeI32(-1)
			return
		}
		if uint32(len(v)) <= u32(s[3]) {
			c.write(mod, u32(s[2]), v, "value")
		}
		s[0] = api.EncodeI32(int32(len(v)))
	})
	def(abi.ImportStateSet, func(ctx context.Context, mod api.Module, s []uint64) {
		c := current(ctx)
		c.charge(c.host.StateSetBase)
		key := c.read(mod, u32(s[0]), u32(s[1]), abi.MaxKeyLen, "key")
		val := c.read(mod, u32(s[2]), u32(s[3]), abi.MaxValueLen, "value")
		c.charge(c.host.StateSetByte * uint64(len(key)+len(val)))
		if len(key) == 0 {
			c.fail(codes.Errorf(codes.ContractAbort, "empty key"))
		}
		c.env.Set(key, val)
	})
	def(abi.ImportStateDelete, func(ctx context.Context, mod api.Module, s []uint64) {
		c := current(ctx)
		c.charge(c.host.StateDeleteBase)
		key := c.read(mod, u32(s[0]), u32(s[1]), abi.MaxKeyLen, "key")
		c.env.Delete(key)
	})
	def(abi.ImportEmitEvent, func(ctx context.Context, mod api.Module, s []uint64) {
		c := current(ctx)
		c.charge(c.host.EmitEventBase)
		raw := c.read(mod, u32(s[0]), u32(s[1]), abi.MaxEventLen, "event")
		c.charge(c.host.EmitEventByte * uint64(len(raw)))
		if len(c.events) >= abi.MaxEventsPerTx {
			c.fail(codes.Errorf(codes.ContractAbort, "more than %d events", abi.MaxEventsPerTx))
		}
		ev, err := abi.DecodeEvent(raw)
		if err != nil || ev.Type == "" {
			c.fail(codes.Errorf(codes.ContractAbort, "malformed event (%v)", err))
		}
		c.events = append(c.events, ev)
	})
	def(abi.ImportCaller, func(ctx context.Context, mod api.Module, s []uint64) {
		c := current(ctx)
		c.charge(c.host.CallerBase)
		addr := []byte(c.env.Caller())
		if uint32(len(addr)) <= u32(s[1]) {
			c.write(mod, u32(s[0]), addr, "caller")
		}
		s[0] = api.EncodeI32(int32(len(addr)))
	})
	def(abi.ImportBlockHeight, func(ctx context.Context, mod api.Module, s []uint64) {
		c := current(ctx)
		c.charge(c.host.BlockHeightBase)
		s[0] = api.EncodeI64(c.env.Height())
	})
	def(abi.ImportAbort, func(ctx context.Context, mod api.Module, s []uint64) {
		c := current(ctx)
		n := min(u32(s[1]), abi.MaxAbortLen)
		msg, ok := mod.Memory().Read(u32(s[0]), n)
		if !ok {
			msg = []byte("abort with an invalid message pointer")
		}
		c.fail(codes.Errorf(codes.ContractAbort, "%s", msg))
	})
	def(migration.ImportStateNext, func(ctx context.Context, mod api.Module, s []uint64) {
		c := current(ctx)
		c.charge(c.host.StateGetBase) // a read of the key order: priced as a read
		key := c.read(mod, u32(s[0]), u32(s[1]), abi.MaxKeyLen, "key")
		ke, ok := c.env.(KeyEnv)
		if !ok {
			c.fail(codes.Errorf(codes.ContractAbort, "%s is available only to a migration", migration.ImportStateNext))
		}
		next, found, err := ke.Next(key)
		if err != nil {
			panic(&nodeError{fmt.Errorf("state key order: %w", err)})
		}
		c.charge(c.host.StateGetByte * uint64(len(key)+len(next)))
		if !found {
			s[0] = api.EncodeI32(-1)
			return
		}
		if uint32(len(next)) <= u32(s[3]) {
			c.write(mod, u32(s[2]), next, "key")
		}
		s[0] = api.EncodeI32(int32(len(next)))
	})
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("instantiate host module: %w", err)
	}
	return nil
}
