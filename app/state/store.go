// Package state is the recording unit: the app's committed key/value store on cosmos-db,
// the per-block and per-transaction write sets layered over it, and the app hash.
//
// Nothing reaches the database before Commit: a block's writes live in memory in a Cache
// and are written, together with the new height and app hash, in one synchronous batch.
// A node killed at any point therefore restarts at the last committed block, and CometBFT's
// handshake replays whatever came after.
package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/internal/crashpoint"
)

// Metadata keys. They live outside every hashed namespace.
var (
	keyHeight  = []byte("meta/height")
	keyAppHash = []byte("meta/app_hash")
)

// Reader reads a key/value view. A nil value with a nil error means absent.
type Reader interface {
	Get(key []byte) ([]byte, error)
}

// Store is the committed state. It is safe for concurrent use: queries and mempool checks
// read committed data while a block executes in a Cache.
type Store struct {
	db dbm.DB

	mu      sync.RWMutex
	height  int64
	appHash []byte
}

// Open opens the store kept in db and loads the last committed height and app hash.
func Open(db dbm.DB) (*Store, error) {
	s := &Store{db: db}
	h, err := db.Get(keyHeight)
	if err != nil {
		return nil, fmt.Errorf("read committed height: %w", err)
	}
	if h != nil {
		if len(h) != 8 {
			return nil, fmt.Errorf("committed height record is %d bytes, want 8: store is corrupt", len(h))
		}
		s.height = int64(binary.BigEndian.Uint64(h))
		if s.appHash, err = db.Get(keyAppHash); err != nil {
			return nil, fmt.Errorf("read committed app hash: %w", err)
		}
	}
	return s, nil
}

// Height returns the last committed height (0 before the first block).
func (s *Store) Height() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.height
}

// AppHash returns the app hash of the last committed height.
func (s *Store) AppHash() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]byte(nil), s.appHash...)
}

// Get reads a committed value.
func (s *Store) Get(key []byte) ([]byte, error) {
	v, err := s.db.Get(key)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", key, err)
	}
	return v, nil
}

// Iterate calls fn for every committed key with the given prefix, in key order, until fn
// returns false.
func (s *Store) Iterate(prefix []byte, fn func(key, value []byte) bool) error {
	end := prefixEnd(prefix)
	it, err := s.db.Iterator(prefix, end)
	if err != nil {
		return fmt.Errorf("iterate %q: %w", prefix, err)
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if !fn(it.Key(), it.Value()) {
			break
		}
	}
	return it.Error()
}

// ErrHeight reports a commit that does not follow the last committed height.
var ErrHeight = errors.New("state: commit out of order")

// Commit writes the block's writes, its height and app hash in one atomic, synced batch.
// The first commit may be at any height from 1 (a genesis's initial_height; the executor
// checks it is that one); every later one follows the last.
func (s *Store) Commit(height int64, appHash []byte, writes *Cache) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if next := s.height + 1; height != next && (s.height != 0 || height < 1) {
		return fmt.Errorf("commit height %d after %d: %w", height, s.height, ErrHeight)
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, w := range writes.Sorted() {
		var err error
		if w.Deleted {
			err = b.Delete(w.Key)
		} else {
			err = b.Set(w.Key, w.Value)
		}
		if err != nil {
			return fmt.Errorf("batch write %q: %w", w.Key, err)
		}
	}
	var hb [8]byte
	binary.BigEndian.PutUint64(hb[:], uint64(height))
	if err := b.Set(keyHeight, hb[:]); err != nil {
		return fmt.Errorf("batch height: %w", err)
	}
	if err := b.Set(keyAppHash, appHash); err != nil {
		return fmt.Errorf("batch app hash: %w", err)
	}
	crashpoint.Hit(crashpoint.MidCommit, height)
	if err := b.WriteSync(); err != nil {
		return fmt.Errorf("commit height %d: %w", height, err)
	}
	crashpoint.Hit(crashpoint.AfterCommitWrite, height)
	s.height = height
	s.appHash = append([]byte(nil), appHash...)
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
