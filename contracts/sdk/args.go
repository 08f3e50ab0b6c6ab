package sdk

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unsafe"
)

// The arguments of nearly every call are a flat JSON object of short ASCII strings and
// integers, and encoding/json's reflective scanner is most of what such a call costs in a
// Go wasm guest (about 95,000 of kv.set's 122,000 gas). decodeFlat decodes exactly that
// shape straight into the struct's fields; for any other document it reports false and
// ParseArgs hands the arguments to encoding/json instead. It accepts only documents that
// encoding/json decodes without error to the same value (FuzzDecodeFlat checks both), so a
// contract's results do not depend on which of the two decoded its arguments.

// maxFlatFields bounds the fields of an object decodeFlat handles; more go to encoding/json.
const maxFlatFields = 16

// fieldKind is how decodeFlat stores a value into a field.
type fieldKind uint8

const (
	kindString fieldKind = iota + 1
	kindBool
	kindInt
	kindUint
)

// argField is one field decodeFlat can set or encodeFlat write: its JSON name and where it
// lies in the struct.
type argField struct {
	name      string
	offset    uintptr
	kind      fieldKind
	bits      int  // of an integer field
	omitEmpty bool // omitempty or omitzero: encoding skips the zero value
}

// argPlan is how decodeFlat decodes into one struct type; nil fields means it does not.
type argPlan struct {
	fields []argField
}

// decodePlans caches a plan per argument type (the pointer ParseArgs gets), encodePlans
// per result type (the struct JSON gets). A guest is single-threaded; the warm-ups fill
// both before the snapshot, so a call finds its plan built.
var decodePlans, encodePlans = map[reflect.Type]*argPlan{}, map[reflect.Type]*argPlan{}

var (
	unmarshalers = []reflect.Type{reflect.TypeFor[json.Unmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler]()}
	marshalers   = []reflect.Type{reflect.TypeFor[json.Marshaler](), reflect.TypeFor[encoding.TextMarshaler]()}
)

// decodePlan returns the plan for decoding into t, a pointer to a struct.
func decodePlan(t reflect.Type) *argPlan {
	if p, ok := decodePlans[t]; ok {
		return p
	}
	p := &argPlan{}
	if t.Kind() == reflect.Pointer {
		p.fields = flatFields(t.Elem(), unmarshalers)
	}
	decodePlans[t] = p
	return p
}

// encodePlan returns the plan for encoding t, a struct.
func encodePlan(t reflect.Type) *argPlan {
	if p, ok := encodePlans[t]; ok {
		return p
	}
	p := &argPlan{fields: flatFields(t, marshalers)}
	encodePlans[t] = p
	return p
}

// implementsAny reports whether t or *t implements one of ifaces.
func implementsAny(t reflect.Type, ifaces []reflect.Type) bool {
	for _, i := range ifaces {
		if t.Implements(i) || reflect.PointerTo(t).Implements(i) {
			return true
		}
	}
	return false
}

// flatFields lists the fields of struct type st when the short paths can decode or encode
// it as encoding/json would: exported, not embedded, of a string, bool or integer kind,
// none implementing one of custom (encoding/json's hooks), with a plain JSON name no other
// field shares. Otherwise it returns nil.
func flatFields(st reflect.Type, custom []reflect.Type) []argField {
	if st.Kind() != reflect.Struct || implementsAny(st, custom) {
		return nil
	}
	var fields []argField
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if f.Anonymous {
			return nil
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		omit := false
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "":
			case "omitempty", "omitzero":
				omit = true
			default:
				return nil // ",string" and unknown options change the encoding
			}
		}
		if name == "" {
			name = f.Name
		}
		if !plainName(name) {
			return nil
		}
		if implementsAny(f.Type, custom) {
			return nil
		}
		af := argField{name: name, offset: f.Offset, omitEmpty: omit}
		switch f.Type.Kind() {
		case reflect.String:
			af.kind = kindString
		case reflect.Bool:
			af.kind = kindBool
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			af.kind, af.bits = kindInt, f.Type.Bits()
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			af.kind, af.bits = kindUint, f.Type.Bits()
		default:
			return nil
		}
		for _, g := range fields {
			// encoding/json matches names case-insensitively when no name matches exactly;
			// two names equal but for case make that choice its own.
			if strings.EqualFold(g.name, name) {
				return nil
			}
		}
		fields = append(fields, af)
	}
	if len(fields) == 0 || len(fields) > maxFlatFields {
		return nil
	}
	return fields
}

