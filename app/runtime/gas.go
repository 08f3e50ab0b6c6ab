package runtime

// The gas schedule of host calls. Instructions are charged by the injected meter
// (app/runtime/internal/meter): 1 per instruction, 10 per call, 60 per memory.grow, 300
// per ref.func, and bulk instructions 10 plus their length: memory.copy, memory.fill and
// memory.init 1 per started 8 bytes (meter.BulkBytesPerGas), table.copy, table.init and
// table.fill 1 per element (meter.TableElementsPerGas). Those prices keep every
// instruction at or under the time per gas of the cheapest ordinary loop (~0.45 ns), so
// a gas limit bounds a transaction's time. Host calls charge a base cost plus a cost per
// byte they move, so that storage work is paid for in proportion to its size.
const (
	GasStateGetBase    = 100
	GasStateGetByte    = 1
	GasStateSetBase    = 200
	GasStateSetByte    = 10
	GasStateDeleteBase = 100
	GasEmitEventBase   = 100
	GasEmitEventByte   = 2
	GasCallerBase      = 20
	GasBlockHeightBase = 10
	// GasInitialize is the budget of a fresh instance's _initialize (the Go runtime's own
	// start-up, about 1.5 million for the modules in contracts/). It is not charged to any
	// transaction; it bounds a module whose initialisation never ends, which Install
	// refuses, to a fraction of a second.
	GasInitialize = 1 << 28
)
