package meter

import (
	"context"
	"encoding/binary"
	"math"
	"runtime"
	"testing"

	"github.com/tetratelabs/wazero"
)

// Float opcodes used by the NaN tests.
const (
	opF32Const       = 0x43
	opF64Const       = 0x44
	opF32Ceil        = 0x8d
	opF32Div         = 0x95
	opF32Neg         = 0x8c
	opF64Sqrt        = 0x9f
	opF64Add         = 0xa0
	opF64Mul         = 0xa2
	opF64Div         = 0xa3
	opF64Min         = 0xa4
	opF64Max         = 0xa5
	opF64Neg         = 0x9a
	opF64Nearest     = 0x9e
	opF32DemoteF64   = 0xb6
	opF64PromoteF32  = 0xbb
	opI32ReinterpF32 = 0xbc
	opI64ReinterpF64 = 0xbd
	opI64ExtendI32U  = 0xad
	f32              = 0x7d
	f64              = 0x7c
)

func f32c(bits uint32) []byte {
	return binary.LittleEndian.AppendUint32([]byte{opF32Const}, bits)
}

func f64c(bits uint64) []byte {
	return binary.LittleEndian.AppendUint64([]byte{opF64Const}, bits)
}

func f64v(v float64) []byte { return f64c(math.Float64bits(v)) }
func f32v(v float32) []byte { return f32c(math.Float32bits(v)) }

// Result bit patterns.
const (
	payloadNaN64 = 0x7ff8000000000001 // quiet, payload 1
	negNaN64     = 0xfff8000000000000 // x86-64's "default NaN"
	payloadNaN32 = 0x7fc00001
)

// nanCase is a computation returning a float's bits as an i64 (f32 bits
// zero-extended).
type nanCase struct {
	name string
	code []byte // leaves an i64
	want uint64 // with CanonicalNaN
}

func as64(code ...[]byte) []byte { return cat(cat(code...), []byte{opI64ReinterpF64}) }
func as32(code ...[]byte) []byte {
	return cat(cat(code...), []byte{opI32ReinterpF32, opI64ExtendI32U})
}

var nanCases = []nanCase{
	// NaNs whose bits the machine chooses: canonical with the rule.
	{"f64 0/0", as64(f64v(0), f64v(0), []byte{opF64Div}), canonicalNaN64},
	{"f32 0/0", as32(f32v(0), f32v(0), []byte{opF32Div}), canonicalNaN32},
	{"f64 sqrt(-1)", as64(f64v(-1), []byte{opF64Sqrt}), canonicalNaN64},
	{"f64 payload NaN + 1", as64(f64c(payloadNaN64), f64v(1), []byte{opF64Add}), canonicalNaN64},
	{"f64 negative NaN * 2", as64(f64c(negNaN64), f64v(2), []byte{opF64Mul}), canonicalNaN64},
	{"f64 min(NaN, 1)", as64(f64c(payloadNaN64), f64v(1), []byte{opF64Min}), canonicalNaN64},
	{"f64 max(1, NaN)", as64(f64v(1), f64c(payloadNaN64), []byte{opF64Max}), canonicalNaN64},
	{"f64 nearest(NaN)", as64(f64c(payloadNaN64), []byte{opF64Nearest}), canonicalNaN64},
	{"f32 ceil(NaN)", as32(f32c(payloadNaN32), []byte{opF32Ceil}), canonicalNaN32},
	// The payload's top bits would survive the conversion.
	{"f32.demote_f64 payload NaN", as32(f64c(0x7ff8_0100_0000_0000), []byte{opF32DemoteF64}), canonicalNaN32},
	{"f64.promote_f32 payload NaN", as64(f32c(payloadNaN32), []byte{opF64PromoteF32}), canonicalNaN64},
	// Bit-exact by the spec: left alone.
	{"f64 neg(NaN)", as64(f64c(payloadNaN64), []byte{opF64Neg}), 0xfff8000000000001},
	{"f32 neg(NaN)", as32(f32c(payloadNaN32), []byte{opF32Neg}), 0xffc00001},
	{"f64 const NaN", as64(f64c(payloadNaN64)), payloadNaN64},
	// Other values unchanged.
	{"1.5 + 2.25", as64(f64v(1.5), f64v(2.25), []byte{opF64Add}), math.Float64bits(3.75)},
	{"-0 * 1", as64(f64v(math.Copysign(0, -1)), f64v(1), []byte{opF64Mul}), 1 << 63},
	{"min(0, -0)", as64(f64v(0), f64v(math.Copysign(0, -1)), []byte{opF64Min}), 1 << 63},
	{"1/0", as64(f64v(1), f64v(0), []byte{opF64Div}), math.Float64bits(math.Inf(1))},
	{"-1/0", as64(f64v(-1), f64v(0), []byte{opF64Div}), math.Float64bits(math.Inf(-1))},
	{"f32 -1/0", as32(f32v(-1), f32v(0), []byte{opF32Div}), uint64(math.Float32bits(float32(math.Inf(-1))))},
	{"f32.demote_f64 -0", as32(f64v(math.Copysign(0, -1)), []byte{opF32DemoteF64}), 1 << 31},
	{"f64.promote_f32 1.5", as64(f32v(1.5), []byte{opF64PromoteF32}), math.Float64bits(1.5)},
	{"f32.demote_f64 1e300", as32(f64v(1e300), []byte{opF32DemoteF64}), uint64(math.Float32bits(float32(math.Inf(1))))},
}

