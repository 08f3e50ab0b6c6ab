package state

import (
	"fmt"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

const benchWrites = 1000

// fillBench records benchWrites contract writes of 32-byte values in c, tagged with round
// so that successive blocks change every value. With base, the keys are spread over a
// state of base*benchWrites keys (round r writes slice r%base of it).
func fillBench(c *Cache, round, base int) {
	for i := 0; i < benchWrites; i++ {
		k := i
		if base > 0 {
			k = (round%base)*benchWrites + i
		}
		c.Set(ContractKey("kv", fmt.Appendf(nil, "key-%08d", k)), fmt.Appendf(nil, "value-%010d-%015d", round, i))
	}
}

// BenchmarkStage is the app hash of a block of 1,000 writes: applying the write set to the
// trees' working versions and hashing them. Every block pays it between executing its
// transactions and answering FinalizeBlock.
func BenchmarkStage(b *testing.B) {
	st, err := Open(dbm.NewMemDB())
	if err != nil {
		b.Fatal(err)
	}
	c := NewCache(st)
	fillBench(c, 0, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.Stage(1, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommit is a block of 1,000 writes made durable in pebble on disk, at increasing
// heights: Stage (the app hash, paid in FinalizeBlock) plus Store.Commit (the trees' new
// versions and the synced commit record, paid in Commit). The state is the 1,000 keys
// rewritten each block ("hot"; "hot-keepall" without pruning) or 1,000 of 100,000 keys
// ("100k"), keeping the default 100 versions. The write sets are built with the timer
// stopped.
func BenchmarkCommit(b *testing.B) {
	for _, bc := range []struct {
		name string
		base int
		keep int64
	}{{"hot", 0, DefaultKeepRecent}, {"hot-keepall", 0, 0}, {"100k", 100, DefaultKeepRecent}} {
		b.Run(bc.name, func(b *testing.B) {
			db, err := dbm.NewDB("bench", dbm.PebbleDBBackend, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			st, err := Open(db, WithKeepRecent(bc.keep))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			for r := 0; r < bc.base; r++ { // the state the benchmark's blocks rewrite
				c := NewCache(st)
				fillBench(c, r, bc.base)
				commit(b, st, st.Height()+1, c)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				c := NewCache(st)
				fillBench(c, i, bc.base)
				b.StartTimer()
				commit(b, st, st.Height()+1, c)
			}
			b.StopTimer()
		})
	}
}
