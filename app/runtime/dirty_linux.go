//go:build linux

package runtime

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Dirty page tracking through the kernel, so a restore copies back only the pages a call
// wrote (a kv.set writes about 16 of the ~850 pages of a Go module) instead of the whole
// memory. The linear memory is an mmap'd region registered with userfaultfd in
// write-protect async mode (Linux 6.7+): the kernel write-protects its pages, and a write
// to one simply clears the protection, with no handler thread. The PAGEMAP_SCAN ioctl
// lists the pages whose protection is gone, i.e. every page written since the region was
// last protected, by anyone (the guest, or a host function writing into guest memory).
// Only the mechanism is machine-specific: a restore yields the snapshot's bytes whether it
// copies the listed pages or the whole memory, and where the kernel lacks either feature
// the whole memory is copied.

// Kernel ABI values (linux/userfaultfd.h and linux/fs.h): the system headers here, and
// golang.org/x/sys, predate PAGEMAP_SCAN and the async write-protect features.
const (
	uffdUserModeOnly       = 1
	uffdAPI                = 0xAA
	uffdFeatureWPUnpopulat = 1 << 13
	uffdFeatureWPAsync     = 1 << 15
	uffdioAPI              = 0xC018AA3F // _IOWR(0xAA, 0x3F, struct uffdio_api)
	uffdioRegister         = 0xC020AA00 // _IOWR(0xAA, 0x00, struct uffdio_register)
	uffdioWriteProtect     = 0xC018AA06 // _IOWR(0xAA, 0x06, struct uffdio_writeprotect)
	uffdioRegisterModeWP   = 1 << 1
	uffdioWriteProtectWP   = 1 << 0
	pagemapScan            = 0xC0606610 // _IOWR('f', 16, struct pm_scan_arg)
	pmScanCheckWPAsync     = 1 << 1
	pageIsWritten          = 1 << 1
)

type uffdioAPIArg struct{ api, features, ioctls uint64 }

type uffdioRegisterArg struct{ start, len, mode, ioctls uint64 }

type uffdioWriteProtectArg struct{ start, len, mode uint64 }

type pageRegion struct{ start, end, categories uint64 }

type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages       uint64
	categoryInverted, categoryMask, categoryAnyofMask, returnMask uint64
}

var pagemap struct {
	once sync.Once
	f    *os.File
	err  error
}

// trackingAvailable reports whether this kernel can track written pages, checking once
// per process: /proc/self/pagemap must open, and a userfaultfd accept the async
// write-protect features.
func trackingAvailable() error {
	pagemap.once.Do(func() {
		f, err := os.Open("/proc/self/pagemap")
		if err != nil {
			pagemap.err = err
			return
		}
		fd, err := newUffd()
		if err != nil {
			f.Close()
			pagemap.err = err
			return
		}
		unix.Close(fd)
		// A scan of an empty range checks that the ioctl exists.
		var r pageRegion
		arg := pmScanArg{size: uint64(unsafe.Sizeof(pmScanArg{})), vec: uint64(uintptr(unsafe.Pointer(&r))), vecLen: 1}
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), pagemapScan, uintptr(unsafe.Pointer(&arg))); errno != 0 {
			f.Close()
			pagemap.err = fmt.Errorf("PAGEMAP_SCAN: %w", errno)
			return
		}
		pagemap.f = f
	})
	return pagemap.err
}

func newUffd() (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|uffdUserModeOnly, 0, 0)
	if errno != 0 {
		return -1, fmt.Errorf("userfaultfd: %w", errno)
	}
	api := uffdioAPIArg{api: uffdAPI, features: uffdFeatureWPAsync | uffdFeatureWPUnpopulat}
	if err := ioctl(int(fd), uffdioAPI, unsafe.Pointer(&api)); err != nil {
		unix.Close(int(fd))
		return -1, fmt.Errorf("UFFDIO_API with async write-protect: %w", err)
	}
	return int(fd), nil
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// trackedMemory is a linear memory whose written pages the kernel tracks. It implements
// wazero's experimental.LinearMemory: the region is reserved at the module's maximum, so
// growing never moves or fails it.
type trackedMemory struct {
	region []byte
	uffd   int
	armed  bool
	vec    [64]pageRegion
}

func newTrackedMemory(max uint64) (*trackedMemory, error) {
	if max == 0 {
		max = wasmPageSize
	}
	region, err := unix.Mmap(-1, 0, int(max), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", max, err)
	}
	// 4 KiB pages: a huge page would make one written byte cost a 2 MiB copy.
	_ = unix.Madvise(region, unix.MADV_NOHUGEPAGE)
	fd, err := newUffd()
	if err != nil {
		unix.Munmap(region)
		return nil, err
	}
	reg := uffdioRegisterArg{start: base(region), len: uint64(len(region)), mode: uffdioRegisterModeWP}
	if err := ioctl(fd, uffdioRegister, unsafe.Pointer(&reg)); err != nil {
		unix.Close(fd)
		unix.Munmap(region)
		return nil, fmt.Errorf("UFFDIO_REGISTER: %w", err)
	}
	return &trackedMemory{region: region, uffd: fd}, nil
}

