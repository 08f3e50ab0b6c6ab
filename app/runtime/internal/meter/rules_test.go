package meter

import (
	"bytes"
	"strings"
	"testing"
)

// TestRulesValidate: rules the pass cannot honour are refused before any
// module is read.
func TestRulesValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Rules)
		want   string // "" accepted
	}{
		{"profile 1", func(*Rules) {}, ""},
		{"free instructions", func(r *Rules) { r.Default = 0 }, "Default"},
		{"bytes per gas 0", func(r *Rules) { r.BulkBytesPerGas = 0 }, "BulkBytesPerGas"},
		{"bytes per gas 12", func(r *Rules) { r.BulkBytesPerGas = 12 }, "BulkBytesPerGas"},
		{"bytes per gas 2^31", func(r *Rules) { r.BulkBytesPerGas = 1 << 31 }, ""},
		{"depth 0", func(r *Rules) { r.MaxCallDepth = 0 }, "MaxCallDepth"},
		{"depth 2^31", func(r *Rules) { r.MaxCallDepth = 1 << 31 }, "MaxCallDepth"},
		{"depth 1", func(r *Rules) { r.MaxCallDepth = 1 }, ""},
		{"pages 0", func(r *Rules) { r.MemoryLimitPages = 0 }, "MemoryLimitPages"},
		{"pages 65537", func(r *Rules) { r.MemoryLimitPages = 65537 }, "MemoryLimitPages"},
		{"pages 65536", func(r *Rules) { r.MemoryLimitPages = 65536 }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rules1
			tc.mutate(&r)
			_, err := Instrument(loopModule, r)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestPricesFromRules: the charges come from the rules, not from constants.
func TestPricesFromRules(t *testing.T) {
	// f: i32.const 1; drop; call g; end. g: end.
	wasm := mod(
		sec(secType, vec(functype(nil, nil))),
		sec(secFunction, vec(u32(0), u32(0))),
		sec(secExport, vec(export("f", kindFunc, 0))),
		sec(secCode, vec(body(nil, opI32Const, 1, opDrop, opCall, 1, opEnd), body(nil, opEnd))),
	)
	cases := []struct {
		name          string
		defaults, cal uint32
	}{
		{"profile 1", 1, 10},
		{"dearer", 3, 7},
	}
	for _, e := range engines {
		for _, tc := range cases {
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				r := rules1
				r.Default, r.Call = tc.defaults, tc.cal
				_, left, err := runWith(t, e.cfg(), wasm, r, 1000, "f")
				if err != nil {
					t.Fatal(err)
				}
				if used, want := 1000-left, int64(4*tc.defaults+tc.cal); used != want {
					t.Fatalf("used %d gas, want %d", used, want)
				}
			})
		}
	}
}

// TestMemoryCap: the memory's maximum becomes min(declared, cap), a module
// whose memory starts above the cap is refused, and so are memories the
// cap could not reach (imported) or describe (several, shared).
func TestMemoryCap(t *testing.T) {
	const limit = 16
	memory := func(limits ...byte) []byte { return mod(sec(secMemory, vec(limits))) }
	capped := func(min, max uint32) []byte {
		return sec(secMemory, vec(cat([]byte{0x01}, u32(min), u32(max))))
	}
	cases := []struct {
		name string
		wasm []byte
		want []byte // the output's memory section
		err  string
	}{
		{"no maximum", memory(0x00, 2), capped(2, limit), ""},
		{"maximum above the cap", memory(0x01, 2, 200, 1), capped(2, limit), ""},
		{"maximum below the cap", memory(0x01, 2, 5), capped(2, 5), ""},
		{"minimum at the cap", memory(0x00, limit), capped(limit, limit), ""},
		{"minimum above the cap", memory(0x00, limit+1), nil, "starts at 17 pages, the limit is 16"},
		{"two memories", mod(sec(secMemory, vec([]byte{0x00, 1}, []byte{0x00, 1}))), nil, "multiple memories"},
		{"shared", memory(0x03, 1, 2), nil, "shared"},
		{"imported", mod(sec(secImport, vec(cat(name("env"), name("m"), []byte{kindMemory, 0x00, 1})))), nil, "imported memory"},
		{"truncated", mod(sec(secMemory, []byte{0x01, 0x01})), nil, "memory"},
		{"no memory", mod(), nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rules1
			r.MemoryLimitPages = limit
			out, err := Instrument(tc.wasm, r)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error naming %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			secs, err := splitSections(out)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			for _, s := range secs {
				if s.id == secMemory {
					got = s.raw
				}
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("memory section % x, want % x", got, tc.want)
			}
		})
	}
}

// TestMemoryCapHolds: under an engine with no limit of its own, memory.grow
// stops at the cap.
func TestMemoryCapHolds(t *testing.T) {
	const limit = 16
	// f(n) = memory.grow(n), memory min 1 without maximum.
	wasm := mod(
		sec(secType, vec(functype([]byte{i32}, []byte{i32}))),
		sec(secFunction, vec(u32(0))),
		sec(secMemory, vec([]byte{0x00, 0x01})),
		sec(secExport, vec(export("f", kindFunc, 0))),
		sec(secCode, vec(body(nil, opLocalGet, 0, 0x40, 0x00, opEnd))),
	)
	r := rules1
	r.MemoryLimitPages = limit
	for _, e := range engines {
		for _, tc := range []struct {
			pages uint64
			want  int32
		}{{limit - 1, 1}, {limit, -1}, {1000, -1}} {
			res, _, err := runWith(t, e.cfg(), wasm, r, 1000, "f", tc.pages)
			if err != nil {
				t.Fatal(err)
			}
			if got := int32(res[0]); got != tc.want {
				t.Errorf("%s: memory.grow(%d) = %d, want %d", e.name, tc.pages, got, tc.want)
			}
		}
	}
}
