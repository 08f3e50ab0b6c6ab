package meter

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

// term says how an instruction ends a straight-line segment, if it does.
type term uint8

const (
	// termNone: execution continues with the next instruction.
	termNone term = iota
	// termCharge: the instruction ends a segment and the code after it can
	// be reached (loop and if bodies, else branches, the code after an end
	// or the fall-through of br_if), so a charge goes there.
	termCharge
	// termDead: an unconditional transfer (br, br_table, return,
	// unreachable, return_call*). The code after it up to the next end or
	// else can never run, so it gets no charge.
	termDead
	// termFinal: the end that closes the function body or expression.
	termFinal
)

// Control frame kinds kept on decoder.stack.
const (
	frameBlock = 'b'
	frameLoop  = 'l'
	frameIf    = 'i'
	frameElse  = 'e'
)

// decoder walks instructions. Its only state is the control stack, reused
// across functions so that decoding does not allocate.
type decoder struct {
	gasIdx uint32 // first global index the original code may not use
	rules  Rules  // prices; zero in constant expressions, which are not charged
	stack  []byte
	bulk   bulkKind // set by step: the helper the last instruction needs
	// nan is set by step: the result type (valF32, valF64) of the last
	// instruction when its NaN must be canonicalised (see nan.go), else 0.
	nan byte
}

func isValType(b byte) bool {
	switch b {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return true
	}
	return false
}

// readBlockType skips a blocktype: 0x40, one value type byte, or a
// non-negative s33 type index. Multi-byte reference types (typed function
// references, GC) are refused: decoding them differently from the engine
// would let charges land inside an instruction.
func readBlockType(b []byte, pos int) (int, error) {
	if pos >= len(b) {
		return pos, errEOF
	}
	if c := b[pos]; c == 0x40 || isValType(c) {
		return pos + 1, nil
	}
	v, p, err := readSigned(b, pos, 33)
	if err != nil {
		return p, err
	}
	if v < 0 {
		return p, fmt.Errorf("unsupported block type 0x%02x", b[pos])
	}
	return p, nil
}

// zeroByte reads a reserved byte that must be 0x00 (a memory index in the
// MVP encoding).
func zeroByte(b []byte, pos int) (int, error) {
	if pos >= len(b) {
		return pos, errEOF
	}
	if b[pos] != 0 {
		return pos, fmt.Errorf("reserved byte 0x%02x is not zero (multiple memories are not supported)", b[pos])
	}
	return pos + 1, nil
}

// skipU32s skips n unsigned LEB128 u32 values.
func skipU32s(b []byte, pos, n int) (int, error) {
	var err error
	for i := 0; i < n && err == nil; i++ {
		_, pos, err = readU32(b, pos)
	}
	return pos, err
}

