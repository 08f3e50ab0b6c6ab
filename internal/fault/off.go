//go:build !faults

package fault

import "github.com/vchain/vchain/app/state"

// Enabled reports whether this binary was built with faults.
const Enabled = false

// Diverge does nothing: this build has no faults.
func Diverge(int64, *state.Cache) {}
