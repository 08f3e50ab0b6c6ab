package meter

// A tiny assembler for hand-written test modules: no wat2wasm is available,
// so tests spell out the binary format with these helpers.

func u32(v uint32) []byte { return appendU32(nil, v) }

// vec encodes a vector: element count, then the elements.
func vec(items ...[]byte) []byte {
	return cat(u32(uint32(len(items))), cat(items...))
}

func name(s string) []byte { return cat(u32(uint32(len(s))), []byte(s)) }

func sec(id byte, payload []byte) []byte {
	return cat([]byte{id}, u32(uint32(len(payload))), payload)
}

func mod(sections ...[]byte) []byte {
	return cat(wasmHeader, cat(sections...))
}

// functype encodes (params) -> (results) with one byte per value type.
func functype(params, results []byte) []byte {
	return cat([]byte{0x60}, u32(uint32(len(params))), params, u32(uint32(len(results))), results)
}

// body encodes a size-prefixed function body with the given local
// declarations (already encoded, without their count) and code.
func body(locals [][]byte, code ...byte) []byte {
	b := cat(vec(locals...), code)
	return cat(u32(uint32(len(b))), b)
}

func export(n string, kind byte, idx uint32) []byte {
	return cat(name(n), []byte{kind}, u32(idx))
}

const (
	i32 = 0x7f
	i64 = 0x7e
)

// Opcodes used by the tests.
const (
	opUnreachable = 0x00
	opLoop        = 0x03
	opIf          = 0x04
	opElse        = 0x05
	opBrIf        = 0x0d
	opCall        = 0x10
	opDrop        = 0x1a
	opLocalGet    = 0x20
	opLocalSet    = 0x21
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opI32Const    = 0x41
	opI64Const    = 0x42
	opI32Add      = 0x6a
	opI32Sub      = 0x6b
	opI32Mul      = 0x6c
	opI32Eqz      = 0x45
	opI64Eqz      = 0x50
	opI64Add      = 0x7c
	opI64Sub      = 0x7d
	bt            = 0x40 // empty block type
)

// rules1 are profile 1's rules (app/profile), the ones the chain ships; the
// tests' expected gas figures are computed with them.
var rules1 = Rules{
	Default:          1,
	Call:             10,
	Bulk:             10,
	MemoryGrow:       60,
	RefFunc:          300,
	BulkBytesPerGas:  8,
	MaxCallDepth:     1000,
	MemoryLimitPages: 1024,
	CanonicalNaN:     true,
}
