package state

import (
	corestore "cosmossdk.io/core/store"
	dbm "github.com/cosmos/cosmos-db"
)

// iavlDB lets IAVL v1.3 (which speaks cosmossdk.io/core/store) use a cosmos-db database.
// The two interfaces differ only in the return types of these four methods: cosmos-db's
// iterators and batches already have every method core's declare.
type iavlDB struct{ dbm.DB }

func (d iavlDB) Iterator(start, end []byte) (corestore.Iterator, error) {
	return d.DB.Iterator(start, end)
}

func (d iavlDB) ReverseIterator(start, end []byte) (corestore.Iterator, error) {
	return d.DB.ReverseIterator(start, end)
}

func (d iavlDB) NewBatch() corestore.Batch { return d.DB.NewBatch() }

func (d iavlDB) NewBatchWithSize(n int) corestore.Batch { return d.DB.NewBatchWithSize(n) }
