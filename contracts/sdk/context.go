//go:build wasip1

package sdk

import (
	"github.com/vchain/vchain/contracts/abi"
)

// Get returns the value stored under key in this contract's namespace.
func (c *Context) Get(key []byte) ([]byte, bool) {
	buf := make([]byte, 256)
	for {
		n := hostStateGet(ptrOf(key), uint32(len(key)), ptrOf(buf), uint32(len(buf)))
		if n < 0 {
			return nil, false
		}
		if int(n) <= len(buf) {
			return buf[:n], true
		}
		buf = make([]byte, n)
	}
}

// Set stores value under key in this contract's namespace.
func (c *Context) Set(key, value []byte) {
	hostStateSet(ptrOf(key), uint32(len(key)), ptrOf(value), uint32(len(value)))
}

// Delete removes key from this contract's namespace.
func (c *Context) Delete(key []byte) {
	hostStateDelete(ptrOf(key), uint32(len(key)))
}

// Emit records an event of the given type with key/value attribute pairs.
func (c *Context) Emit(typ string, kv ...string) {
	e := abi.Event{Type: typ, Attrs: make([]abi.Attr, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, abi.Attr{Key: kv[i], Value: kv[i+1]})
	}
	b := abi.EncodeEvent(e)
	hostEmitEvent(ptrOf(b), uint32(len(b)))
}

// Caller returns the address (upper-case hex) of the transaction's sender.
func (c *Context) Caller() string {
	buf := make([]byte, 64)
	n := hostCaller(ptrOf(buf), uint32(len(buf)))
	if n < 0 || int(n) > len(buf) {
		Abort("sdk: caller address does not fit")
	}
	return string(buf[:n])
}

// Height returns the height of the block being executed.
func (c *Context) Height() int64 { return hostBlockHeight() }

// Abort fails the transaction with msg. It does not return.
func Abort(msg string) {
	b := []byte(msg)
	hostAbort(ptrOf(b), uint32(len(b)))
	panic("unreachable: abort returned")
}
