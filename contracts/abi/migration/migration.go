// Package migration is the migration part of the contract runtime ABI (contracts/abi):
// the optional exports through which a runtime module migrates stored data at a switch,
// the host function that lists a contract's keys, and their encodings. It is a package of
// its own on purpose: adding code to package abi changes the bytes (and sha256) of every
// module built with it, v1 included, which has no migration.
package migration

import (
	"encoding/binary"
	"fmt"

	"github.com/vchain/vchain/contracts/abi"
)

// Migration exports, optional: a module that has them migrates stored data when it becomes
// the effective version (see "Migrations" in README.md). contracts/sdk/migrate builds them.
//
//   - ExportMigrations() u64 returns the packed (ptr<<32 | len) of an encoded Response whose
//     data is EncodeNames of the contracts that have a migration, sorted, each once.
//   - ExportMigrate(ptr u32, len u32) u64 migrates one contract: the host writes an encoded
//     MigrateRequest into a buffer from ExportAlloc and reads an encoded Response, as for
//     ExportExecute. The call sees that contract's state; a Response error, an abort, a
//     trap or running out of gas fails the whole migration, and the switch with it.
const (
	ExportMigrations = "vchain_migrations"
	ExportMigrate    = "vchain_migrate"
)

// ImportStateNext is the host function that lists a contract's keys during a migration:
//
//	state_next(key_ptr, key_len, buf_ptr, buf_cap i32) i32
//	    the smallest key of the contract's state greater than key (an empty key: the
//	    first), among the keys that existed when the migration of the contract began;
//	    -1 when there is none. Same length rule as state_get. Outside a migration the
//	    call fails with contract_abort.
const ImportStateNext = "state_next"

// MaxMigrations bounds the contracts one module may migrate.
const MaxMigrations = 64

// MigrateRequest asks a module to migrate Contract's state from version From (the version
// that was effective before the switch: lower for an upgrade, higher for a downgrade).
type MigrateRequest struct {
	Contract string
	From     uint64
}

// EncodeMigrateRequest encodes r.
func EncodeMigrateRequest(r MigrateRequest) []byte {
	b := appendString(nil, r.Contract)
	return binary.AppendUvarint(b, r.From)
}

// DecodeMigrateRequest decodes a MigrateRequest encoded by EncodeMigrateRequest.
func DecodeMigrateRequest(b []byte) (MigrateRequest, error) {
	d := decoder{b: b}
	r := MigrateRequest{Contract: string(d.bytes())}
	r.From = d.uvarint()
	if err := d.finish(); err != nil {
		return MigrateRequest{}, fmt.Errorf("migrate request: %w", err)
	}
	return r, nil
}

// EncodeNames encodes a list of names: a count, then each name.
func EncodeNames(names []string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(names)))
	for _, n := range names {
		b = appendString(b, n)
	}
	return b
}

// DecodeNames decodes what EncodeNames wrote.
func DecodeNames(b []byte) ([]string, error) {
	d := decoder{b: b}
	n := d.uvarint()
	if n > uint64(len(b)) { // each name takes at least one byte
		return nil, fmt.Errorf("names: %d in %d bytes: %w", n, len(b), abi.ErrMalformed)
	}
	var out []string
	for i := uint64(0); i < n && d.err == nil; i++ {
		out = append(out, string(d.bytes()))
	}
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("names: %w", err)
	}
	return out, nil
}

// MaxNameLen bounds a contract name in a migration list.
const MaxNameLen = 64

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads abi's encodings: uvarint lengths, each value with one encoding.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || (n > 1 && d.b[n-1] == 0) { // overlong encodings refused, as abi does
		d.err = abi.ErrMalformed
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
		d.err = abi.ErrMalformed
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes: %w", len(d.b), abi.ErrMalformed)
	}
	return d.err
}
