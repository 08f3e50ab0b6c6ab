package meter

import (
	"errors"
	"math"
	"testing"
)

func TestReadU32(t *testing.T) {
	tests := []struct {
		in   []byte
		want uint32
		n    int
		err  error
	}{
		{[]byte{0x00}, 0, 1, nil},
		{[]byte{0x7f}, 127, 1, nil},
		{[]byte{0x80, 0x01}, 128, 2, nil},
		{[]byte{0x80, 0x00}, 0, 2, nil}, // non-canonical but valid
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, math.MaxUint32, 5, nil},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x1f}, 0, 5, errOverflow},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, 5, errOverflow},
		{[]byte{}, 0, 0, errEOF},
		{[]byte{0x80}, 0, 1, errEOF},
	}
	for _, tc := range tests {
		v, n, err := readU32(tc.in, 0)
		if !errors.Is(err, tc.err) || (err == nil && (v != tc.want || n != tc.n)) {
			t.Errorf("readU32(% x) = %d, %d, %v; want %d, %d, %v", tc.in, v, n, err, tc.want, tc.n, tc.err)
		}
	}
}

func TestReadSigned(t *testing.T) {
	tests := []struct {
		in   []byte
		bits uint
		want int64
		err  error
	}{
		{[]byte{0x00}, 32, 0, nil},
		{[]byte{0x7f}, 32, -1, nil},
		{[]byte{0x3f}, 32, 63, nil},
		{[]byte{0x40}, 32, -64, nil},
		{[]byte{0xc0, 0x00}, 32, 64, nil},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x78}, 32, math.MinInt32, nil},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x07}, 32, math.MaxInt32, nil},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 32, 0, errOverflow}, // 2^32-1 does not fit
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 33, math.MaxUint32, nil},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 32, 0, errOverflow},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, 64, math.MinInt64, nil},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, 64, math.MaxInt64, nil},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 64, 0, errOverflow},
		{[]byte{0x80}, 64, 0, errEOF},
	}
	for _, tc := range tests {
		v, _, err := readSigned(tc.in, 0, tc.bits)
		if !errors.Is(err, tc.err) || (err == nil && v != tc.want) {
			t.Errorf("readSigned(% x, %d) = %d, %v; want %d, %v", tc.in, tc.bits, v, err, tc.want, tc.err)
		}
	}
}

func TestAppendRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, 127, 128, 1 << 20, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64} {
		b := appendS64(nil, v)
		got, n, err := readSigned(b, 0, 64)
		if err != nil || got != v || n != len(b) {
			t.Errorf("appendS64(%d) = % x, read back %d, %d, %v", v, b, got, n, err)
		}
	}
	for _, v := range []uint32{0, 1, 127, 128, 16383, 16384, math.MaxUint32} {
		b := appendU32(nil, v)
		got, n, err := readU32(b, 0)
		if err != nil || got != v || n != len(b) {
			t.Errorf("appendU32(%d) = % x, read back %d, %d, %v", v, b, got, n, err)
		}
	}
}
