package meter

import (
	"bytes"
	"fmt"
	"strings"
)

// Section ids of the WebAssembly binary format.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13 // exception handling; only its position is checked
)

// Import and export kinds.
const (
	kindFunc   = 0x00
	kindTable  = 0x01
	kindMemory = 0x02
	kindGlobal = 0x03
	kindTag    = 0x04
)

// sectionRank gives the position a non-custom section must have in a module.
// The ids are not in order (datacount, 12, precedes code, 10), so the order
// is checked and new sections are placed by rank, never by id. Zero means an
// unknown id.
var sectionRank = [...]uint8{
	secType:      1,
	secImport:    2,
	secFunction:  3,
	secTable:     4,
	secMemory:    5,
	secTag:       6,
	secGlobal:    7,
	secExport:    8,
	secStart:     9,
	secElement:   10,
	secDataCount: 11,
	secCode:      12,
	secData:      13,
}

var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// section is one section of the input: its id and its payload, a sub-slice
// of the input (nil for sections the pass creates).
type section struct {
	id      byte
	offset  int    // module offset of the payload, for error messages
	payload []byte // the payload, without id and size
	raw     []byte // the whole section as it appears in the input
}

// module is what the pass needs to know about the input, gathered in one
// walk over the sections.
type module struct {
	sections []section

	types           uint32   // entries in the type section
	params          []uint32 // each type's parameter count
	results         [][]byte // each type's result types, one byte each
	funcTypes       []uint32 // each defined function's type index
	importedFuncs   uint32
	importedGlobals uint32
	definedGlobals  uint32
	definedFuncs    uint32   // from the function section
	mutableGlobals  []uint32 // indices of the defined mutable globals, ascending
	globalIdx       int      // index into sections, -1 when absent
	exportIdx       int
	codeIdx         int
	typeIdx         int
	funcIdx         int
	memoryIdx       int
}

// parseModule splits the binary into sections, checks their order and reads
// the import, function, global and export sections.
func parseModule(b []byte) (*module, error) {
	secs, err := splitSections(b)
	if err != nil {
		return nil, err
	}
	m := &module{sections: secs, globalIdx: -1, exportIdx: -1, codeIdx: -1, typeIdx: -1, funcIdx: -1, memoryIdx: -1}
	for i, s := range m.sections {
		var err error
		if hasVector(s.id) {
			if n, p, e := readU32(s.payload, 0); e != nil {
				err = fmt.Errorf("entry count: %w", e)
			} else {
				err = checkCount(n, s.payload, p)
			}
			if err != nil {
				return nil, fmt.Errorf("meter: section id %d at offset %d: %w", s.id, s.offset, err)
			}
		}
		switch s.id {
		case secCustom:
			err = screenNameSection(s)
		case secImport:
			err = m.parseImports(s)
		case secType:
			m.typeIdx = i
			if m.params, m.results, err = screenTypes(s); err == nil {
				m.types = uint32(len(m.results))
			}
		case secFunction:
			m.funcIdx = i
			err = m.parseFunctions(s)
		case secGlobal:
			m.globalIdx = i
			err = m.parseGlobals(s)
		case secExport:
			m.exportIdx = i
		case secTable:
			err = screenTables(s)
		case secMemory:
			m.memoryIdx = i
		case secElement:
			err = m.screenElements(s)
		case secCode:
			m.codeIdx = i
		case secData:
			err = m.screenData(s)
		}
		if err != nil {
			return nil, fmt.Errorf("meter: section id %d at offset %d: %w", s.id, s.offset, err)
		}
	}
	// Exports are checked last: they need the final global count.
	if m.exportIdx >= 0 {
		s := m.sections[m.exportIdx]
		if err := m.checkExports(s); err != nil {
			return nil, fmt.Errorf("meter: export section at offset %d: %w", s.offset, err)
		}
	}
	return m, nil
}

// splitSections splits a module binary into its sections and checks the
// header, the section sizes and the order of the known sections.
func splitSections(b []byte) ([]section, error) {
	if len(b) < len(wasmHeader) || !bytes.Equal(b[:4], wasmHeader[:4]) {
		return nil, fmt.Errorf("meter: not a WebAssembly binary (bad magic)")
	}
	if !bytes.Equal(b[4:8], wasmHeader[4:8]) {
		return nil, fmt.Errorf("meter: unsupported WebAssembly version % x (want 1)", b[4:8])
	}
	var secs []section
	pos := len(wasmHeader)
	var lastRank uint8
	for pos < len(b) {
		start := pos
		id := b[pos]
		size, p, err := readU32(b, pos+1)
		if err != nil {
			return nil, fmt.Errorf("meter: section id %d at offset %d: size: %w", id, start, err)
		}
		if uint64(p)+uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("meter: section id %d at offset %d: size %d exceeds the %d bytes left", id, start, size, len(b)-p)
		}
		if id != secCustom {
			if int(id) >= len(sectionRank) || sectionRank[id] == 0 {
				return nil, fmt.Errorf("meter: unknown section id %d at offset %d", id, start)
			}
			r := sectionRank[id]
			if r <= lastRank {
				return nil, fmt.Errorf("meter: section id %d at offset %d is out of order or duplicated", id, start)
			}
			lastRank = r
		}
		secs = append(secs, section{id: id, offset: p, payload: b[p : p+int(size)], raw: b[start : p+int(size)]})
		pos = p + int(size)
	}
	return secs, nil
}

