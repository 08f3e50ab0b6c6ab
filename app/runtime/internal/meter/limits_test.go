package meter

import (
	"strings"
	"testing"
)

// TestTableLimits: a table may declare at most maxTableElements, and table.grow is refused,
// because wazero allocates every element and gas per instruction cannot pay for that
// (table.grow would also change state the host does not restore).
func TestTableLimits(t *testing.T) {
	table := func(limits ...byte) []byte { return sec(secTable, vec(append([]byte{0x70}, limits...))) }
	fn := func(code ...byte) []byte {
		return mod(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(u32(0))),
			table(0x00, 0x01),
			sec(secCode, vec(body(nil, code...))),
		)
	}
	cases := []struct {
		name string
		wasm []byte
		want string // "" accepted
	}{
		{"small table", mod(table(cat([]byte{0x00}, u32(6260))...)), ""},
		{"table at the limit", mod(table(cat([]byte{0x01}, u32(maxTableElements), u32(maxTableElements))...)), ""},
		{"table over the limit", mod(table(cat([]byte{0x00}, u32(maxTableElements+1))...)), "at most 1048576"},
		{"2^27 elements", mod(table(cat([]byte{0x00}, u32(1<<27))...)), "at most 1048576"},
		{"truncated limits", mod(table(0x01, 0x05)), "table 0"},
		{"table.grow", fn(0xd0, 0x70, 0x41, 0xff, 0xff, 0xff, 0xff, 0x07, 0xfc, 15, 0, opDrop, opEnd), "table.grow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Instrument(tc.wasm, rules1)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
