package meter

import "fmt"

// Screening. wazero v1.12.0 sizes its allocations by the counts a module
// declares (entries of a section, bytes of a data segment, locals of a
// function, entries of the "name" section) before it reads the entries, so
// a module of a few dozen bytes can make CompileModule allocate gigabytes.
// The type section's parameter and result vectors are checked the same way.
// Every module the host compiles goes through Instrument first, so
// Instrument refuses such modules: every declared count must fit in the
// bytes that follow it, and a function may declare at most maxLocals locals
// (the limit browsers' engines apply; no real toolchain comes close).

// maxTableElements bounds a table's initial size: wazero allocates every
// element (8 bytes) at each instantiation, and the node instantiates a fresh
// module for every block, so a table declaring 2^27 elements would cost a
// gigabyte per block. Go modules declare a few thousand. table.grow is
// refused for the same reason (see decoder.step): its flat gas cost would pay
// for an allocation of up to 32 GiB. Both are consensus rules.
const maxTableElements = 1 << 20

// screenTables checks the table section: each table's initial size.
func screenTables(s section) error {
	b := s.payload
	n, pos, err := readU32(b, 0)
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		if pos >= len(b) {
			return fmt.Errorf("table %d: %w", i, errEOF)
		}
		var min uint32
		if min, _, err = readU32(b, pos+2); err == nil && min > maxTableElements {
			err = fmt.Errorf("initial size %d elements, at most %d", min, maxTableElements)
		}
		if err == nil {
			pos, err = skipLimits(b, pos+1) // after the reference type
		}
		if err != nil {
			return fmt.Errorf("table %d: %w", i, err)
		}
	}
	if pos != len(b) {
		return fmt.Errorf("section size mismatch: %d bytes left after %d tables", len(b)-pos, n)
	}
	return nil
}

// maxLocals bounds the locals one function may declare. It is a consensus
// rule like the costs: a module over it is refused on every node.
const maxLocals = 50000

// checkCount returns an error if a vector declares more entries than the
// bytes left could hold; every entry of the vectors checked takes at least
// one byte.
func checkCount(n uint32, b []byte, pos int) error {
	if uint64(n) > uint64(len(b)-pos) {
		return fmt.Errorf("declares %d entries but only %d bytes follow", n, len(b)-pos)
	}
	return nil
}

// hasVector says whether a section's payload is a vector of entries.
func hasVector(id byte) bool {
	switch id {
	case secType, secImport, secFunction, secTable, secMemory, secGlobal,
		secExport, secElement, secCode, secData, secTag:
		return true
	}
	return false
}

// skipBytes skips a vec(byte).
func skipBytes(b []byte, pos int) (int, error) {
	n, pos, err := readU32(b, pos)
	if err != nil {
		return pos, err
	}
	if uint64(n) > uint64(len(b)-pos) {
		return pos, fmt.Errorf("byte vector of %d bytes but only %d follow", n, len(b)-pos)
	}
	return pos + int(n), nil
}

// screenTypes checks the type section: function types only, with
// single-byte value types and parameter and result counts that fit. It
// returns each type's parameter count and result types (one byte each).
func screenTypes(s section) (params []uint32, results [][]byte, err error) {
	b := s.payload
	n, pos, err := readU32(b, 0)
	if err != nil {
		return nil, nil, err
	}
	params = make([]uint32, 0, n) // n fits the payload (checkCount)
	results = make([][]byte, 0, n)
	for i := uint32(0); i < n; i++ {
		if pos >= len(b) {
			return nil, nil, fmt.Errorf("type %d: %w", i, errEOF)
		}
		if b[pos] != 0x60 {
			return nil, nil, fmt.Errorf("type %d: unsupported type form 0x%02x", i, b[pos])
		}
		pos++
		for j := 0; j < 2; j++ { // params, results
			var k uint32
			if k, pos, err = readU32(b, pos); err == nil {
				err = checkCount(k, b, pos)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("type %d: %w", i, err)
			}
			start := pos
			for ; k > 0; k-- {
				if !isValType(b[pos]) {
					return nil, nil, fmt.Errorf("type %d: unsupported value type 0x%02x", i, b[pos])
				}
				pos++
			}
			if j == 0 {
				params = append(params, uint32(pos-start))
			} else {
				results = append(results, b[start:pos])
			}
		}
	}
	if pos != len(b) {
		return nil, nil, fmt.Errorf("section size mismatch: %d bytes left after %d types", len(b)-pos, n)
	}
	return params, results, nil
}