// step decodes the instruction at b[pos] (pos < len(b)) and returns the
// position after it, how it ends a segment, and its cost. base is the module
// offset of b[0], for error messages.
func (d *decoder) step(b []byte, pos, base int) (int, term, int64, error) {
	start := pos
	op := b[pos]
	pos++
	d.bulk = bulkNone
	d.nan = 0
	t := termNone
	w := int64(d.rules.Default)
	var err error
	switch op {
	case 0x00: // unreachable
		t = termDead
	case 0x01: // nop
	case 0x02: // block
		pos, err = readBlockType(b, pos)
		d.stack = append(d.stack, frameBlock)
	case 0x03: // loop
		pos, err = readBlockType(b, pos)
		d.stack = append(d.stack, frameLoop)
		t = termCharge
	case 0x04: // if
		pos, err = readBlockType(b, pos)
		d.stack = append(d.stack, frameIf)
		t = termCharge
	case 0x05: // else
		if n := len(d.stack); n == 0 || d.stack[n-1] != frameIf {
			return pos, t, 0, fmt.Errorf("else without matching if at offset %d", base+start)
		}
		d.stack[len(d.stack)-1] = frameElse
		t = termCharge
	case 0x0b: // end
		if len(d.stack) == 0 {
			t = termFinal
		} else {
			d.stack = d.stack[:len(d.stack)-1]
			t = termCharge
		}
	case 0x0c: // br l
		_, pos, err = readU32(b, pos)
		t = termDead
	case 0x0d: // br_if l
		_, pos, err = readU32(b, pos)
		t = termCharge
	case 0x0e: // br_table vec(l) l
		var n uint32
		if n, pos, err = readU32(b, pos); err == nil {
			// Each label takes at least one byte, so n+1 reads are bounded
			// by the input even for a forged count.
			pos, err = skipU32s(b, pos, int(n)+1)
		}
		t = termDead
	case 0x0f: // return
		t = termDead
	case 0x10: // call f
		_, pos, err = readU32(b, pos)
		w = int64(d.rules.Call)
	case 0x11: // call_indirect type table
		pos, err = skipU32s(b, pos, 2)
		w = int64(d.rules.Call)
	case 0x12: // return_call f
		_, pos, err = readU32(b, pos)
		w = int64(d.rules.Call)
		t = termDead
	case 0x13: // return_call_indirect type table
		pos, err = skipU32s(b, pos, 2)
		w = int64(d.rules.Call)
		t = termDead
	case 0x1a, 0x1b: // drop, select
	case 0x1c: // select vec(valtype)
		var n uint32
		if n, pos, err = readU32(b, pos); err == nil {
			if uint64(n) > uint64(len(b)-pos) {
				err = errEOF
				break
			}
			for i := 0; i < int(n); i++ {
				if !isValType(b[pos]) {
					err = fmt.Errorf("unsupported value type 0x%02x", b[pos])
					break
				}
				pos++
			}
		}
	case 0x20, 0x21, 0x22: // local.get/set/tee
		_, pos, err = readU32(b, pos)
	case 0x23, 0x24: // global.get/set
		var idx uint32
		if idx, pos, err = readU32(b, pos); err == nil && idx >= d.gasIdx {
			// Out of range in the original module; after instrumentation
			// it would name the gas global and let a contract refill it.
			return pos, t, 0, fmt.Errorf("global index %d at offset %d out of range (%d globals)", idx, base+start, d.gasIdx)
		}
	case 0x25: // table.get
		_, pos, err = readU32(b, pos)
	case 0x26:
		return pos, t, 0, errInstanceState("table.set", base+start)
	case 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33,
		0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e: // loads, stores
		var align uint32
		if align, pos, err = readU32(b, pos); err == nil {
			if align >= 64 {
				// Bit 6 announces a memory index (multi-memory).
				err = fmt.Errorf("memory alignment %d not supported", align)
				break
			}
			_, pos, err = readU32(b, pos)
		}
	case 0x3f: // memory.size
		pos, err = zeroByte(b, pos)
	case 0x40: // memory.grow
		pos, err = zeroByte(b, pos)
		w = int64(d.rules.MemoryGrow)
	case 0x41: // i32.const
		_, pos, err = readSigned(b, pos, 32)
	case 0x42: // i64.const
		_, pos, err = readSigned(b, pos, 64)
	case 0x43: // f32.const
		if pos += 4; pos > len(b) {
			err = errEOF
		}
	case 0x44: // f64.const
		if pos += 8; pos > len(b) {
			err = errEOF
		}
	case 0xd0: // ref.null reftype
		if pos >= len(b) {
			err = errEOF
		} else if c := b[pos]; c != 0x70 && c != 0x6f {
			err = fmt.Errorf("unsupported reference type 0x%02x", c)
		} else {
			pos++
		}
	case 0xd1: // ref.is_null
	case 0xd2: // ref.func f
		_, pos, err = readU32(b, pos)
		w = int64(d.rules.RefFunc)
	case 0xfc:
		var sub uint32
		if sub, pos, err = readU32(b, pos); err != nil {
			break
		}
		switch sub {
		case 0, 1, 2, 3, 4, 5, 6, 7: // trunc_sat
		case 8: // memory.init data 0x00
			if _, pos, err = readU32(b, pos); err == nil {
				pos, err = zeroByte(b, pos)
			}
			w, d.bulk = int64(d.rules.Bulk), bulkBytes
		case 10: // memory.copy 0x00 0x00
			if pos, err = zeroByte(b, pos); err == nil {
				pos, err = zeroByte(b, pos)
			}
			w, d.bulk = int64(d.rules.Bulk), bulkBytes
		case 11: // memory.fill 0x00
			pos, err = zeroByte(b, pos)
			w, d.bulk = int64(d.rules.Bulk), bulkBytes
		case 16: // table.size
			_, pos, err = readU32(b, pos)
		case 15: // table.grow: refused, see maxTableElements
			return pos, t, 0, fmt.Errorf("table.grow at offset %d is not supported: tables keep their declared size", base+start)
		case 9, 12, 13, 14, 17:
			return pos, t, 0, errInstanceState(stateOps[sub], base+start)
		default:
			return pos, t, 0, fmt.Errorf("unsupported opcode 0xfc %d at offset %d", sub, base+start)
		}
	default:
		if op >= 0x45 && op <= 0xc4 { // numeric, including sign extension
			if d.rules.CanonicalNaN {
				d.nan = nanResult(op)
			}
			break
		}
		return pos, t, 0, fmt.Errorf("unsupported opcode 0x%02x at offset %d", op, base+start)
	}
	if err != nil {
		return pos, t, 0, fmt.Errorf("opcode 0x%02x at offset %d: %w", op, base+start, err)
	}
	return pos, t, w, nil
}

