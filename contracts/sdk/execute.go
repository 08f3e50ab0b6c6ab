//go:build wasip1

package sdk

import (
	"fmt"
	"runtime"

	"github.com/vchain/vchain/contracts/abi"
)

//go:wasmexport vchain_execute
func execute(ptr, n uint32) uint64 {
	req, ok := pinnedAt(ptr)
	var resp abi.Response
	if !ok || uint32(len(req)) != n {
		resp.Err = fmt.Sprintf("sdk: request buffer %#x/%d was not allocated by vchain_alloc", ptr, n)
	} else {
		resp = dispatch(req)
	}
	unpin()
	lastResponse = abi.EncodeResponse(resp)
	return abi.PackPtrLen(ptrOf(lastResponse), uint32(len(lastResponse)))
}

func dispatch(raw []byte) (resp abi.Response) {
	req, err := abi.DecodeRequest(raw)
	if err != nil {
		return abi.Response{Err: err.Error()}
	}
	h, ok := contracts[req.Contract]
	if !ok {
		return abi.Response{Err: fmt.Sprintf("unknown contract %q", req.Contract)}
	}
	defer func() {
		// A panicking contract fails its transaction through abort, so the host can tell
		// a panic (code contract_abort, message "panic: ...") from a returned error.
		if r := recover(); r != nil {
			Abort(fmt.Sprintf("panic: %v", r))
		}
	}()
	data, err := h(&Context{}, req.Method, req.Args)
	if err != nil {
		return abi.Response{Err: err.Error()}
	}
	return abi.Response{Data: data}
}

// heapHeadroom is how much heap the warm-up reserves for the calls: memory the Go runtime
// has already taken from the host and holds free, so an ordinary call allocates from it
// instead of growing the linear memory (which forces the host to replace the instance and
// costs the call the profile's GrowGas).
const heapHeadroom = 1 << 20

// headroom keeps the reserve reachable until the collection that frees it.
var headroom []byte

// stackHeadroom is how deep the warm-up grows the goroutine's stack. The collection
// shrinks it, and a call that outgrows it then copies the stack to a larger one, on every
// call: fault.noop paid 76,000 of its 98,000 gas for that.
const stackHeadroom = 64 << 10

// stackStep is the frame growStack uses per level.
const stackStep = 1 << 10

// growStack uses about n*stackStep bytes of stack, so the Go runtime grows the stack to
// hold them; it keeps that stack until a collection shrinks it.
//
//go:noinline
func growStack(n int) byte {
	var frame [stackStep]byte
	frame[n%stackStep] = byte(n)
	if n > 0 {
		return growStack(n-1) + frame[(n*7)%stackStep]
	}
	return frame[0]
}

// primedSize is the largest allocation primeAllocator prepares for.
const primedSize = 1024

var (
	primedBytes []byte
	primedPtrs  []*byte
)

// primeAllocator allocates one object of every small size, without and with pointers, so
// that the snapshot's allocator caches hold a span of each size class. Without it a call
// whose allocation finds no cached span of its class fetches one from the heap, and every
// call repeats that, since each starts from the snapshot: bank.transfer paid 37,000 of its
// 186,000 gas for five such fetches. The spans count towards the heap's next collection,
// which is why only sizes up to primedSize are prepared.
func primeAllocator() {
	for size := 8; size <= primedSize; size += 8 {
		primedBytes = make([]byte, size)
		primedPtrs = make([]*byte, size/8)
	}
	primedBytes, primedPtrs = nil, nil
}

// warmup reserves heapHeadroom and frees it with a collection, grows the stack
// (stackHeadroom), primes the allocator, then runs the registered warm-ups. The collection comes first: one at
// the end made kv.set cost 372,966 gas instead of 109,041, every call then paying to sweep
// and refill the allocator's caches that the warm-ups had filled.
//
//go:wasmexport vchain_warmup
func warmup() {
	headroom = make([]byte, heapHeadroom)
	headroom[len(headroom)-1] = 1
	headroom = nil
	runtime.GC()
	growStack(stackHeadroom / stackStep)
	primeAllocator()
	for _, f := range warmups {
		f()
	}
}
