package tx

import (
	"fmt"
	"testing"
)

// TestAddressString: an address prints as CometBFT prints addresses (upper-case hex) and
// parses back.
func TestAddressString(t *testing.T) {
	for _, a := range []Address{
		{},
		{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xf0, 0x0f, 0x10, 0xa5, 0x5a, 0xff, 0x80, 0x7f, 0x99, 0xc3, 0x3c, 0xee},
		AddressOf(make([]byte, 32)),
	} {
		want := fmt.Sprintf("%X", a[:])
		if got := a.String(); got != want {
			t.Fatalf("String() = %s, want %s", got, want)
		}
		if b, err := ParseAddress(a.String()); err != nil || b != a {
			t.Fatalf("ParseAddress(%s) = %s, %v", a, b, err)
		}
	}
}
