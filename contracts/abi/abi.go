// Package abi is the contract runtime ABI shared by the host (app/runtime) and the guest
// SDK (contracts/sdk). It is the only code both sides import, and it depends on nothing but
// the standard library so that it compiles for GOOS=wasip1 as well as for the node.
//
// The host and a runtime module talk through linear memory:
//
//   - The module exports a reactor initialiser "_initialize", its "memory", an allocator
//     ExportAlloc(size u32) u32 that returns a buffer the host may write into, and the entry
//     point ExportExecute(ptr u32, len u32) u64. The host writes an encoded Request, calls
//     ExportExecute, and reads the encoded Response at the packed (ptr<<32 | len) it returns.
//   - The module imports host functions from module ImportModule (see the Import* names).
//     Every host call charges gas by bytes; see app/runtime for the schedule.
//
// All encodings are length-prefixed byte strings (uvarint length, then bytes), so a
// malformed buffer is detected rather than misread.
package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Names of the exports a runtime module must provide.
const (
	ExportMemory     = "memory"
	ExportInitialize = "_initialize"
	ExportAlloc      = "vchain_alloc"
	ExportExecute    = "vchain_execute"
)

// ImportModule is the wasm import module name of the host functions.
const ImportModule = "vchain"

// Host functions the module may import from ImportModule. Signatures (wasm types):
//
//	state_get(key_ptr, key_len, buf_ptr, buf_cap i32) i32
//	    -1 when the key is absent; otherwise the value's length. The value is copied only
//	    when it fits in buf_cap; a guest that gets a larger length calls again with a
//	    bigger buffer.
//	state_set(key_ptr, key_len, val_ptr, val_len i32)
//	state_delete(key_ptr, key_len i32)
//	emit_event(ptr, len i32)              an encoded Event
//	caller(buf_ptr, buf_cap i32) i32      the sender's address (hex), same length rule as state_get
//	block_height() i64
//	abort(msg_ptr, msg_len i32)           fails the transaction with msg; never returns
const (
	ImportStateGet    = "state_get"
	ImportStateSet    = "state_set"
	ImportStateDelete = "state_delete"
	ImportEmitEvent   = "emit_event"
	ImportCaller      = "caller"
	ImportBlockHeight = "block_height"
	ImportAbort       = "abort"
)

// Limits enforced by the host. A contract that exceeds one fails its transaction.
const (
	MaxKeyLen      = 256
	MaxValueLen    = 64 << 10
	MaxArgsLen     = 64 << 10
	MaxResultLen   = 64 << 10
	MaxEventLen    = 4 << 10
	MaxEventsPerTx = 64
	MaxAbortLen    = 1 << 10
)

// Response status bytes.
const (
	StatusOK    byte = 0
	StatusError byte = 1
)

// Request is what the host asks a module to execute.
type Request struct {
	Contract string
	Method   string
	Args     []byte
}

// Response is what a module answers. Err is a contract-level failure (bad arguments,
// insufficient balance, unknown method): the transaction fails and its writes are dropped.
type Response struct {
	Data []byte
	Err  string
}

// Event is an event emitted by a contract. The host prefixes Type with the contract name.
type Event struct {
	Type  string
	Attrs []Attr
}

// Attr is one key/value attribute of an Event.
type Attr struct {
	Key   string
	Value string
}

// ErrMalformed reports a buffer that does not decode.
var ErrMalformed = errors.New("abi: malformed buffer")

// EncodeRequest encodes r.
func EncodeRequest(r Request) []byte {
	b := make([]byte, 0, len(r.Contract)+len(r.Method)+len(r.Args)+15)
	b = appendBytes(b, []byte(r.Contract))
	b = appendBytes(b, []byte(r.Method))
	return appendBytes(b, r.Args)
}

// DecodeRequest decodes a Request encoded by EncodeRequest.
func DecodeRequest(b []byte) (Request, error) {
	var r Request
	d := decoder{b: b}
	r.Contract = string(d.bytes())
	r.Method = string(d.bytes())
	r.Args = d.bytes()
	if err := d.finish(); err != nil {
		return Request{}, fmt.Errorf("request: %w", err)
	}
	return r, nil
}

// EncodeResponse encodes r: a status byte, then the data or the error message.
func EncodeResponse(r Response) []byte {
	if r.Err != "" {
		return append([]byte{StatusError}, r.Err...)
	}
	return append([]byte{StatusOK}, r.Data...)
}

// DecodeResponse decodes a Response encoded by EncodeResponse.
func DecodeResponse(b []byte) (Response, error) {
	if len(b) == 0 {
		return Response{}, fmt.Errorf("response: empty: %w", ErrMalformed)
	}
	switch b[0] {
	case StatusOK:
		return Response{Data: append([]byte{}, b[1:]...)}, nil
	case StatusError:
		msg := string(b[1:])
		if msg == "" {
			msg = "contract error"
		}
		return Response{Err: msg}, nil
	default:
		return Response{}, fmt.Errorf("response: status byte %d: %w", b[0], ErrMalformed)
	}
}

// EncodeEvent encodes e.
func EncodeEvent(e Event) []byte {
	// Sized once: a contract emits on most calls, and each reallocation costs a guest
	// hundreds of instructions.
	n := 2*binary.MaxVarintLen64 + len(e.Type)
	for _, a := range e.Attrs {
		n += 2*binary.MaxVarintLen64 + len(a.Key) + len(a.Value)
	}
	b := appendString(make([]byte, 0, n), e.Type)
	b = binary.AppendUvarint(b, uint64(len(e.Attrs)))
	for _, a := range e.Attrs {
		b = appendString(b, a.Key)
		b = appendString(b, a.Value)
	}
	return b
}

// DecodeEvent decodes an Event encoded by EncodeEvent.
func DecodeEvent(b []byte) (Event, error) {
	d := decoder{b: b}
	e := Event{Type: string(d.bytes())}
	n := d.uvarint()
	if n > uint64(len(b)) { // each attribute takes at least two bytes
		return Event{}, fmt.Errorf("event: %d attributes in %d bytes: %w", n, len(b), ErrMalformed)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		e.Attrs = append(e.Attrs, Attr{Key: string(d.bytes()), Value: string(d.bytes())})
	}
	if err := d.finish(); err != nil {
		return Event{}, fmt.Errorf("event: %w", err)
	}
	return e, nil
}

// PackPtrLen packs a guest pointer and length into the u64 ExportExecute returns.
func PackPtrLen(ptr, n uint32) uint64 { return uint64(ptr)<<32 | uint64(n) }

// UnpackPtrLen reverses PackPtrLen.
func UnpackPtrLen(v uint64) (ptr, n uint32) { return uint32(v >> 32), uint32(v) }

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	// An overlong encoding (a last byte of 0, as in 0x80 0x00 for 0) is refused too, so
	// each value has one encoding.
	if n <= 0 || (n > 1 && d.b[n-1] == 0) {
		d.err = ErrMalformed
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = ErrMalformed
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes: %w", len(d.b), ErrMalformed)
	}
	return d.err
}
