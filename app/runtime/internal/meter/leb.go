package meter

import "errors"

// LEB128 helpers. Decoders take the whole buffer and a position and return
// the new position, so hot loops never slice or allocate. They are strict
// about length (a u32 never takes more than 5 bytes) because an over-long
// encoding would otherwise let two decoders disagree about where the next
// instruction starts.

var (
	errEOF      = errors.New("unexpected end of input")
	errOverflow = errors.New("integer representation too long or out of range")
)

// readU32 decodes an unsigned LEB128 value of at most 32 bits at b[pos:].
func readU32(b []byte, pos int) (uint32, int, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if pos >= len(b) {
			return 0, pos, errEOF
		}
		c := b[pos]
		pos++
		if i == 4 && c&0xf0 != 0 {
			// Fifth byte: no continuation and only 4 payload bits fit.
			return 0, pos, errOverflow
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, pos, nil
		}
	}
	return 0, pos, errOverflow // not reached: the fifth byte check returns
}

// readSigned decodes a signed LEB128 value of the given bit width (32, 33 or
// 64) at b[pos:]. The unused high bits of the final byte must be a sign
// extension, as the spec requires.
func readSigned(b []byte, pos int, bits uint) (int64, int, error) {
	maxBytes := int((bits + 6) / 7)
	used := bits - 7*uint(maxBytes-1)           // payload bits in the last byte
	signMask := byte(0x7f) &^ (1<<(used-1) - 1) // sign bit plus extension bits
	var v int64
	var shift uint
	for i := 0; i < maxBytes; i++ {
		if pos >= len(b) {
			return 0, pos, errEOF
		}
		c := b[pos]
		pos++
		if i == maxBytes-1 {
			if c&0x80 != 0 {
				return 0, pos, errOverflow
			}
			if s := c & signMask; s != 0 && s != signMask {
				return 0, pos, errOverflow
			}
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, pos, nil
		}
	}
	return 0, pos, errOverflow // not reached
}

// maxU32Len is the longest encoding of a u32.
const maxU32Len = 5

// appendU32 appends the canonical unsigned LEB128 encoding of v.
func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendS64 appends the canonical signed LEB128 encoding of v.
func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
