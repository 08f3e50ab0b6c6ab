//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package home

import "errors"

// NodeRunning cannot tell on this system; callers treat that as "maybe running".
func (p Paths) NodeRunning() (bool, error) {
	return false, errors.New("cannot tell whether the node runs on this system")
}