// gasIndex is the index the injected global gets: after every imported and
// defined global, so no existing index moves.
func (m *module) gasIndex() uint32 { return m.importedGlobals + m.definedGlobals }

func readName(b []byte, pos int) (int, int, error) {
	n, p, err := readU32(b, pos)
	if err != nil {
		return 0, p, err
	}
	if uint64(p)+uint64(n) > uint64(len(b)) {
		return 0, p, errEOF
	}
	return p, p + int(n), nil
}

func skipLimits(b []byte, pos int) (int, error) {
	if pos >= len(b) {
		return pos, errEOF
	}
	flags := b[pos]
	if flags > 3 {
		return pos, fmt.Errorf("limits flags 0x%02x not supported", flags)
	}
	_, pos, err := readU32(b, pos+1)
	if err != nil || flags&1 == 0 {
		return pos, err
	}
	_, pos, err = readU32(b, pos)
	return pos, err
}

func (m *module) parseImports(s section) error {
	b := s.payload
	n, pos, err := readU32(b, 0)
	if err != nil {
		return fmt.Errorf("import count: %w", err)
	}
	for i := uint32(0); i < n; i++ {
		if _, pos, err = readName(b, pos); err != nil {
			return fmt.Errorf("import %d: module name: %w", i, err)
		}
		if _, pos, err = readName(b, pos); err != nil {
			return fmt.Errorf("import %d: field name: %w", i, err)
		}
		if pos >= len(b) {
			return fmt.Errorf("import %d: kind: %w", i, errEOF)
		}
		kind := b[pos]
		pos++
		switch kind {
		case kindFunc:
			var t uint32
			if t, pos, err = readU32(b, pos); err == nil && t >= m.types {
				err = fmt.Errorf("type index %d out of range (%d types)", t, m.types)
			}
			m.importedFuncs++
		case kindTable:
			if pos >= len(b) {
				err = errEOF
				break
			}
			pos, err = skipLimits(b, pos+1)
		case kindMemory:
			// The memory cap is enforced by rewriting the module's own
			// memory section (see capMemory); an imported memory would
			// escape it, and the host offers none.
			err = fmt.Errorf("imported memory not supported: a module defines its own")
		case kindGlobal:
			if pos+2 > len(b) {
				err = errEOF
				break
			}
			if b[pos+1] != 0 {
				// Its value lives outside the instance, where the host
				// could not reset it between calls; the host offers none.
				err = fmt.Errorf("imported mutable global not supported: a call must start from a state the host can restore (memory and globals)")
				break
			}
			pos += 2 // valtype, mutability
			m.importedGlobals++
		case kindTag:
			if pos >= len(b) {
				err = errEOF
				break
			}
			_, pos, err = readU32(b, pos+1)
		default:
			err = fmt.Errorf("unknown kind 0x%02x", kind)
		}
		if err != nil {
			return fmt.Errorf("import %d: %w", i, err)
		}
	}
	if pos != len(b) {
		return fmt.Errorf("section size mismatch: %d bytes left after %d imports", len(b)-pos, n)
	}
	return nil
}

// parseFunctions counts the defined functions and checks their type
// indices. The engine checks them too, but wazero v1.12.0 validates a
// function's type index only when it reaches that function, and panics
// earlier if a previous function calls it: rejecting such modules here keeps
// a malformed contract from crashing the node.
func (m *module) parseFunctions(s section) error {
	b := s.payload
	n, pos, err := readU32(b, 0)
	if err != nil {
		return fmt.Errorf("function count: %w", err)
	}
	for i := uint32(0); i < n; i++ {
		var t uint32
		if t, pos, err = readU32(b, pos); err != nil {
			return fmt.Errorf("function %d: type index: %w", i, err)
		}
		if t >= m.types {
			return fmt.Errorf("function %d: type index %d out of range (%d types)", i, t, m.types)
		}
		m.funcTypes = append(m.funcTypes, t)
	}
	if pos != len(b) {
		return fmt.Errorf("section size mismatch: %d bytes left after %d functions", len(b)-pos, n)
	}
	m.definedFuncs = n
	return nil
}

