package meter

import (
	"fmt"
	"math"
	"math/bits"
)

// Rules are the consensus parameters of the rewrite: instruction prices,
// the call depth limit, the memory cap and NaN canonicalisation. The chain
// takes them from its execution profile (app/profile); the meter does not
// import that package, so it stays a leaf that knows nothing of profiles.
// Every node must instrument a module with the same Rules to agree on gas.
type Rules struct {
	// Default is charged for every original instruction not priced below,
	// block, end and the branch instructions included.
	Default uint32
	// Call is charged for call, call_indirect, return_call and
	// return_call_indirect.
	Call uint32
	// Bulk is the fixed part of memory.init, memory.copy and memory.fill:
	// instructions whose engine implementation does much more than one
	// machine operation. They also pay for their length (BulkBytesPerGas).
	Bulk uint32
	// MemoryGrow and RefFunc price memory.grow and ref.func, which wazero's
	// compiler leaves to Go code (about 25 ns and 110-140 ns,
	// BenchmarkSlowOps).
	MemoryGrow uint32
	RefFunc    uint32
	// BulkBytesPerGas: memory.copy, memory.fill and memory.init pay one gas
	// per started BulkBytesPerGas bytes on top of Bulk. A power of two: the
	// injected helper divides with a shift.
	BulkBytesPerGas uint32
	// MaxCallDepth bounds the wasm frames one call from the host may have
	// in progress (see depth.go for exactly what is counted). At least 1
	// and below 2^31.
	MaxCallDepth uint32
	// MemoryLimitPages caps the module's linear memory, in 64 KiB pages: the
	// memory's declared maximum is lowered to it (or set to it when absent),
	// and a module whose memory starts larger is refused. 1 to 65536.
	MemoryLimitPages uint32
	// CanonicalNaN makes every float instruction whose result may be a NaN
	// with machine-dependent bits produce the canonical quiet NaN instead
	// (see nan.go).
	CanonicalNaN bool
}

// maxMemoryPages is the most pages a 32-bit memory can have (4 GiB).
const maxMemoryPages = 1 << 16

// validate checks that the rules can be compiled into a module.
func (r Rules) validate() error {
	switch {
	case r.Default == 0:
		// With free ordinary instructions a loop would run without paying.
		return fmt.Errorf("meter: rules: Default must be at least 1")
	case r.BulkBytesPerGas == 0 || bits.OnesCount32(r.BulkBytesPerGas) != 1:
		return fmt.Errorf("meter: rules: BulkBytesPerGas %d is not a power of two", r.BulkBytesPerGas)
	case r.MaxCallDepth == 0 || r.MaxCallDepth > math.MaxInt32:
		return fmt.Errorf("meter: rules: MaxCallDepth %d is not in 1..%d", r.MaxCallDepth, math.MaxInt32)
	case r.MemoryLimitPages == 0 || r.MemoryLimitPages > maxMemoryPages:
		return fmt.Errorf("meter: rules: MemoryLimitPages %d is not in 1..%d", r.MemoryLimitPages, maxMemoryPages)
	}
	return nil
}
