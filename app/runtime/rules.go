package runtime

import (
	"fmt"

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

// rules are the metering rules every module is compiled with: profile 1's, until modules
// are compiled per profile.
var rules = meterRules(mustProfile(1))

func mustProfile(id uint32) profile.Profile {
	p, err := profile.Get(id)
	if err != nil {
		panic(fmt.Sprintf("runtime: %v", err))
	}
	return p
}