// screenData checks the data section: mode, offset expression and the size
// of each segment's bytes.
func (m *module) screenData(s section) error {
	b := s.payload
	n, pos, err := readU32(b, 0)
	if err != nil {
		return err
	}
	d := decoder{gasIdx: m.gasIndex()}
	for i := uint32(0); i < n; i++ {
		var flags uint32
		if flags, pos, err = readU32(b, pos); err != nil {
			return fmt.Errorf("data segment %d: %w", i, err)
		}
		switch flags {
		case 0: // active, memory 0
			pos, err = d.constExpr(b, pos, s.offset)
		case 1: // passive
		case 2: // active, explicit memory
			if _, pos, err = readU32(b, pos); err == nil {
				pos, err = d.constExpr(b, pos, s.offset)
			}
		default:
			err = fmt.Errorf("unknown flags %d", flags)
		}
		if err == nil {
			pos, err = skipBytes(b, pos)
		}
		if err != nil {
			return fmt.Errorf("data segment %d: %w", i, err)
		}
	}
	if pos != len(b) {
		return fmt.Errorf("section size mismatch: %d bytes left after %d data segments", len(b)-pos, n)
	}
	return nil
}

// screenElements checks the element section: all eight segment encodings
// and the length of each segment's function index or expression vector.
func (m *module) screenElements(s section) error {
	b := s.payload
	n, pos, err := readU32(b, 0)
	if err != nil {
		return err
	}
	d := decoder{gasIdx: m.gasIndex()}
	for i := uint32(0); i < n; i++ {
		if err = d.elementSegment(b, &pos, s.offset); err != nil {
			return fmt.Errorf("element segment %d: %w", i, err)
		}
	}
	if pos != len(b) {
		return fmt.Errorf("section size mismatch: %d bytes left after %d element segments", len(b)-pos, n)
	}
	return nil
}

func (d *decoder) elementSegment(b []byte, p *int, base int) error {
	flags, pos, err := readU32(b, *p)
	defer func() { *p = pos }()
	if err != nil {
		return err
	}
	if flags > 7 {
		return fmt.Errorf("unknown flags %d", flags)
	}
	active := flags&1 == 0
	if active && flags&2 != 0 { // explicit table index
		if _, pos, err = readU32(b, pos); err != nil {
			return err
		}
	}
	if active {
		if pos, err = d.constExpr(b, pos, base); err != nil {
			return err
		}
	}
	if flags&3 != 0 { // elemkind or reftype byte
		if pos >= len(b) {
			return errEOF
		}
		pos++
	}
	var count uint32
	if count, pos, err = readU32(b, pos); err != nil {
		return err
	}
	if err = checkCount(count, b, pos); err != nil {
		return err
	}
	for j := uint32(0); j < count; j++ {
		if flags&4 != 0 {
			pos, err = d.constExpr(b, pos, base)
		} else {
			_, pos, err = readU32(b, pos)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// screenNameSection checks the function-names and local-names subsections
// of a custom section called "name", the parts wazero decodes. Other custom
// sections are opaque to wazero and to this pass.
func screenNameSection(s section) error {
	b := s.payload
	start, end, err := readName(b, 0)
	if err != nil {
		return nil // not a readable custom section name: wazero reports it
	}
	if string(b[start:end]) != "name" {
		return nil
	}
	pos := end
	for pos < len(b) {
		id := b[pos]
		var size uint32
		if size, pos, err = readU32(b, pos+1); err != nil {
			return fmt.Errorf("name subsection %d: size: %w", id, err)
		}
		if uint64(size) > uint64(len(b)-pos) {
			return fmt.Errorf("name subsection %d: size %d exceeds the %d bytes left", id, size, len(b)-pos)
		}
		sub := b[pos : pos+int(size)]
		pos += int(size)
		switch id {
		case 1: // function names: vec(index name)
			_, err = nameMap(sub, 0)
		case 2: // local names: vec(index vec(index name))
			var n uint32
			var q int
			if n, q, err = readU32(sub, 0); err == nil {
				err = checkCount(n, sub, q)
			}
			for i := uint32(0); i < n && err == nil; i++ {
				if _, q, err = readU32(sub, q); err == nil {
					q, err = nameMap(sub, q)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("name subsection %d: %w", id, err)
		}
	}
	return nil
}

// nameMap skips a vec(index name) and returns the position after it.
func nameMap(b []byte, pos int) (int, error) {
	n, pos, err := readU32(b, pos)
	if err != nil {
		return pos, err
	}
	if err = checkCount(n, b, pos); err != nil {
		return pos, err
	}
	for i := uint32(0); i < n; i++ {
		if _, pos, err = readU32(b, pos); err != nil {
			return pos, err
		}
		if _, pos, err = readName(b, pos); err != nil {
			return pos, err
		}
	}
	return pos, nil
}
