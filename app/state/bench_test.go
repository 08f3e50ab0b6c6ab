package state

import (
	"fmt"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

const benchWrites = 1000

// fillBench records benchWrites contract writes of 32-byte values in c, tagged with round
// so that successive blocks change every value.
func fillBench(c *Cache, round int) {
	for i := 0; i < benchWrites; i++ {
		c.Set(ContractKey("kv", fmt.Appendf(nil, "key-%06d", i)), fmt.Appendf(nil, "value-%010d-%015d", round, i))
	}
}

// BenchmarkAppHash is the app hash of a block of 1,000 writes: sorting the write set
// (Sorted) and hashing it (AppHash). Every block pays it between executing its
// transactions and answering FinalizeBlock, so it grows with the block's write count.
func BenchmarkAppHash(b *testing.B) {
	c := NewCache(nil)
	fillBench(c, 0)
	prev := make([]byte, 32)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		prev = AppHash(prev, int64(i+1), c.Sorted())
	}
}

// BenchmarkCommit is Store.Commit of a block of 1,000 writes into pebble on disk, at
// increasing heights: the sorted batch plus the synced write that makes a block durable.
// It is on the critical path between blocks, and the fsync usually dominates it. The
// write sets are built with the timer stopped.
func BenchmarkCommit(b *testing.B) {
	db, err := dbm.NewDB("bench", dbm.PebbleDBBackend, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	st, err := Open(db)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	hash := make([]byte, 32)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := NewCache(st)
		fillBench(c, i)
		b.StartTimer()
		if err := st.Commit(st.Height()+1, hash, c); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
}
