package node

import (
	cmtdb "github.com/cometbft/cometbft-db"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// txIndexWriteBuffer is the memtable of CometBFT's tx index on goleveldb, against
// goleveldb's 4 MiB default. The index is keyed mostly by transaction hashes, which are
// random, so each flushed table overlaps all of the level below and every compaction
// rewrites it: a small memtable means many such rewrites, and their cost grows with the
// index. A vchain transaction's index entries are about 600 bytes, so under load the
// default memtable fills every couple of seconds.
const txIndexWriteBuffer = 32 << 20

// dbProvider opens CometBFT's databases as CometBFT's DefaultDBProvider does, except the
// tx index on goleveldb, which gets a larger memtable (txIndexWriteBuffer). The options do
// not change the files' format: any CometBFT tool opens them as before.
func dbProvider(ctx *cmtcfg.DBContext) (cmtdb.DB, error) {
	if ctx.ID == "tx_index" && cmtdb.BackendType(ctx.Config.DBBackend) == cmtdb.GoLevelDBBackend {
		return cmtdb.NewGoLevelDBWithOpts(ctx.ID, ctx.Config.DBDir(), &opt.Options{WriteBuffer: txIndexWriteBuffer})
	}
	return cmtcfg.DefaultDBProvider(ctx)
}
