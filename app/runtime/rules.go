package runtime

import (
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/runtime/internal/meter"
)

// meterRules returns the metering rules of execution profile p: the part of the profile
// the module rewrite applies (instruction prices, call depth, memory cap, NaN
// canonicalisation). Host prices and gas bounds stay with the host.
func meterRules(p profile.Profile) meter.Rules {
	i := p.Instructions
	return meter.Rules{
		Default:          i.Default,
		Call:             i.Call,
		Bulk:             i.Bulk,
		MemoryGrow:       i.MemoryGrow,
		RefFunc:          i.RefFunc,
		BulkBytesPerGas:  i.BulkBytesPerGas,
		MaxCallDepth:     p.MaxCallDepth,
		MemoryLimitPages: p.MemoryLimitPages,
		CanonicalNaN:     p.CanonicalNaN,
	}
}
