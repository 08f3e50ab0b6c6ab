//go:build wasip1

package sdk

import (
	"fmt"

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

// warmup runs the registered warm-ups. It does not end with a garbage collection: a
// collection there made kv.set cost 372,966 gas instead of 109,041, every call then
// paying to sweep and refill the allocator's caches.
//
//go:wasmexport vchain_warmup
func warmup() {
	for _, f := range warmups {
		f()
	}
}
