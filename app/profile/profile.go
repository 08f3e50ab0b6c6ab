// Package profile holds the execution profiles: numbered, immutable sets of every rule
// outside a contract module that can change a transaction's result or its gas. The
// module is bound to the chain by its sha256; the profile is bound by its number, recorded
// with each release. A binary carries every profile ever shipped, as go-ethereum carries
// every fork's rules, so a node on a newer binary replays old blocks under the rules they
// were executed with.
//
// A shipped profile is never edited, only a new one added: TestProfileVectors pins each
// profile's encoding, and app/executor's golden tests pin the gas and app hash it gives.
package profile

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
)

// InstructionCosts are the prices of wasm instructions, charged by the injected meter.
type InstructionCosts struct {
	// Default is charged for every original instruction not priced below.
	Default uint32
	// Call is charged for call, call_indirect, return_call and return_call_indirect.
	Call uint32
	// Bulk is the fixed part of memory.copy/fill/init and table.copy/init/fill.
	Bulk uint32
	// MemoryGrow and RefFunc price the instructions wazero runs in Go.
	MemoryGrow uint32
	RefFunc    uint32
	// BulkBytesPerGas is the length price of memory.copy, memory.fill and memory.init: one
	// gas per started BulkBytesPerGas bytes; a power of two. (Instructions that change
	// tables are refused, so they have no price.)
	BulkBytesPerGas uint32
}

// HostCosts are the prices of the host functions: a base cost plus a cost per byte moved.
type HostCosts struct {
	StateGetBase    uint64
	StateGetByte    uint64
	StateSetBase    uint64
	StateSetByte    uint64
	StateDeleteBase uint64
	EmitEventBase   uint64
	EmitEventByte   uint64
	CallerBase      uint64
	BlockHeightBase uint64
}

// Profile is one execution profile.
type Profile struct {
	ID           uint32
	Instructions InstructionCosts
	Host         HostCosts
	// MemoryLimitPages caps an instance's linear memory (64 KiB pages).
	MemoryLimitPages uint32
	// MaxCallDepth is the number of wasm frames at which a call traps.
	MaxCallDepth uint32
	// InitGas bounds a fresh instance's _initialize; it is charged to no transaction.
	InitGas uint64
	// MinTxGas is the least gas any contract call is charged, whatever it did: it pays
	// for resetting the instance after the call.
	MinTxGas uint64
	// CanonicalNaN: every NaN a float instruction produces is replaced by the canonical
	// quiet NaN of its width, so results never depend on the machine's NaN bits.
	CanonicalNaN bool
}

// Encode returns the profile's canonical encoding: every field, fixed width, big endian,
// in declaration order. It is what Digest hashes.
func (p Profile) Encode() []byte {
	b := make([]byte, 0, 160)
	u32 := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	u64 := func(v uint64) { b = binary.BigEndian.AppendUint64(b, v) }
	u32(p.ID)
	i := p.Instructions
	for _, v := range []uint32{i.Default, i.Call, i.Bulk, i.MemoryGrow, i.RefFunc, i.BulkBytesPerGas} {
		u32(v)
	}
	h := p.Host
	for _, v := range []uint64{h.StateGetBase, h.StateGetByte, h.StateSetBase, h.StateSetByte, h.StateDeleteBase, h.EmitEventBase, h.EmitEventByte, h.CallerBase, h.BlockHeightBase} {
		u64(v)
	}
	u32(p.MemoryLimitPages)
	u32(p.MaxCallDepth)
	u64(p.InitGas)
	u64(p.MinTxGas)
	if p.CanonicalNaN {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return b
}

// Digest is the sha256 of Encode: the identity golden tests pin.
func (p Profile) Digest() [32]byte { return sha256.Sum256(p.Encode()) }

// registry holds every profile this binary knows, by ID. Profiles register in init
// functions of this package only (profiles.go, and build-tagged files for tests).
var registry = map[uint32]Profile{}

func register(p Profile) {
	if p.ID == 0 {
		panic("profile: ID 0 is reserved")
	}
	if _, dup := registry[p.ID]; dup {
		panic(fmt.Sprintf("profile: %d registered twice", p.ID))
	}
	registry[p.ID] = p
}

// Supported returns the IDs of every profile this binary knows, ascending. They are always
// 1..Latest(): a binary carries every profile ever shipped.
func Supported() []uint32 {
	ids := make([]uint32, 0, len(registry))
	for id := range registry {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Latest returns the newest profile this binary knows: the default for a new release.
func Latest() uint32 { ids := Supported(); return ids[len(ids)-1] }

// UnknownError reports a profile this binary does not carry.
type UnknownError struct{ ID uint32 }

func (e *UnknownError) Error() string {
	return fmt.Sprintf("this vchaind knows profiles 1..%d; profile %d is newer: upgrade vchaind", Latest(), e.ID)
}

// Get returns profile id, or an *UnknownError.
func Get(id uint32) (Profile, error) {
	p, ok := registry[id]
	if !ok {
		return Profile{}, &UnknownError{ID: id}
	}
	return p, nil
}

// Knows reports whether this binary carries profile id.
func Knows(id uint32) bool { _, ok := registry[id]; return ok }
