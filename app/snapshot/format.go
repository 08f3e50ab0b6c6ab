// Package snapshot is vchain's state sync: it writes a committed height as ABCI snapshot
// chunks and restores a node from them.
//
// A snapshot of height H (format 1) is one byte stream cut into chunks of ChunkSize bytes
// (the last one shorter). The stream is a sequence of items, each
//
//	uvarint(len(body)) body
//
// whose first body byte is its kind:
//
//	'H' header:  "vchain/1" uvarint(H)
//	'S' store:   name                                  (StoreNames order, each once)
//	'N' node:    int8 height, uvarint version, uvarint(len key) key,
//	             0 (no value: inner node) | 1 uvarint(len value) value
//	'M' module:  uvarint version, sha256[32], wasm      (ascending version)
//	'E' end
//
// The nodes are IAVL's export of the store's tree at H (iavl.ImmutableTree.Export,
// depth-first post-order); the modules are the runtime modules of the effective and any
// pending version recorded in the state at H. Nothing in it depends on the node that
// wrote it (no map order, no time, no local path), so every node writes the same bytes
// for the same height, and peers serving the same height serve the same snapshot.
//
// The ABCI snapshot's Metadata is the chunks' sha256 hashes, concatenated in order: a
// chunk is checked when it arrives, before it is used. Hash is the sha256 of Metadata.
// The restored state itself is checked against the app hash of a verified header, and
// each module against the sha256 that state records for its version.
package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cosmos/iavl"

	"github.com/vchain/vchain/app/runtime"
)

// Format is the snapshot format this package writes; the only one it reads.
const Format uint32 = 1

// ChunkSize is the size of every chunk but the last: part of format 1 (the chunks of a
// height are identical on every node only if all cut the stream at the same places).
// CometBFT takes chunks up to 16 MB.
const ChunkSize = 10 << 20

const (
	kindHeader = 'H'
	kindStore  = 'S'
	kindNode   = 'N'
	kindModule = 'M'
	kindEnd    = 'E'
)

const magic = "vchain/1"

// maxItem bounds one item: the largest is a module.
const maxItem = runtime.MaxModuleBytes + 1024

// ErrFormat reports a snapshot of a format this node does not read.
var ErrFormat = errors.New("snapshot: unknown format")

// errShort means the buffered bytes end inside an item: wait for the next chunk.
var errShort = errors.New("snapshot: item continues in the next chunk")

// Module is a runtime module carried in a snapshot.
type Module struct {
	Version uint64
	SHA256  [32]byte
	Wasm    []byte
}

func appendItem(dst []byte, body []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...)
}

func headerItem(height int64) []byte {
	b := append([]byte{kindHeader}, magic...)
	return binary.AppendUvarint(b, uint64(height))
}

func storeItem(name string) []byte { return append([]byte{kindStore}, name...) }

func nodeItem(n *iavl.ExportNode) []byte {
	b := make([]byte, 0, 16+len(n.Key)+len(n.Value))
	b = append(b, kindNode, byte(n.Height))
	b = binary.AppendUvarint(b, uint64(n.Version))
	b = binary.AppendUvarint(b, uint64(len(n.Key)))
	b = append(b, n.Key...)
	if n.Value == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(n.Value)))
	return append(b, n.Value...)
}

func moduleItem(m Module) []byte {
	b := append([]byte{kindModule}, binary.AppendUvarint(nil, m.Version)...)
	b = append(b, m.SHA256[:]...)
	return append(b, m.Wasm...)
}

// nextItem splits the first item off buf: its body and the bytes it took. errShort means
// buf ends inside it.
func nextItem(buf []byte) (body []byte, n int, err error) {
	l, k := binary.Uvarint(buf)
	if k == 0 {
		return nil, 0, errShort
	}
	if k < 0 || l == 0 || l > maxItem {
		return nil, 0, fmt.Errorf("snapshot: item length %d is out of bounds", l)
	}
	if uint64(len(buf)-k) < l {
		return nil, 0, errShort
	}
	return buf[k : k+int(l)], k + int(l), nil
}

// reader reads the fields of an item body.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.err = errors.New("snapshot: bad varint")
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("snapshot: field runs past its item")
		return nil
	}
	out := append([]byte{}, r.b[:n]...)
	r.b = r.b[n:]
	return out
}

func (r *reader) byte1() byte {
	b := r.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("snapshot: %d bytes after the item's fields", len(r.b))
	}
	return r.err
}

func parseNode(body []byte) (*iavl.ExportNode, error) {
	r := &reader{b: body}
	n := &iavl.ExportNode{Height: int8(r.byte1())}
	n.Version = int64(r.uvarint())
	n.Key = r.bytes(r.uvarint())
	switch r.byte1() {
	case 0:
	case 1:
		n.Value = r.bytes(r.uvarint())
	default:
		if r.err == nil {
			r.err = errors.New("snapshot: bad value flag")
		}
	}
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("node item: %w", err)
	}
	if n.Version < 0 {
		return nil, errors.New("node item: version out of range")
	}
	return n, nil
}

func parseModule(body []byte) (Module, error) {
	r := &reader{b: body}
	m := Module{Version: r.uvarint()}
	copy(m.SHA256[:], r.bytes(32))
	if r.err != nil {
		return m, fmt.Errorf("module item: %w", r.err)
	}
	m.Wasm = append([]byte(nil), r.b...)
	return m, nil
}

func parseHeader(body []byte) (int64, error) {
	r := &reader{b: body}
	if string(r.bytes(uint64(len(magic)))) != magic {
		return 0, fmt.Errorf("snapshot: header is not %q", magic)
	}
	h := r.uvarint()
	if err := r.end(); err != nil {
		return 0, fmt.Errorf("header item: %w", err)
	}
	return int64(h), nil
}
