package upgrade

import (
	"go/build"
	"strings"
	"testing"
)

// TestRulesNeedNoEngine: the packages that decide what the chain accepts (lifecycle, genesis,
// profiles, transactions, state) never import the engine that executes contracts, so they can
// be read, tested and reused without wazero.
func TestRulesNeedNoEngine(t *testing.T) {
	const module = "github.com/vchain/vchain/"
	for _, pkg := range []string{"app/upgrade", "app/genesis", "app/profile", "app/tx", "app/state", "app/modhash"} {
		seen := map[string]bool{}
		var walk func(path, from string)
		walk = func(path, from string) {
			if seen[path] {
				return
			}
			seen[path] = true
			if strings.HasPrefix(path, "github.com/tetratelabs/wazero") || path == module+"app/runtime" {
				t.Errorf("%s reaches %s (through %s)", pkg, path, from)
				return
			}
			if !strings.HasPrefix(path, module) {
				return
			}
			p, err := build.Default.Import(path, "", 0)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			for _, imp := range p.Imports {
				walk(imp, path)
			}
		}
		walk(module+pkg, pkg)
	}
}
