//go:build wasip1

// Package fault misbehaves on request: it loops forever, panics, exits the Go runtime,
// exhausts memory, recurses without bound, writes and then fails, or breaks host limits
// (huge keys, values and events, too many events).
package fault

import (
	"errors"
	"os"
	"strconv"

	"github.com/vchain/vchain/contracts/sdk"
)

var sink []byte

func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return recurse(n+1) + int(pad[0])
}

// Handle dispatches a fault method.
func Handle(c *sdk.Context, method string, args []byte) ([]byte, error) {
	switch method {
	case "noop": // returns at once: the fixed cost of a call, for benchmarks
		return nil, nil
	case "loop": // never returns: only gas stops it
		x := 0
		for {
			x++
		}
	case "spin": // a bounded loop whose gas cost grows with n
		var a struct {
			N int `json:"n"`
		}
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		s := 0
		for i := 0; i < a.N; i++ {
			s += i * i
		}
		return []byte(strconv.Itoa(s)), nil
	case "panic":
		panic("boom")
	case "exit": // the Go runtime exits: a trap the SDK cannot recover
		os.Exit(3)
	case "alloc": // grows the heap by mb MiB
		var a struct {
			MB int `json:"mb"`
		}
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		sink = make([]byte, a.MB<<20)
		for i := range sink {
			sink[i] = byte(i)
		}
		return []byte(strconv.Itoa(len(sink))), nil
	case "recurse":
		return []byte(strconv.Itoa(recurse(0))), nil
	case "write_then_fail":
		c.Set([]byte("partial"), []byte("must not persist"))
		return nil, errors.New("failing after a write")
	case "write_then_panic":
		c.Set([]byte("partial"), []byte("must not persist"))
		panic("after a write")
	case "big_key":
		c.Set(make([]byte, 1<<10), []byte("x"))
		return nil, nil
	case "big_value": // writes one value of kb KiB (the host caps values at 64 KiB)
		var a struct {
			KB int `json:"kb"`
		}
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		c.Set([]byte("big"), make([]byte, a.KB<<10))
		return nil, nil
	case "many_values": // writes n values of 60 KiB each: only gas bounds the total
		var a struct {
			N int `json:"n"`
		}
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		v := make([]byte, 60<<10)
		for i := 0; i < a.N; i++ {
			c.Set([]byte("v"+strconv.Itoa(i)), v)
		}
		return nil, nil
	case "big_event": // emits one event with a kb KiB attribute (the host caps events at 4 KiB)
		var a struct {
			KB int `json:"kb"`
		}
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		c.Emit("big", "v", string(make([]byte, a.KB<<10)))
		return nil, nil
	case "many_events": // emits n small events (the host caps a transaction at 64)
		var a struct {
			N int `json:"n"`
		}
		if err := sdk.ParseArgs(args, &a); err != nil {
			return nil, err
		}
		for i := 0; i < a.N; i++ {
			c.Emit("e", "i", strconv.Itoa(i))
		}
		return nil, nil
	case "abort":
		sdk.Abort("aborted on purpose")
	case "height":
		return []byte(strconv.FormatInt(c.Height(), 10)), nil
	case "caller":
		return []byte(c.Caller()), nil
	}
	return nil, sdk.UnknownMethod("fault", method)
}