// stateOps names the 0xfc instructions refused by errInstanceState.
var stateOps = map[uint32]string{9: "data.drop", 12: "table.init", 13: "elem.drop", 14: "table.copy", 17: "table.fill"}

// errInstanceState refuses an instruction that changes instance state the
// host cannot restore: tables, and which data and element segments are
// dropped. The host resets memory and globals before every call (see
// GlobalExportPrefix); anything else a call changed would leak into the next
// call, and nodes that reset at different times would disagree.
func errInstanceState(op string, offset int) error {
	return fmt.Errorf("%s at offset %d is not supported: a call must start from a state the host can restore (memory and globals)", op, offset)
}

// constExpr skips a constant expression (a global initializer) starting at
// b[pos] and returns the position after its end.
func (d *decoder) constExpr(b []byte, pos, base int) (int, error) {
	d.stack = d.stack[:0]
	for {
		if pos >= len(b) {
			return pos, errEOF
		}
		var t term
		var err error
		if pos, t, _, err = d.step(b, pos, base); err != nil {
			return pos, err
		}
		if t == termFinal {
			return pos, nil
		}
	}
}

// rewriter injects gas charges into function bodies.
type rewriter struct {
	d      decoder
	prefix []byte // global.get G; i64.const
	suffix []byte // i64.sub; global.set G; global.get G; i64.const 0; i64.lt_s; if; unreachable; end
	fn     []byte // scratch output for one body, reused

	// calls[k] is the call of the helper for bulkKind k (see bulk.go).
	calls [bulkHelpers + 1][]byte
	// usedBulk records that some body got a helper call, so the helpers
	// must be appended.
	usedBulk bool
	sites    []site // bulk instructions and calls of the current segment, reused

	// enter and leave count the frame of a function that is not a leaf
	// (see depth.go): enter at its entry, leave on every way out.
	enter, leave []byte
	// types are the block types [] -> results added for the wrapper
	// blocks of functions with several results, encoded; the first gets
	// type index module.types+1 (the bulk helpers' type comes first).
	types [][]byte
}

// wrapper returns how a counted function of type t is wrapped: its block
// has the function's results, one value type byte, none (0x40) or, for
// several, a type index added to the module.
func (r *rewriter) wrapper(m *module, t uint32) (*depthFrame, error) {
	res := m.results[t]
	switch len(res) {
	case 0:
		return &depthFrame{blockType: []byte{0x40}}, nil
	case 1:
		return &depthFrame{blockType: []byte{res[0]}}, nil
	}
	enc := cat([]byte{0x60, 0x00}, appendU32(nil, uint32(len(res))), res)
	k := 0
	for k < len(r.types) && !bytes.Equal(r.types[k], enc) {
		k++
	}
	if k == len(r.types) {
		r.types = append(r.types, enc)
	}
	idx := uint64(m.types) + 1 + uint64(k)
	if idx > math.MaxInt32 {
		return nil, fmt.Errorf("too many types to add a block type")
	}
	return &depthFrame{blockType: appendS64(nil, int64(idx))}, nil
}

