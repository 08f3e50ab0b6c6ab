package migration

import (
	"errors"
	"testing"

	"github.com/vchain/vchain/contracts/abi"
)

func TestMigrateEncodings(t *testing.T) {
	for _, r := range []MigrateRequest{{}, {Contract: "bank", From: 2}, {Contract: "kv", From: 1 << 40}} {
		got, err := DecodeMigrateRequest(EncodeMigrateRequest(r))
		if err != nil || got != r {
			t.Fatalf("%+v -> %+v %v", r, got, err)
		}
	}
	for _, names := range [][]string{nil, {"bank"}, {"bank", "kv"}} {
		got, err := DecodeNames(EncodeNames(names))
		if err != nil || len(got) != len(names) {
			t.Fatalf("%q -> %q %v", names, got, err)
		}
		for i := range names {
			if got[i] != names[i] {
				t.Fatalf("%q -> %q", names, got)
			}
		}
	}
	good := EncodeNames([]string{"bank", "kv"})
	for name, b := range map[string][]byte{
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0),
		"huge":      {0xff, 0xff, 0xff, 0x0f},
	} {
		if _, err := DecodeNames(b); !errors.Is(err, abi.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := DecodeMigrateRequest(append(EncodeMigrateRequest(MigrateRequest{Contract: "kv", From: 2}), 1)); !errors.Is(err, abi.ErrMalformed) {
		t.Errorf("trailing byte: %v", err)
	}
}
