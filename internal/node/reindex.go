package node

import (
	"errors"
	"fmt"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	sm "github.com/cometbft/cometbft/state"
	blockidxkv "github.com/cometbft/cometbft/state/indexer/block/kv"
	"github.com/cometbft/cometbft/state/txindex"
	txidxkv "github.com/cometbft/cometbft/state/txindex/kv"
	"github.com/cometbft/cometbft/store"
	"github.com/cometbft/cometbft/types"

	dbm "github.com/cometbft/cometbft-db"
)

// reindexDepth is how many of the last committed blocks reindexTail looks at. CometBFT's
// indexer takes each block's events from an unbuffered subscription, so it lags the last
// saved block by at most one.
const reindexDepth = 3

// reindexTail indexes again the last committed blocks whose transactions or block events
// are missing from CometBFT's kv index, and returns how many blocks it indexed.
//
// CometBFT indexes a block asynchronously, after saving it and its state. A process
// killed in between restarts with the block committed but never indexed, since the
// handshake replays only blocks the state has not saved (tendermint#3211): its
// transactions are in the chain, yet /tx and tx_search on this node never find them, and
// a client awaiting one of them by hash there (`vchaind tx`, the CLI's wait) times out.
// The soak test found it. Running before CometBFT opens the same databases, this is the
// `cometbft reindex-event` fix limited to the tail.
func reindexTail(cfg *cmtcfg.Config, log cmtlog.Logger) (n int, err error) {
	if cfg.TxIndex.Indexer != "kv" {
		return 0, nil
	}
	var dbs []dbm.DB
	defer func() {
		for _, db := range dbs {
			err = errors.Join(err, db.Close())
		}
	}()
	open := func(id string) (dbm.DB, error) {
		db, err := dbProvider(&cmtcfg.DBContext{ID: id, Config: cfg})
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", id, err)
		}
		dbs = append(dbs, db)
		return db, nil
	}
	blockDB, err := open("blockstore")
	if err != nil {
		return 0, err
	}
	stateDB, err := open("state")
	if err != nil {
		return 0, err
	}
	indexDB, err := open("tx_index")
	if err != nil {
		return 0, err
	}
	blocks := store.NewBlockStore(blockDB)
	states := sm.NewStore(stateDB, sm.StoreOptions{DiscardABCIResponses: cfg.Storage.DiscardABCIResponses})
	st, err := states.Load()
	if err != nil {
		return 0, fmt.Errorf("load state: %w", err)
	}
	txIdx := txidxkv.NewTxIndex(indexDB)
	blockIdx := blockidxkv.New(dbm.NewPrefixDB(indexDB, []byte("block_events")))
	for h := max(st.LastBlockHeight-reindexDepth+1, blocks.Base(), 1); h <= st.LastBlockHeight; h++ {
		block := blocks.LoadBlock(h)
		if block == nil {
			continue
		}
		hasBlock, err := blockIdx.Has(h)
		if err != nil {
			return n, fmt.Errorf("block index at %d: %w", h, err)
		}
		hasTxs := true
		if len(block.Txs) > 0 {
			// The indexer writes a block's transactions in one batch: the last one tells.
			got, err := txIdx.Get(block.Txs[len(block.Txs)-1].Hash())
			if err != nil {
				return n, fmt.Errorf("tx index at %d: %w", h, err)
			}
			hasTxs = got != nil
		}
		if hasBlock && hasTxs {
			continue
		}
		res, err := states.LoadFinalizeBlockResponse(h)
		if err != nil {
			return n, fmt.Errorf("results of block %d: %w", h, err)
		}
		if len(res.TxResults) != len(block.Txs) {
			return n, fmt.Errorf("block %d has %d transactions and %d results", h, len(block.Txs), len(res.TxResults))
		}
		if !hasTxs {
			batch := txindex.NewBatch(int64(len(block.Txs)))
			for i, r := range res.TxResults {
				if err := batch.Add(&abcitypes.TxResult{Height: h, Index: uint32(i), Tx: block.Txs[i], Result: *r}); err != nil {
					return n, fmt.Errorf("index block %d: %w", h, err)
				}
			}
			if err := txIdx.AddBatch(batch); err != nil {
				return n, fmt.Errorf("index the transactions of block %d: %w", h, err)
			}
		}
		if !hasBlock {
			if err := blockIdx.Index(types.EventDataNewBlockEvents{Height: h, Events: res.Events, NumTxs: int64(len(block.Txs))}); err != nil {
				return n, fmt.Errorf("index the events of block %d: %w", h, err)
			}
		}
		log.Info("indexed a committed block the process had stopped before indexing", "height", h, "txs", len(block.Txs))
		n++
	}
	return n, nil
}
