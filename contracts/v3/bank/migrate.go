//go:build wasip1

package bank

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/vchain/vchain/contracts/sdk"
	"github.com/vchain/vchain/contracts/sdk/migrate"
)

// Migrate converts the bank's stored amounts to v3's binary form. Every key of the bank
// holds an amount ("balance/…", "minted/…", "burned"), stored as decimal text by v1 and
// v2. From a newer version it fails: v3 cannot know that version's format, and the
// switch is then aborted rather than leaving data it cannot read.
func Migrate(c *sdk.Context, from uint64) error {
	switch {
	case from == 3:
		return nil
	case from > 3:
		return fmt.Errorf("bank: cannot migrate from v%d: its stored format is unknown to v3", from)
	}
	var err error
	migrate.Keys(func(key []byte) bool {
		v, _ := c.Get(key)
		n, perr := strconv.ParseUint(string(v), 10, 64)
		if perr != nil {
			err = fmt.Errorf("bank: %q holds %q, not a decimal amount", key, v)
			return false
		}
		c.Set(key, binary.BigEndian.AppendUint64(nil, n))
		return true
	})
	return err
}
