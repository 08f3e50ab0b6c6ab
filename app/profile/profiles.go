package profile

// The profiles this binary ships. Never edit one: add the next.
func init() {
	register(profile1())
}

// profile1 is the rules of the first release. Instruction prices keep every instruction at
// or under the time per gas of the cheapest ordinary loop (~0.45 ns, see
// app/runtime/internal/meter); host calls pay a base cost plus a cost per byte moved, so
// storage work is paid in proportion to its size.
func profile1() Profile {
	return Profile{
		ID: 1,
		Instructions: InstructionCosts{
			Default:         1,
			Call:            10,
			Bulk:            10,
			MemoryGrow:      60,
			RefFunc:         300,
			BulkBytesPerGas: 8,
		},
		Host: HostCosts{
			StateGetBase:    100,
			StateGetByte:    1,
			StateSetBase:    200,
			StateSetByte:    10,
			StateDeleteBase: 100,
			EmitEventBase:   100,
			EmitEventByte:   2,
			CallerBase:      20,
			BlockHeightBase: 10,
		},
		MemoryLimitPages: 1024, // 64 MiB
		MaxCallDepth:     1000,
		InitGas:          1 << 28,    // Go's runtime start-up takes about 1.5 million
		MinTxGas:         25_000,     // the reset after a call (BenchmarkRestore, in BENCHMARKS.md)
		GrowGas:          10_000_000, // replacing an instance (BenchmarkReplaceInstance: ~4.4 ms)
		CanonicalNaN:     true,
	}
}
