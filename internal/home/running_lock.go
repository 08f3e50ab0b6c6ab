//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package home

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// NodeRunning reports whether a process runs the node of this home: `vchaind start` holds
// the lock of the app store (data/vchain.db/LOCK) for its whole life, in both ABCI modes,
// and the kernel drops it when the process ends, even killed. Unlike a failed dial, this
// never takes a node that runs but does not answer (another port, a hung RPC) for a
// stopped one. pebble locks with fcntl, goleveldb with flock: both are probed.
func (p Paths) NodeRunning() (bool, error) {
	path := filepath.Join(p.Data(), "vchain.db", "LOCK")
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // never started
	}
	if err != nil {
		return false, fmt.Errorf("is the node running? %w", err)
	}
	defer f.Close()
	// F_GETLK only asks; it places no lock.
	lk := syscall.Flock_t{Type: syscall.F_RDLCK, Whence: io.SeekStart}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return false, fmt.Errorf("is the node running? fcntl %s: %w", path, err)
	}
	if lk.Type != syscall.F_UNLCK {
		return true, nil
	}
	// flock has no query: a shared lock is taken and dropped at once. A goleveldb node
	// holds an exclusive one, so this fails while it runs.
	switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); {
	case errors.Is(err, syscall.EWOULDBLOCK):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("is the node running? flock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		return false, fmt.Errorf("is the node running? flock %s: %w", path, err)
	}
	return false, nil
}