func base(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// Reallocate implements experimental.LinearMemory.
func (t *trackedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(t.region)) {
		return nil
	}
	return t.region[:size]
}

// Free implements experimental.LinearMemory.
func (t *trackedMemory) Free() {
	unix.Close(t.uffd)
	unix.Munmap(t.region)
	t.region = nil
}

// arm write-protects [0, size) of the region: from now on every page written there is
// listed by written. (Pages above size are only reached by growing the memory, after
// which the instance is replaced, not restored.)
func (t *trackedMemory) arm(size uint64) error {
	wp := uffdioWriteProtectArg{start: base(t.region), len: size, mode: uffdioWriteProtectWP}
	if err := ioctl(t.uffd, uffdioWriteProtect, unsafe.Pointer(&wp)); err != nil {
		t.armed = false
		return fmt.Errorf("UFFDIO_WRITEPROTECT: %w", err)
	}
	t.armed = true
	return nil
}

// written calls fn with every byte range of [0, size) written since arm, in ascending
// order, page aligned.
func (t *trackedMemory) written(size uint64, fn func(lo, hi uint64)) error {
	if !t.armed {
		return errors.New("page tracking is not armed")
	}
	start := base(t.region)
	arg := pmScanArg{
		size:         uint64(unsafe.Sizeof(pmScanArg{})),
		flags:        pmScanCheckWPAsync,
		start:        start,
		end:          start + size,
		vec:          uint64(uintptr(unsafe.Pointer(&t.vec[0]))),
		vecLen:       uint64(len(t.vec)),
		categoryMask: pageIsWritten,
		returnMask:   pageIsWritten,
	}
	for {
		n, _, errno := unix.Syscall(unix.SYS_IOCTL, pagemap.f.Fd(), pagemapScan, uintptr(unsafe.Pointer(&arg)))
		if errno != 0 {
			return fmt.Errorf("PAGEMAP_SCAN: %w", errno)
		}
		for _, r := range t.vec[:n] {
			fn(r.start-start, r.end-start)
		}
		if arg.walkEnd >= arg.end || n == 0 && arg.walkEnd == arg.start {
			return nil
		}
		arg.start = arg.walkEnd
	}
}

// useTracking reports whether instances get kernel-tracked memory. Tracking costs a page
// fault per page a call writes; copyChanged costs a pass over the whole memory. Which is
// cheaper depends on the machine: under shadow paging (a nested VM) a write-protect fault
// can cost 20 µs, so 16 of them cost more than comparing 3.4 MB. The choice is measured
// once per process, on a region shaped like a kv.set on a Go module (16 pages written of
// 850). Either way a restore yields the snapshot's bytes exactly: the clock picks only the
// mechanism, never a result.
func useTracking() bool {
	mechanism.once.Do(func() {
		if err := trackingAvailable(); err != nil {
			mechanism.why = "full compare (page tracking unavailable: " + err.Error() + ")"
			return
		}
		tracked, compared, err := calibrate()
		if err != nil {
			mechanism.why = "full compare (page tracking failed: " + err.Error() + ")"
			return
		}
		mechanism.track = tracked < compared
		if mechanism.track {
			mechanism.why = fmt.Sprintf("kernel page tracking (%v per restore, a full compare %v)", tracked, compared)
		} else {
			mechanism.why = fmt.Sprintf("full compare (%v per restore; kernel page tracking %v)", compared, tracked)
		}
	})
	return mechanism.track
}

// RestoreMechanism says how this process restores instances, and why.
func RestoreMechanism() string {
	useTracking()
	return mechanism.why
}

func calibrate() (tracked, compared time.Duration, err error) {
	const size, written, rounds = 850 * 4096, 16, 8
	t, err := newTrackedMemory(size)
	if err != nil {
		return 0, 0, err
	}
	defer t.Free()
	buf := t.Reallocate(size)
	snap := make([]byte, size)
	copy(buf, snap)
	if err := t.arm(size); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	for r := 0; r < rounds; r++ {
		for i := 0; i < written; i++ {
			buf[(i*53+r)%850*4096] = 1
		}
		if err := t.written(size, func(lo, hi uint64) { copy(buf[lo:hi], snap[lo:hi]) }); err != nil {
			return 0, 0, err
		}
		if err := t.arm(size); err != nil {
			return 0, 0, err
		}
	}
	tracked = time.Since(start) / rounds
	plain := make([]byte, size) // untracked: its writes do not fault
	copy(plain, snap)           // after its first touch
	start = time.Now()
	for r := 0; r < rounds; r++ {
		for i := 0; i < written; i++ {
			plain[(i*53+r)%850*4096] = 1
		}
		copyChanged(plain, snap, zeroPages(snap))
	}
	return tracked, time.Since(start) / rounds, nil
}
