//go:build wasip1

package main

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/vchain/vchain/contracts/sdk"
	"github.com/vchain/vchain/contracts/sdk/migrate"
)

// v2's migrations bring data back from v3's stored format on a downgrade (from v1 there is
// nothing to do: v1 and v2 store alike). v3 stores bank amounts as 8 bytes big-endian and
// each kv value after an 8-byte height; v2 stores decimal text and the raw value.
func init() {
	migrate.Register("bank", migrateBank)
	migrate.Register("kv", migrateKV)
}

// fromV3 says whether a migration from version from has work to do, or fails for a
// version whose format v2 does not know.
func fromV3(contract string, from uint64) (bool, error) {
	switch {
	case from <= 2:
		return false, nil
	case from == 3:
		return true, nil
	default:
		return false, fmt.Errorf("%s: cannot migrate from v%d: its stored format is unknown to v2", contract, from)
	}
}

func migrateBank(c *sdk.Context, from uint64) error {
	if ok, err := fromV3("bank", from); !ok {
		return err
	}
	var err error
	migrate.Keys(func(key []byte) bool {
		v, _ := c.Get(key)
		if len(v) != 8 {
			err = fmt.Errorf("bank: %q holds %d bytes, not a v3 amount", key, len(v))
			return false
		}
		c.Set(key, []byte(strconv.FormatUint(binary.BigEndian.Uint64(v), 10)))
		return true
	})
	return err
}

func migrateKV(c *sdk.Context, from uint64) error {
	if ok, err := fromV3("kv", from); !ok {
		return err
	}
	var err error
	migrate.Keys(func(key []byte) bool {
		v, _ := c.Get(key)
		if len(v) < 8 {
			err = fmt.Errorf("kv: %q holds %d bytes, not a v3 value", key, len(v))
			return false
		}
		c.Set(key, v[8:])
		return true
	})
	return err
}
