//go:build wasip1

package sdk

// Host functions (see contracts/abi for their contract). Pointers are guest addresses.

//go:wasmimport vchain state_get
func hostStateGet(keyPtr, keyLen, bufPtr, bufCap uint32) int32

//go:wasmimport vchain state_set
func hostStateSet(keyPtr, keyLen, valPtr, valLen uint32)

//go:wasmimport vchain state_delete
func hostStateDelete(keyPtr, keyLen uint32)

//go:wasmimport vchain emit_event
func hostEmitEvent(ptr, n uint32)

//go:wasmimport vchain caller
func hostCaller(bufPtr, bufCap uint32) int32

//go:wasmimport vchain block_height
func hostBlockHeight() int64

//go:wasmimport vchain abort
func hostAbort(msgPtr, msgLen uint32)
