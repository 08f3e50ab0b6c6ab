//go:build !linux

package runtime

import "errors"

// Without Linux's userfaultfd and PAGEMAP_SCAN a restore copies the whole memory: the
// state it yields is the same, only slower.
func trackingAvailable() error { return errors.New("page tracking needs Linux") }

type trackedMemory struct{ armed bool }

func newTrackedMemory(uint64) (*trackedMemory, error) { return nil, trackingAvailable() }

func (t *trackedMemory) Reallocate(uint64) []byte { return nil }
func (t *trackedMemory) Free()                    {}
func (t *trackedMemory) arm(uint64) error         { return trackingAvailable() }
func (t *trackedMemory) written(uint64, func(lo, hi uint64)) error {
	return trackingAvailable()
}

func useTracking() bool {
	mechanism.once.Do(func() { mechanism.why = "full compare (page tracking needs Linux)" })
	return mechanism.track
}

// RestoreMechanism says how this process restores instances, and why.
func RestoreMechanism() string {
	useTracking()
	return mechanism.why
}