// parseGlobals counts the defined globals and checks that no initializer
// reads the index the gas global will take.
func (m *module) parseGlobals(s section) error {
	b := s.payload
	n, pos, err := readU32(b, 0)
	if err != nil {
		return fmt.Errorf("global count: %w", err)
	}
	// The gas global's index is not known until the count is, and no
	// initializer may name an index at or beyond it anyway.
	limit := m.importedGlobals + n
	if limit < n {
		return fmt.Errorf("too many globals")
	}
	d := decoder{gasIdx: limit}
	for i := uint32(0); i < n; i++ {
		if pos+2 > len(b) {
			return fmt.Errorf("global %d: %w", i, errEOF)
		}
		if b[pos+1] != 0 {
			m.mutableGlobals = append(m.mutableGlobals, m.importedGlobals+i)
		}
		pos += 2 // valtype, mutability
		if pos, err = d.constExpr(b, pos, s.offset); err != nil {
			return fmt.Errorf("global %d: initializer: %w", i, err)
		}
	}
	if pos != len(b) {
		return fmt.Errorf("section size mismatch: %d bytes left after %d globals", len(b)-pos, n)
	}
	m.definedGlobals = n
	return nil
}

func (m *module) checkExports(s section) error {
	b := s.payload
	n, pos, err := readU32(b, 0)
	if err != nil {
		return fmt.Errorf("export count: %w", err)
	}
	gas := m.gasIndex()
	for i := uint32(0); i < n; i++ {
		var start, end int
		if start, end, err = readName(b, pos); err != nil {
			return fmt.Errorf("export %d: name: %w", i, err)
		}
		if n := string(b[start:end]); n == GasGlobalExport || n == DepthGlobalExport {
			return fmt.Errorf("export %d: name %q is reserved for the metering globals", i, n)
		} else if strings.HasPrefix(n, GlobalExportPrefix) {
			return fmt.Errorf("export %d: name %q: the prefix %q is reserved for the exported mutable globals", i, n, GlobalExportPrefix)
		}
		pos = end
		if pos >= len(b) {
			return fmt.Errorf("export %d: kind: %w", i, errEOF)
		}
		kind := b[pos]
		var idx uint32
		if idx, pos, err = readU32(b, pos+1); err != nil {
			return fmt.Errorf("export %d: index: %w", i, err)
		}
		if kind == kindGlobal && idx >= gas {
			return fmt.Errorf("export %d: global index %d out of range (%d globals)", i, idx, gas)
		}
	}
	if pos != len(b) {
		return fmt.Errorf("section size mismatch: %d bytes left after %d exports", len(b)-pos, n)
	}
	return nil
}

// insertAt returns the position in m.sections where a new section with the
// given id goes: right after the last known section that must precede it,
// so custom sections keep their neighbours (a trailing "name" section stays
// last).
func (m *module) insertAt(id byte) int {
	at := 0
	for i, s := range m.sections {
		if s.id != secCustom && sectionRank[s.id] < sectionRank[id] {
			at = i + 1
		}
	}
	return at
}

// capMemory returns the memory section's payload with the memory's maximum
// lowered to limit pages, or set to limit when the module declares none, so
// no engine setting is needed to bound it: memory.grow beyond the cap fails
// (returns -1) the same way on every node. A module whose memory starts
// above the cap is refused, as are more than one memory (multi-memory) and
// shared memories (threads).
func capMemory(s section, limit uint32) ([]byte, error) {
	b := s.payload
	n, pos, err := readU32(b, 0)
	if err != nil {
		return nil, fmt.Errorf("meter: memory section at offset %d: memory count: %w", s.offset, err)
	}
	if n > 1 {
		return nil, fmt.Errorf("meter: memory section at offset %d: %d memories (multiple memories are not supported)", s.offset, n)
	}
	out := appendU32(nil, n)
	if n == 1 {
		if pos >= len(b) {
			return nil, fmt.Errorf("meter: memory section at offset %d: memory 0: %w", s.offset, errEOF)
		}
		flags := b[pos]
		if flags > 1 {
			return nil, fmt.Errorf("meter: memory section at offset %d: memory 0: limits flags 0x%02x not supported (shared or 64-bit memory)", s.offset, flags)
		}
		var min, max uint32
		if min, pos, err = readU32(b, pos+1); err != nil {
			return nil, fmt.Errorf("meter: memory section at offset %d: memory 0: minimum: %w", s.offset, err)
		}
		max = limit
		if flags == 1 {
			var declared uint32
			if declared, pos, err = readU32(b, pos); err != nil {
				return nil, fmt.Errorf("meter: memory section at offset %d: memory 0: maximum: %w", s.offset, err)
			}
			max = declared
			if declared > limit {
				max = limit
			}
		}
		if min > limit {
			return nil, fmt.Errorf("meter: memory section at offset %d: memory 0 starts at %d pages, the limit is %d", s.offset, min, limit)
		}
		out = append(out, 0x01)
		out = appendU32(out, min)
		out = appendU32(out, max)
	}
	if pos != len(b) {
		return nil, fmt.Errorf("meter: memory section at offset %d: section size mismatch: %d bytes left after %d memories", s.offset, len(b)-pos, n)
	}
	return out, nil
}
