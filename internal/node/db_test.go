package node

import (
	"crypto/sha256"
	"encoding/binary"
	"path/filepath"
	"testing"

	cmtcfg "github.com/cometbft/cometbft/config"
)

// TestTxIndexWriteBuffer: the tx index takes 8 MiB of hash-keyed writes without writing
// a table, where a database with goleveldb's default options (the block store) flushes
// one: the tx index's memtable is the larger one.
func TestTxIndexWriteBuffer(t *testing.T) {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(t.TempDir())
	tables := func(id string) int {
		m, err := filepath.Glob(filepath.Join(cfg.DBDir(), id+".db", "*.ldb"))
		if err != nil {
			t.Fatal(err)
		}
		return len(m)
	}
	write := func(id string) {
		db, err := dbProvider(&cmtcfg.DBContext{ID: id, Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		value := make([]byte, 512)
		for i := 0; i < 16<<10; i++ { // 16,384 x ~550 bytes: 8.6 MiB
			var n [8]byte
			binary.BigEndian.PutUint64(n[:], uint64(i))
			key := sha256.Sum256(n[:])
			if err := db.Set(key[:], value); err != nil {
				t.Fatal(err)
			}
		}
		// A full memtable is flushed in the background, but goleveldb holds one frozen
		// memtable at most: the write that fills a second waits for the first's table.
	}
	write("blockstore")
	if tables("blockstore") == 0 {
		t.Fatal("the block store (default options) wrote no table for 8.6 MiB, over twice its 4 MiB memtable: the check below would prove nothing")
	}
	write("tx_index")
	if n := tables("tx_index"); n != 0 {
		t.Fatalf("the tx index wrote %d tables for 8.6 MiB, over twice its 4 MiB memtable: its memtable is not %d MiB", n, txIndexWriteBuffer>>20)
	}
}
