//go:build crashpoints

package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Enabled reports whether this binary was built with crash points.
const Enabled = true

var armed = parse(os.Getenv(EnvVar))

type target struct {
	point string
	n     int64
	ok    bool
}

func parse(v string) target {
	if v == "" {
		return target{}
	}
	point, n, found := strings.Cut(v, "@")
	h, err := strconv.ParseInt(n, 10, 64)
	if !found || err != nil || !known(point) {
		fmt.Fprintf(os.Stderr, "CRASHPOINT ignored: %s=%q is not <point>@<n> with point one of %s\n", EnvVar, v, strings.Join(Points, ", "))
		return target{}
	}
	return target{point: point, n: h, ok: true}
}

func known(point string) bool {
	for _, p := range Points {
		if p == point {
			return true
		}
	}
	return false
}

// Hit kills the process if the armed crash point is point at n.
func Hit(point string, n int64) {
	if !armed.ok || armed.point != point || armed.n != n {
		return
	}
	fmt.Fprintf(os.Stderr, "CRASHPOINT %s@%d: killing the process\n", point, n)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL cannot be caught: never return into the code that follows
}
