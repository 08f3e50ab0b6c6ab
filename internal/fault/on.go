//go:build faults

package fault

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/vchain/vchain/app/state"
)

// Enabled reports whether this binary was built with faults.
const Enabled = true

var armed = parse(os.Getenv(EnvVar))

type target struct {
	height int64
	ok     bool
}

func parse(v string) target {
	if v == "" {
		return target{}
	}
	kind, n, found := strings.Cut(v, "@")
	h, err := strconv.ParseInt(n, 10, 64)
	if !found || err != nil || kind != Diverged || h < 1 {
		fmt.Fprintf(os.Stderr, "FAULT ignored: %s=%q is not %s@<height>\n", EnvVar, v, Diverged)
		return target{}
	}
	return target{height: h, ok: true}
}

// Diverge adds DivergedKey to writes, the write set of the block at height, when the
// diverge fault is armed at that height.
func Diverge(height int64, writes *state.Cache) {
	if !armed.ok || armed.height != height {
		return
	}
	writes.Set(DivergedKey, state.EncodeUint64(uint64(height)))
	fmt.Fprintf(os.Stderr, "FAULT %s@%d: one write of the block changed\n", Diverged, height)
}