// nanModule exports each case as "c<i>": () -> i64.
func nanModule(cases []nanCase) []byte {
	var funcs, exports, bodies [][]byte
	for i, c := range cases {
		funcs = append(funcs, u32(0))
		exports = append(exports, export("c"+string(rune('a'+i)), kindFunc, uint32(i)))
		bodies = append(bodies, body(nil, cat(c.code, []byte{opEnd})...))
	}
	return mod(
		sec(secType, vec(functype(nil, []byte{i64}))),
		sec(secFunction, vec(funcs...)),
		sec(secExport, vec(exports...)),
		sec(secCode, vec(bodies...)),
	)
}

// TestCanonicalNaN: with Rules.CanonicalNaN every NaN an arithmetic
// instruction produces has the canonical bits, on both engines, and every
// other result keeps its bits; without it, this machine produces other
// NaNs (on x86-64 0/0 has the sign bit set), so the rule is what makes the
// results agree.
func TestCanonicalNaN(t *testing.T) {
	wasm := nanModule(nanCases)
	off := rules1
	off.CanonicalNaN = false
	differs := 0
	for i, c := range nanCases {
		fn := "c" + string(rune('a'+i))
		for _, e := range engines {
			t.Run(c.name+"/"+e.name, func(t *testing.T) {
				res, _, err := run(t, e.cfg(), wasm, 1000, fn)
				if err != nil {
					t.Fatal(err)
				}
				if res[0] != c.want {
					t.Errorf("canonical: bits %#x, want %#x", res[0], c.want)
				}
				raw, _, err := runWith(t, e.cfg(), wasm, off, 1000, fn)
				if err != nil {
					t.Fatal(err)
				}
				if raw[0] != c.want {
					differs++
					t.Logf("without CanonicalNaN: %#x", raw[0])
				}
				if c.name == "f64 0/0" && runtime.GOARCH == "amd64" && raw[0] != negNaN64 {
					t.Errorf("without CanonicalNaN on amd64: 0/0 = %#x, want %#x", raw[0], uint64(negNaN64))
				}
			})
		}
	}
	if differs == 0 {
		t.Logf("no case differs without CanonicalNaN on %s: the test shows nothing here", runtime.GOARCH)
	}
}

// TestCanonicalNaNFree: the injected code costs nothing; a case costs what
// its instructions cost with or without the rule.
func TestCanonicalNaNFree(t *testing.T) {
	wasm := nanModule(nanCases[:1]) // f64 0/0: 3 + reinterpret + end = 5
	off := rules1
	off.CanonicalNaN = false
	for _, r := range []Rules{rules1, off} {
		_, left, err := runWith(t, wazero.NewRuntimeConfigInterpreter(), wasm, r, 100, "ca")
		if err != nil || left != 95 {
			t.Errorf("CanonicalNaN %v: err=%v left=%d, want 95", r.CanonicalNaN, err, left)
		}
	}
}

