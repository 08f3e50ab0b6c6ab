package meter

import (
	"fmt"
	"math"
)

// Bulk instructions. memory.copy, memory.fill and memory.init write as many
// bytes as their last operand says: up to the whole 64 MiB memory for one
// instruction. (table.copy, table.init and table.fill, which would need the
// same treatment per element, are refused: see errInstanceState.) A flat
// charge would let
// a module loop over 64 MiB fills at 10 gas each (measured: 100,000 gas took
// 26 s), so these instructions also pay for their length.
//
// Each of them takes its length as an i32 on top of the operand stack, so
// the pass puts a call to a helper right before each:
//
//	(func $charge (param $n i32) (result i32)
//	  global.set G (global.get G - price(n))
//	  if global.get G < 0 then unreachable
//	  local.get $n)
//
// The helper takes the length from the stack, subtracts its price from the
// gas global, traps like every other charge when the gas goes negative, and
// gives the length back unchanged, so the original instruction then runs as
// it was written. Running out of gas therefore stops the module before the
// bulk instruction does any work. The base cost of the instruction itself
// (Rules.Bulk) is still charged with its segment. The length price is
// Rules.BulkBytesPerGas.
//
// The helper is appended after the module's own functions (and its type
// after its own types), so no existing function or type index moves. It is
// added only to modules whose code contains a bulk instruction; other
// modules come out exactly as before. The injected calls and the helper's
// body are not charged themselves: the helper's charge is the price.
//
// Cost of the call sites: with wazero v1.12.0's compiler, fault.spin's loop
// (testmod), which runs no bulk instruction but shares its function with a
// few, runs about 25% slower (BenchmarkMeteringOverhead/metered: 167 ->
// 210 us); replacing the calls with nop removes the difference. An inline
// charge (the length saved in an added local, priced and subtracted in
// place) was tried and is as slow, while a constant inline charge is not:
// the compiler generates worse code for a function where a length-derived
// value reaches the gas global. The contract benchmarks (BenchmarkCall,
// BenchmarkCallTransfer, BenchmarkSpin) do not move.

// bulkKind says which helper, if any, an instruction needs.
type bulkKind uint8

const (
	bulkNone  bulkKind = iota
	bulkBytes          // memory.copy, memory.fill, memory.init
	// bulkHelpers is how many helper functions the pass appends.
	bulkHelpers = int(bulkBytes)
)

// unitsPerGas returns the number of bytes one gas pays for under r. It is a
// power of two (Rules.validate): the helper divides with a shift.
func (k bulkKind) unitsPerGas(r Rules) uint64 {
	return uint64(r.BulkBytesPerGas)
}

// bulkPrice is the gas a bulk instruction of kind k pays for n units on top
// of Rules.Bulk: ceil(n / unitsPerGas). It is what the helper computes, kept
// here for the tests and the documentation.
func bulkPrice(r Rules, k bulkKind, n uint32) int64 {
	u := k.unitsPerGas(r)
	return int64((uint64(n) + u - 1) / u)
}

// helperType is the function type of every helper: (i32) -> (i32).
var helperType = []byte{0x60, 0x01, 0x7f, 0x01, 0x7f}

// helperBody returns the size-prefixed body of the helper for kind k under
// r, with the gas global at index gas.
func helperBody(k bulkKind, gas uint32, r Rules) []byte {
	u := k.unitsPerGas(r)
	shift := int64(0)
	for 1<<shift < u {
		shift++
	}
	b := []byte{0x00} // no locals
	b = append(b, 0x23)
	b = appendU32(b, gas)     // global.get G
	b = append(b, 0x20, 0x00, // local.get 0
		0xad, // i64.extend_i32_u
	)
	if shift > 0 {
		b = append(b, 0x42)
		b = appendS64(b, int64(u-1)) // i64.const u-1
		b = append(b, 0x7c, 0x42)    // i64.add, i64.const
		b = appendS64(b, shift)
		b = append(b, 0x88) // i64.shr_u
	}
	b = append(b, 0x7d, 0x24) // i64.sub, global.set G
	b = appendU32(b, gas)
	b = append(b, 0x23) // global.get G
	b = appendU32(b, gas)
	b = append(b,
		0x42, 0x00, // i64.const 0
		0x53,       // i64.lt_s
		0x04, 0x40, // if (empty)
		0x00,       // unreachable
		0x0b,       // end
		0x20, 0x00, // local.get 0
		0x0b, // end
	)
	return append(appendU32(nil, uint32(len(b))), b...)
}

// helperBase is the function index of the first helper: right after every
// imported and defined function.
func (m *module) helperBase() (uint32, error) {
	n := uint64(m.importedFuncs) + uint64(m.definedFuncs)
	if n+uint64(bulkHelpers) > math.MaxUint32 {
		return 0, fmt.Errorf("meter: too many functions to add the bulk instruction helpers")
	}
	return uint32(n), nil
}

// appendVector rewrites a vector section's payload old with extra entries
// appended: the count is raised by added and the entries follow the old
// ones.
func appendVector(old []byte, added uint32, entries []byte) ([]byte, error) {
	n, p, err := readU32(old, 0)
	if err != nil {
		return nil, err // validated by parseModule; kept for safety
	}
	if uint64(n)+uint64(added) > math.MaxUint32 {
		return nil, fmt.Errorf("too many entries")
	}
	out := make([]byte, 0, len(old)+len(entries)+5)
	out = appendU32(out, n+added)
	out = append(out, old[p:]...)
	return append(out, entries...), nil
}

// helperSections returns the type and function section payloads with the
// helpers' type, then the wrapper block types (see rewriter.wrapper),
// appended to the types, and, when bulk, the helpers' declarations
// appended to the functions (funcs is nil otherwise).
func helperSections(m *module, bulk bool, blockTypes [][]byte) (types, funcs []byte, err error) {
	if m.typeIdx < 0 || m.funcIdx < 0 {
		// Both live in function bodies, and a module with bodies has both
		// sections; parseModule checked the type indices.
		return nil, nil, fmt.Errorf("meter: function bodies in a module without type or function section")
	}
	added := cat(helperType)
	for _, t := range blockTypes {
		added = append(added, t...)
	}
	if types, err = appendVector(m.sections[m.typeIdx].payload, 1+uint32(len(blockTypes)), added); err != nil {
		return nil, nil, fmt.Errorf("meter: type section: %w", err)
	}
	if !bulk {
		return types, nil, nil
	}
	var decl []byte
	for i := 0; i < bulkHelpers; i++ {
		decl = appendU32(decl, m.types) // the helper type's index
	}
	if funcs, err = appendVector(m.sections[m.funcIdx].payload, uint32(bulkHelpers), decl); err != nil {
		return nil, nil, fmt.Errorf("meter: function section: %w", err)
	}
	return types, funcs, nil
}

// cat concatenates byte slices into a new one.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