// site is a bulk instruction or a call in a function body: its offset, the
// offset after it, and what goes around it.
type site struct {
	at, end int
	kind    bulkKind
	exit    bool   // return or tail call of a counted function
	open    uint32 // blocks open in the original body at the site
	nan     byte   // result type of a float instruction to canonicalise, or 0
}

// depthFrame is how a counted function is wrapped: the block type of the
// wrapper block, which has the function's result types.
type depthFrame struct {
	blockType []byte
}

// Opcodes the rewriter emits or looks for.
const (
	opBlock              = 0x02
	opEnd                = 0x0b
	opBr                 = 0x0c
	opReturn             = 0x0f
	opReturnCall         = 0x12
	opReturnCallIndirect = 0x13
)

// newRewriter returns a rewriter applying rules to a module whose gas
// global has index gasIdx (the depth global follows it) and whose bulk
// instruction helpers start at function index helperBase.
func newRewriter(gasIdx, helperBase uint32, rules Rules) *rewriter {
	r := &rewriter{d: decoder{gasIdx: gasIdx, rules: rules}}
	r.enter, r.leave = depthCode(gasIdx+1, rules.MaxCallDepth)
	for k := bulkBytes; int(k) <= bulkHelpers; k++ {
		r.calls[k] = appendU32([]byte{0x10}, helperBase+uint32(k)-1)
	}
	r.prefix = appendU32([]byte{0x23}, gasIdx)
	r.prefix = append(r.prefix, 0x42)
	r.suffix = append(r.suffix, 0x7d, 0x24)
	r.suffix = appendU32(r.suffix, gasIdx)
	r.suffix = append(r.suffix, 0x23)
	r.suffix = appendU32(r.suffix, gasIdx)
	r.suffix = append(r.suffix,
		0x42, 0x00, // i64.const 0
		0x53,       // i64.lt_s
		0x04, 0x40, // if (empty)
		0x00, // unreachable
		0x0b, // end
	)
	return r
}

// appendCharge appends the sequence that subtracts cost from the gas global
// and traps with unreachable once it is negative. It leaves the operand
// stack as it found it and closes its own if, so the original code's branch
// depths are unchanged.
func (r *rewriter) appendCharge(out []byte, cost int64) []byte {
	out = append(out, r.prefix...)
	out = appendS64(out, cost)
	return append(out, r.suffix...)
}

var errMissingEnd = errors.New("function body ends before its final end")

// bodyInfo is what the rewrite needs to know about a function body before
// rewriting it.
type bodyInfo struct {
	// leaf: no call, call_indirect, return_call or return_call_indirect;
	// a leaf adds one frame to the stack and never more.
	leaf bool
	// nan: the scratch locals the NaN canonicalisation needs.
	nan nanMask
	// locals is the number of locals the body declares.
	locals uint64
}

// scan reads a function body (locals and expression) ahead of the rewrite.
// base is the module offset of body[0].
func (d *decoder) scan(body []byte, base int) (bodyInfo, error) {
	pos, locals, err := skipLocals(body, base)
	if err != nil {
		return bodyInfo{}, err
	}
	d.stack = d.stack[:0]
	info := bodyInfo{leaf: true, locals: locals}
	for {
		if pos >= len(body) {
			return bodyInfo{}, fmt.Errorf("%w (%d blocks open)", errMissingEnd, len(d.stack))
		}
		if op := body[pos]; op >= 0x10 && op <= 0x13 {
			info.leaf = false
		}
		var t term
		if pos, t, _, err = d.step(body, pos, base); err != nil {
			return bodyInfo{}, err
		}
		info.nan |= maskOf(d.nan)
		if t == termFinal {
			return info, nil
		}
	}
}

