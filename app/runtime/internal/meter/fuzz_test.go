package meter

import (
	"context"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero"
)

// FuzzInstrument feeds arbitrary bytes to Instrument. It must never panic,
// and whenever the input is a module wazero accepts, the instrumented module
// must be accepted too (a charge landing inside an instruction, a wrong size
// or a bad index would make it invalid).
func FuzzInstrument(f *testing.F) {
	for _, seed := range [][]byte{
		loopModule, straightModule, recursiveModule, recurseForeverModule,
		countdownModule, callModule, ifModule, mod(),
		nanModule(nanCases), // every float instruction the NaN rule fixes
	} {
		f.Add(seed)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := Instrument(wasm, rules1)
		if err != nil {
			return
		}
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
		defer r.Close(ctx)
		if panicked, err := compile(ctx, r, wasm); panicked {
			// A wazero bug on the original input, not ours; see
			// module.parseFunctions for one that Instrument screens out.
			t.Skipf("wazero panicked on the input: %v", err)
		} else if err != nil {
			return
		}
		if panicked, err := compile(ctx, r, out); err != nil {
			t.Fatalf("input compiles but instrumented output does not (panic: %v): %v", panicked, err)
		}
	})
}

// compile compiles wasm, turning a wazero panic into an error.
func compile(ctx context.Context, r wazero.Runtime, wasm []byte) (panicked bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked, err = true, fmt.Errorf("panic: %v", p)
		}
	}()
	_, err = r.CompileModule(ctx, wasm)
	return false, err
}
