//go:build wasip1

package sdk

import (
	"fmt"
	"runtime"

	"github.com/vchain/vchain/contracts/abi"
)

//go:wasmexport vchain_execute
func execute(ptr, n uint32) uint64 {
	req, ok := pinned[ptr]
	var resp abi.Response
	if !ok || uint32(len(req)) != n {
		resp.Err = fmt.Sprintf("sdk: request buffer %#x/%d was not allocated by vchain_alloc", ptr, n)
	} else {
		resp = dispatch(req)
	}
	clear(pinned)
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

// warmup reserves heapHeadroom and frees it with a collection, then runs the registered
// warm-ups. The collection comes first: one at the end made kv.set cost 372,966 gas
// instead of 109,041, every call then paying to sweep and refill the allocator's caches
// that the warm-ups had filled.
//
//go:wasmexport vchain_warmup
func warmup() {
	headroom = make([]byte, heapHeadroom)
	headroom[len(headroom)-1] = 1
	headroom = nil
	runtime.GC()
	for _, f := range warmups {
		f()
	}
}