// TestCanonicalNaNLocals: the scratch locals come after the parameters and
// the declared locals, one per float type used, so no local changes; a
// function at maxLocals still gets them; a function without the
// instructions gets none, nor does any function without the rule.
func TestCanonicalNaNLocals(t *testing.T) {
	// (param $p f64) (local $b f64) (local $a f32)
	// $b = $p + $p; drop(0/0); $a = f32 0/0 (canonical); drop
	// return bits($b + $p + f64.promote($a == $a ? 0 : 1))
	code := cat(
		[]byte{opLocalGet, 0, opLocalGet, 0, opF64Add, opLocalSet, 1},
		f64v(0), f64v(0), []byte{opF64Div, opDrop},
		f32v(0), f32v(0), []byte{opF32Div, opLocalSet, 2},
		[]byte{opLocalGet, 1, opLocalGet, 0, opF64Add, opI64ReinterpF64},
		[]byte{opLocalGet, 2, opI32ReinterpF32, opI64ExtendI32U, opI64Add},
		[]byte{opEnd},
	)
	wasm := mod(
		sec(secType, vec(functype([]byte{f64}, []byte{i64}), functype(nil, nil))),
		sec(secFunction, vec(u32(0), u32(1), u32(1))),
		sec(secExport, vec(export("f", kindFunc, 0))),
		sec(secCode, vec(
			body([][]byte{{0x01, f64}, {0x01, f32}}, code...),
			// At maxLocals, with both types.
			body([][]byte{cat(u32(maxLocals), []byte{i32})}, cat(f32v(1), f32v(1), []byte{opF32Div, opDrop}, f64v(1), []byte{opF64Sqrt, opDrop, opEnd})...),
			// No float instruction to fix.
			body([][]byte{{0x01, f64}}, cat(f64v(1), []byte{opF64Neg, opDrop, opEnd})...),
		)),
	)
	out, err := Instrument(wasm, rules1)
	if err != nil {
		t.Fatal(err)
	}
	decls := localDecls(t, out)
	want := [][]byte{{1, f64, 1, f32, 1, f32, 1, f64}, cat(u32(maxLocals), []byte{i32, 1, f32, 1, f64}), {1, f64}}
	for i := range want {
		if string(decls[i]) != string(want[i]) {
			t.Errorf("function %d: local declarations % x, want % x", i, decls[i], want[i])
		}
	}
	off := rules1
	off.CanonicalNaN = false
	outOff, err := Instrument(wasm, off)
	if err != nil {
		t.Fatal(err)
	}
	if decls := localDecls(t, outOff); string(decls[0]) != string([]byte{1, f64, 1, f32}) {
		t.Errorf("without the rule: local declarations % x, want the original", decls[0])
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			res, _, err := run(t, e.cfg(), wasm, 1000, "f", math.Float64bits(1.5))
			if err != nil {
				t.Fatal(err)
			}
			if want := math.Float64bits(4.5) + canonicalNaN32; res[0] != want {
				t.Errorf("f(1.5) = %#x, want %#x", res[0], want)
			}
		})
	}
}

// localDecls returns each function body's local declarations (without
// their count) from a module's code section.
func localDecls(t *testing.T, wasm []byte) [][]byte {
	t.Helper()
	secs, err := splitSections(wasm)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, s := range secs {
		if s.id != secCode {
			continue
		}
		b := s.payload
		n, pos, _ := readU32(b, 0)
		for i := uint32(0); i < n; i++ {
			size, p, _ := readU32(b, pos)
			fn := b[p : p+int(size)]
			// Not skipLocals: the output may exceed maxLocals by the
			// scratch locals.
			k, end, _ := readU32(fn, 0)
			for ; k > 0; k-- {
				_, end, _ = readU32(fn, end)
				end++ // value type
			}
			_, q, _ := readU32(fn, 0)
			out = append(out, fn[q:end])
			pos = p + int(size)
		}
	}
	return out
}

// TestCanonicalNaNDeadCode: a fixed instruction in unreachable code gets
// its fix too, and the output still validates.
func TestCanonicalNaNDeadCode(t *testing.T) {
	wasm := mod(
		sec(secType, vec(functype(nil, nil))),
		sec(secFunction, vec(u32(0))),
		sec(secExport, vec(export("f", kindFunc, 0))),
		sec(secCode, vec(body(nil,
			opBlock, bt, opBr, 0, opF64Add, opDrop, opF32Div, opDrop, opEnd,
			opUnreachable, opF64Sqrt, opDrop, opEnd))),
	)
	ctx := context.Background()
	out, err := Instrument(wasm, rules1)
	if err != nil {
		t.Fatal(err)
	}
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if _, err := r.CompileModule(ctx, out); err != nil {
		t.Fatalf("instrumented module invalid: %v", err)
	}
}
