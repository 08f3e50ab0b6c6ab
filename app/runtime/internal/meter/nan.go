package meter

import (
	"fmt"
	"math"
)

// NaN canonicalisation. The WebAssembly spec leaves the bits of a NaN that
// an arithmetic instruction produces partly open: any "arithmetic NaN" (the
// quiet bit set, any sign and payload) when an operand is a NaN that is not
// canonical, and for 0/0, sqrt(-1) and the like also any sign. Engines
// return what the machine's float unit returns: on x86-64, 0/0 gives the
// NaN with the sign bit set (0xfff8000000000000 for f64), on arm64 the
// positive one, and payloads propagate differently. A contract that
// reinterprets, stores or hashes such a value would make nodes on different
// machines disagree.
//
// With Rules.CanonicalNaN the pass therefore follows each instruction whose
// result may be such a NaN with
//
//	local.tee $t; fN.const canonical; local.get $t; local.get $t; fN.eq; select
//
// which keeps the value unless it is a NaN (the only value not equal to
// itself) and replaces a NaN by the canonical quiet NaN: f32 0x7fc00000,
// f64 0x7ff8000000000000. $t is a scratch local the pass adds to the
// function, one f32 and one f64 at most, and only for the types the
// function needs. Those instructions are add, sub, mul, div, sqrt, min,
// max, ceil, floor, trunc and nearest of f32 and f64, f32.demote_f64 and
// f64.promote_f32. The others are bit-exact by the spec and left alone:
// neg, abs and copysign only touch the sign bit, loads, stores, const,
// reinterpret, local, global and select move bits unchanged, and the
// integer conversions never produce a NaN. So every NaN a module can
// observe is either canonical or one it built itself from bits.
//
// The injected code is not charged: the instruction it follows pays for it.
// It leaves the operand stack as it was (one value of the same type), so
// branch depths and the segments' costs are unchanged.
//
// Cost: contracts/v1 (Go's wasip1 output, 3.4 MB) gets 128 fixes (120 f64,
// 8 f32), 2.2 KB on 5.1 MB of instrumented code, mostly in strconv and the
// runtime. BenchmarkCall (kv.set, no float on its path) shows no change: on
// a loaded 2-core machine, CPU time of 100,000 calls (/usr/bin/time, ten
// interleaved runs each) had a median of 3.29 s before and 3.38 s after,
// minimum 2.69 s and 2.67 s, within the run-to-run spread (2.7-4.6 s).
//
// The added locals come after the function's own, so no local index moves.
// The maxLocals screen applies to the input's declarations; the output may
// have two more, far below the engine's own limit (2^32).

// Value types of the results the pass canonicalises.
const (
	valF32 = 0x7d
	valF64 = 0x7c
)

// nanResult returns the result type (valF32 or valF64) of a numeric opcode
// whose result may be a NaN with machine-dependent bits, or 0.
func nanResult(op byte) byte {
	switch {
	case op >= 0x8d && op <= 0x97, // f32 ceil floor trunc nearest sqrt add sub mul div min max
		op == 0xb6: // f32.demote_f64
		return valF32
	case op >= 0x9b && op <= 0xa5, // f64 ceil floor trunc nearest sqrt add sub mul div min max
		op == 0xbb: // f64.promote_f32
		return valF64
	}
	return 0
}

// Canonical quiet NaNs, as the pass encodes them in its constants.
const (
	canonicalNaN32 = 0x7fc00000
	canonicalNaN64 = 0x7ff8000000000000
)

// nanMask records which scratch locals a function needs.
type nanMask uint8

const (
	needF32 nanMask = 1 << iota
	needF64
)

func maskOf(t byte) nanMask {
	switch t {
	case valF32:
		return needF32
	case valF64:
		return needF64
	}
	return 0
}

// nanLocals are the scratch locals of one function: the declarations to
// append and the code that follows each f32 and f64 instruction.
type nanLocals struct {
	decls []byte // (1 f32) and/or (1 f64), encoded
	count uint32 // declaration entries in decls
	fix32 []byte
	fix64 []byte
}

// newNanLocals builds the scratch locals for a function with params
// parameters and locals declared locals that needs those in mask.
func newNanLocals(mask nanMask, params uint32, locals uint64) (*nanLocals, error) {
	if mask == 0 {
		return nil, nil
	}
	first := uint64(params) + locals
	if first+2 > math.MaxUint32 {
		return nil, fmt.Errorf("too many locals to add NaN scratch locals")
	}
	l := &nanLocals{}
	idx := uint32(first)
	if mask&needF32 != 0 {
		l.decls = append(l.decls, 0x01, valF32)
		l.count++
		l.fix32 = nanFix(valF32, idx)
		idx++
	}
	if mask&needF64 != 0 {
		l.decls = append(l.decls, 0x01, valF64)
		l.count++
		l.fix64 = nanFix(valF64, idx)
	}
	return l, nil
}

// nanFix returns the code that canonicalises a NaN of type t on top of the
// stack, using scratch local idx.
func nanFix(t byte, idx uint32) []byte {
	b := appendU32([]byte{0x22}, idx) // local.tee
	eq := byte(0x5b)                  // f32.eq
	if t == valF32 {
		b = append(b, 0x43, 0x00, 0x00, 0xc0, 0x7f) // f32.const 0x7fc00000 (little-endian)
	} else {
		b = append(b, 0x44, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f) // f64.const 0x7ff8000000000000
		eq = 0x61                                         // f64.eq
	}
	b = append(b, 0x20)
	b = appendU32(b, idx) // local.get
	b = append(b, 0x20)
	b = appendU32(b, idx)      // local.get
	return append(b, eq, 0x1b) // fN.eq, select
}

// fix returns the code to put after an instruction with result type t.
func (l *nanLocals) fix(t byte) []byte {
	if t == valF32 {
		return l.fix32
	}
	return l.fix64
}