// plainName reports whether a JSON field name is letters, digits and underscores only, so
// encoding/json uses it as written.
func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// flatValue is one decoded member, held until the whole document has been checked.
type flatValue struct {
	field *argField
	str   []byte // the raw string of a string member
	num   uint64 // an integer (two's complement for kindInt) or a bool (0 or 1)
}

// decodeFlat decodes data into v when data is a flat object whose members each name a
// field of v's plan exactly, once, with a value of the field's kind: a string of printable
// ASCII without escapes, an integer without fraction or exponent that fits the field, or
// true/false. It reports false, leaving v untouched, for anything else.
func decodeFlat(data []byte, v any) bool {
	p := decodePlan(reflect.TypeOf(v))
	if p.fields == nil {
		return false
	}
	base := (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1] // v's pointer: plans exist only for *struct
	if base == nil {
		return false
	}
	var vals [maxFlatFields]flatValue
	n := 0
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			key, j, ok := plainString(data, i)
			if !ok {
				return false
			}
			f := p.field(key)
			if f == nil {
				return false // unknown, or matching only case-insensitively: encoding/json's rules
			}
			for _, prev := range vals[:n] {
				if prev.field == f {
					return false // a repeated member: encoding/json keeps the last
				}
			}
			j = skipSpace(data, j)
			if j >= len(data) || data[j] != ':' {
				return false
			}
			j = skipSpace(data, j+1)
			val := flatValue{field: f}
			switch f.kind {
			case kindString:
				val.str, j, ok = plainString(data, j)
			case kindBool:
				val.num, j, ok = boolLiteral(data, j)
			case kindInt, kindUint:
				val.num, j, ok = integer(data, j, f.kind, f.bits)
			}
			if !ok {
				return false
			}
			vals[n] = val
			n++
			j = skipSpace(data, j)
			if j >= len(data) {
				return false
			}
			if data[j] == '}' {
				i = j + 1
				break
			}
			if data[j] != ',' {
				return false
			}
			i = skipSpace(data, j+1)
		}
	}
	if skipSpace(data, i) != len(data) {
		return false
	}
	for _, val := range vals[:n] {
		ptr := unsafe.Add(base, val.field.offset)
		switch val.field.kind {
		case kindString:
			*(*string)(ptr) = string(val.str)
		case kindBool:
			*(*bool)(ptr) = val.num == 1
		default:
			storeInt(ptr, val.field.bits, val.num)
		}
	}
	return true
}

// field returns the plan's field named exactly key, or nil.
func (p *argPlan) field(key []byte) *argField {
	for i := range p.fields {
		if p.fields[i].name == string(key) {
			return &p.fields[i]
		}
	}
	return nil
}

// skipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at data[i] made of printable ASCII without escapes and
// returns its contents and the index after it.
func plainString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, i, false
	}
	j := i + 1
	// Eight bytes a step while none is special: a byte at a time costs a Go wasm guest
	// about 200 gas, most of it the branches.
	for ; j+8 <= len(data) && !special(binary.LittleEndian.Uint64(data[j:])); j += 8 {
	}
	for ; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return data[i+1 : j], j + 1, true
		case c < 0x20 || c >= 0x80 || c == '\\':
			return nil, j, false
		}
	}
	return nil, len(data), false
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// load8 returns the first eight bytes of s as a little-endian word.
func load8(s string) uint64 {
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// below has the high bit set in some byte when one of x's bytes is less than n (n <= 128).
func below(x, n uint64) uint64 { return (x - ones*n) & ^x & highs }

// htmlSpecial reports whether any of the eight bytes in x is one special reports, or one
// encoding/json escapes in HTML: <, > or &.
func htmlSpecial(x uint64) bool {
	return special(x) || (below(x^(ones*'<'), 1)|below(x^(ones*'>'), 1)|below(x^(ones*'&'), 1)) != 0
}

// special reports whether any of the eight bytes in x ends or escapes a JSON string, or
// is a control character or not ASCII: the bytes plainString must look at one by one.
func special(x uint64) bool {
	return (x&highs | below(x, 0x20) | below(x^(ones*'"'), 1) | below(x^(ones*'\\'), 1)) != 0
}

// boolLiteral reads true or false at data[i].
func boolLiteral(data []byte, i int) (uint64, int, bool) {
	switch {
	case hasWord(data, i, "true"):
		return 1, i + 4, true
	case hasWord(data, i, "false"):
		return 0, i + 5, true
	}
	return 0, i, false
}

// hasWord reports whether the literal w is at data[i] and not followed by more of a word.
func hasWord(data []byte, i int, w string) bool {
	if len(data)-i < len(w) || string(data[i:i+len(w)]) != w {
		return false
	}
	end := i + len(w)
	return end == len(data) || !('a' <= data[end] && data[end] <= 'z' || '0' <= data[end] && data[end] <= '9')
}

// integer reads a JSON number at data[i] that is an integer in JSON's own syntax (no
// leading zeros, no fraction or exponent, a minus sign only for signed fields) and fits a
// field of the given kind and width.
func integer(data []byte, i int, kind fieldKind, bits int) (uint64, int, bool) {
	j := i
	if j < len(data) && data[j] == '-' {
		if kind != kindInt {
			return 0, i, false
		}
		j++
	}
	start := j
	for j < len(data) && '0' <= data[j] && data[j] <= '9' {
		j++
	}
	switch {
	case j == start, data[start] == '0' && j-start > 1:
		return 0, i, false
	case j < len(data) && (data[j] == '.' || data[j] == 'e' || data[j] == 'E'):
		return 0, i, false
	}
	if kind == kindInt {
		n, err := strconv.ParseInt(string(data[i:j]), 10, bits)
		return uint64(n), j, err == nil
	}
	n, err := strconv.ParseUint(string(data[i:j]), 10, bits)
	return n, j, err == nil
}

// encodeFlat encodes v, a struct, when its plan allows and every string in it is printable
// ASCII that encoding/json writes as it is (no quote, backslash, <, > or &), to the bytes
// json.Marshal would give; otherwise it reports false.
func encodeFlat(v any) ([]byte, bool) {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Struct {
		return nil, false
	}
	p := encodePlan(t)
	if p.fields == nil {
		return nil, false
	}
	base := (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1] // a struct in an interface is boxed
	n := 2
	for _, f := range p.fields {
		n += len(f.name) + 4 + 20
		if f.kind == kindString {
			n += len(*(*string)(unsafe.Add(base, f.offset)))
		}
	}
	b := append(make([]byte, 0, n), '{')
	for i := range p.fields {
		f := &p.fields[i]
		ptr := unsafe.Add(base, f.offset)
		var num uint64
		var str string
		switch f.kind {
		case kindString:
			str = *(*string)(ptr)
			if !jsonPlain(str) {
				return nil, false
			}
			num = uint64(len(str))
		case kindBool:
			if *(*bool)(ptr) {
				num = 1
			}
		default:
			num = loadInt(ptr, f.bits, f.kind == kindInt)
		}
		if f.omitEmpty && num == 0 {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.name...)
		b = append(b, '"', ':')
		switch f.kind {
		case kindString:
			b = append(b, '"')
			b = append(b, str...)
			b = append(b, '"')
		case kindBool:
			b = strconv.AppendBool(b, num == 1)
		case kindInt:
			b = strconv.AppendInt(b, int64(num), 10)
		default:
			b = strconv.AppendUint(b, num, 10)
		}
	}
	return append(b, '}'), true
}

// jsonPlain reports whether encoding/json writes s between quotes unchanged.
func jsonPlain(s string) bool {
	i := 0
	for ; i+8 <= len(s) && !htmlSpecial(load8(s[i:])); i += 8 {
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// loadInt reads the integer field at ptr, sign-extended when signed.
func loadInt(ptr unsafe.Pointer, bits int, signed bool) uint64 {
	switch {
	case bits == 8 && signed:
		return uint64(int64(*(*int8)(ptr)))
	case bits == 8:
		return uint64(*(*uint8)(ptr))
	case bits == 16 && signed:
		return uint64(int64(*(*int16)(ptr)))
	case bits == 16:
		return uint64(*(*uint16)(ptr))
	case bits == 32 && signed:
		return uint64(int64(*(*int32)(ptr)))
	case bits == 32:
		return uint64(*(*uint32)(ptr))
	}
	return *(*uint64)(ptr)
}

// storeInt writes the low bits of n into the integer field at ptr.
func storeInt(ptr unsafe.Pointer, bits int, n uint64) {
	switch bits {
	case 8:
		*(*uint8)(ptr) = uint8(n)
	case 16:
		*(*uint16)(ptr) = uint16(n)
	case 32:
		*(*uint32)(ptr) = uint32(n)
	default:
		*(*uint64)(ptr) = n
	}
}