// skipLocals checks a function body's local declarations and returns the
// position after them and the number of locals declared. base is the
// module offset of body[0].
func skipLocals(body []byte, base int) (int, uint64, error) {
	n, pos, err := readU32(body, 0)
	if err != nil {
		return pos, 0, fmt.Errorf("local declaration count at offset %d: %w", base, err)
	}
	var locals uint64
	for i := uint32(0); i < n; i++ {
		var k uint32
		if k, pos, err = readU32(body, pos); err != nil {
			return pos, 0, fmt.Errorf("local declaration %d at offset %d: %w", i, base+pos, err)
		}
		if locals += uint64(k); locals > maxLocals {
			return pos, 0, fmt.Errorf("more than %d locals", maxLocals)
		}
		if pos >= len(body) {
			return pos, 0, fmt.Errorf("local declaration %d: %w", i, errEOF)
		}
		if !isValType(body[pos]) {
			return pos, 0, fmt.Errorf("local declaration %d at offset %d: unsupported value type 0x%02x", i, base+pos, body[pos])
		}
		pos++
	}
	return pos, locals, nil
}

// function rewrites one function body (locals and expression, without the
// size prefix) into r.fn. base is the module offset of body[0].
func (r *rewriter) function(body []byte, base int, depth *depthFrame, nl *nanLocals) error {
	pos, _, err := skipLocals(body, base)
	if err != nil {
		return err
	}
	if nl == nil {
		r.fn = append(r.fn[:0], body[:pos]...)
	} else {
		// The scratch locals are declared after the function's own.
		n, p, _ := readU32(body, 0) // read by skipLocals
		if uint64(n)+uint64(nl.count) > math.MaxUint32 {
			return fmt.Errorf("too many local declarations to add NaN scratch locals")
		}
		r.fn = appendU32(r.fn[:0], n+nl.count)
		r.fn = append(r.fn, body[p:pos]...)
		r.fn = append(r.fn, nl.decls...)
	}
	r.d.stack = r.d.stack[:0]
	if depth != nil {
		r.fn = append(r.fn, r.enter...)
		r.fn = append(r.fn, opBlock)
		r.fn = append(r.fn, depth.blockType...)
	}

	charge := true // function entry
	for {
		segStart := pos
		var cost int64
		t := termNone
		for t == termNone {
			if pos >= len(body) {
				return fmt.Errorf("%w (%d blocks open)", errMissingEnd, len(r.d.stack))
			}
			var w int64
			at := pos
			if pos, t, w, err = r.d.step(body, pos, base); err != nil {
				return err
			}
			cost += w
			op := body[at]
			exit := depth != nil && (op == opReturn || op == opReturnCall || op == opReturnCallIndirect)
			if r.d.bulk != bulkNone || exit || r.d.nan != 0 {
				r.sites = append(r.sites, site{at: at, end: pos, kind: r.d.bulk, exit: exit, open: uint32(len(r.d.stack)), nan: r.d.nan})
			}
		}
		if charge && cost > 0 {
			r.fn = r.appendCharge(r.fn, cost)
		}
		// Copy the segment, with each bulk instruction preceded by the call
		// to its helper and, in a counted function, each return turned into
		// a branch to the wrapper block and each tail call preceded by the
		// depth decrement (also in dead code, where it is valid and never
		// runs: one rule is simpler to check than two).
		from := segStart
		for _, s := range r.sites {
			if s.nan != 0 {
				// After the instruction, not before it.
				r.fn = append(r.fn, body[from:s.end]...)
				r.fn = append(r.fn, nl.fix(s.nan)...)
				from = s.end
				continue
			}
			r.fn = append(r.fn, body[from:s.at]...)
			from = s.at
			if s.kind != bulkNone {
				r.fn = append(r.fn, r.calls[s.kind]...)
				r.usedBulk = true
			}
			if s.exit {
				if body[s.at] == opReturn {
					// br to the wrapper, the outermost label: priced as
					// the return it replaces.
					r.fn = appendU32(append(r.fn, opBr), s.open)
					from = s.end
				} else {
					r.fn = append(r.fn, r.leave...)
				}
			}
		}
		r.sites = r.sites[:0]
		r.fn = append(r.fn, body[from:pos]...)
		if t == termFinal {
			if pos != len(body) {
				return fmt.Errorf("unbalanced end at offset %d: %d bytes follow the function's final end", base+pos-1, len(body)-pos)
			}
			if depth != nil {
				// The original final end closed the wrapper block: every
				// way out of the body comes through here.
				r.fn = append(r.fn, r.leave...)
				r.fn = append(r.fn, opEnd)
			}
			return nil
		}
		charge = t == termCharge
	}
}
