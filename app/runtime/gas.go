package runtime

// The gas schedule of host calls. Instructions are charged by the injected meter
// (app/runtime/internal/meter); host calls charge a base cost plus a cost per byte they
// move, so that storage work is paid for in proportion to its size.
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
