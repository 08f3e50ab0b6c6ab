// Package state is the recording unit: the app's committed key/value store, the per-block
// and per-transaction write sets layered over it, and the app hash.
//
// The committed state is a few named IAVL trees (cosmos/iavl, see keys.go for which key
// goes where) in one cosmos-db database, each tree under its own key prefix. The app hash
// is the root of a simple Merkle tree over the stores' roots (commit.go), so every value,
// or its absence, has a proof from its leaf to the header (proof.go).
//
// A block's writes live in memory in a Cache until FinalizeBlock stages them into the
// trees' working versions (Stage, which yields the app hash); Commit saves each tree's
// version and then writes the commit record (height and app hash) in one synced batch.
// The commit record is what makes a height durable: Open loads every tree at the height
// it names and deletes any later version a crash left in some tree, so a node killed at
// any point reopens at one committed height and CometBFT's handshake replays the rest.
package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/iavl"

	"github.com/vchain/vchain/internal/crashpoint"
)

// Metadata keys: the commit record. They live outside every tree's prefix.
var (
	keyHeight  = []byte("meta/height")
	keyAppHash = []byte("meta/app_hash")
)

// treePrefix is the database prefix of a named store's tree.
func treePrefix(name string) []byte { return []byte("tree/" + name + "/") }

// DefaultKeepRecent is how many recent versions Open keeps unless told otherwise.
const DefaultKeepRecent = 100

// nodeCacheSize is the IAVL node cache of each tree, in nodes: the Cosmos SDK's default
// (iavl-cache-size). It fills only as far as the state and its recent versions go. Sized
// so that pruning finds the orphans of the version it deletes still cached: with 200,000
// nodes BenchmarkCommit/100k took 130-260 ms (pruning reading from disk), with 781,250
// 32-41 ms, at ~590 MB peak RSS for that benchmark's 100,000 keys x 100 versions.
const nodeCacheSize = 781_250

// Reader reads a key/value view. A nil value with a nil error means absent.
type Reader interface {
	Get(key []byte) ([]byte, error)
}

// Option configures Open.
type Option func(*Store)

// WithKeepRecent keeps the last n committed versions and prunes older ones after each
// commit; 0 keeps every version, and 1 is refused (see Store.pruning).
func WithKeepRecent(n int64) Option { return func(s *Store) { s.keepRecent = n } }

// KeepRecent returns how many recent versions the store keeps (0: all).
func (s *Store) KeepRecent() int64 { return s.keepRecent }

// Store is the committed state. It is safe for concurrent use: queries and mempool checks
// read committed data (immutable trees of the last version) while a block executes in a
// Cache and is staged into the trees' working versions.
type Store struct {
	db         dbm.DB
	keepRecent int64
	trees      []*iavl.MutableTree // in storeNames order

	// nodes guards the tree nodes readers share with the working trees: iavl's
	// copy-on-write clears the child links of a saved node it copies (Node.clone), which a
	// concurrent read of the committed tree would race with. Stage and Commit hold it
	// exclusively while they touch the trees; Get, Iterate and Prove hold it shared.
	nodes sync.RWMutex

	// pruning guards the versions pruning deletes: a reader of a past height (Prove) holds
	// it shared, prune exclusively. Readers of the last committed version do not take it:
	// pruning never deletes a node of that version, nor of the one before (keep_recent is
	// 0 or at least 2), which a reader that began before the save may still walk. So the
	// mempool's and the next block's reads go on while the save prunes.
	pruning sync.RWMutex

	// work serialises Stage and Commit, the two users of the working trees.
	work         sync.Mutex
	staged       *Cache // the write set staged into the working trees, nil if none
	stagedSorted []Write
	stagedHeight int64
	stagedHash   []byte

	mu      sync.RWMutex
	height  int64 // the last committed height, durable or still being saved
	appHash []byte
	// committed are the trees at the last durable height (nil before the first). While
	// the version of height is being saved, they are one height behind and overlay holds
	// the write set that takes them to height.
	committed     []*iavl.ImmutableTree
	overlay       *Cache
	overlaySorted []Write // overlay's writes in key order
	// saved is closed when the last Commit's version is durable; saveErr is why it failed.
	saved   chan struct{}
	saveErr error

	beforeSave func(height int64) // a test's hook into the background save
	onSave     func(d time.Duration)

	retain retention // versions a snapshot is reading: never pruned (export.go)
}

// Open opens the store kept in db at its last committed height.
func Open(db dbm.DB, opts ...Option) (*Store, error) {
	s := &Store{db: db, keepRecent: DefaultKeepRecent, saved: closedChan()}
	for _, o := range opts {
		o(s)
	}
	if s.keepRecent < 0 || s.keepRecent == 1 {
		return nil, fmt.Errorf("keep_recent %d: must be 0 (keep all) or at least 2 (a read that began before a commit may still walk the version before it)", s.keepRecent)
	}
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
	for _, name := range storeNames {
		t, err := s.openTree(name)
		if err != nil {
			return nil, err
		}
		s.trees = append(s.trees, t)
	}
	if s.height == 0 {
		return s, nil
	}
	if s.committed, err = s.immutableAt(s.height); err != nil {
		return nil, err
	}
	if got := CommitHash(s.roots(s.committed)); !bytes.Equal(got, s.appHash) {
		return nil, fmt.Errorf("the trees at height %d hash to %X, the commit record says %X: store is corrupt", s.height, got, s.appHash)
	}
	return s, nil
}

// openTree loads the named tree at the committed height, deleting any later version: a
// crash after some trees saved a version and before the commit record was written leaves
// such versions, possibly in part.
func (s *Store) openTree(name string) (*iavl.MutableTree, error) {
	pdb := iavlDB{dbm.NewPrefixDB(s.db, treePrefix(name))}
	// Fast storage (a second, flat copy of the latest values) is off: it is outside the
	// versioned nodes that a rollback deletes, so a torn commit could leave it ahead of
	// the tree; and it costs a write per changed key at every commit.
	t := iavl.NewMutableTree(pdb, nodeCacheSize, true, iavl.NewNopLogger())
	latest, err := t.GetLatestVersion()
	if err != nil {
		return nil, fmt.Errorf("store %s: read latest version: %w", name, err)
	}
	if s.height == 0 {
		if latest > 0 { // a first commit cut short
			if err := t.DeleteVersionsFrom(1); err != nil {
				return nil, fmt.Errorf("store %s: drop uncommitted versions: %w", name, err)
			}
			t = iavl.NewMutableTree(pdb, nodeCacheSize, true, iavl.NewNopLogger())
		}
		return t, nil
	}
	if latest < s.height {
		return nil, fmt.Errorf("store %s holds versions up to %d, the commit record says %d: store is corrupt or from a vchain without a state tree (reset the home)", name, latest, s.height)
	}
	if err := t.LoadVersionForOverwriting(s.height); err != nil {
		return nil, fmt.Errorf("store %s: load version %d: %w", name, s.height, err)
	}
	return t, nil
}

// immutableAt returns the trees at version h.
func (s *Store) immutableAt(h int64) ([]*iavl.ImmutableTree, error) {
	out := make([]*iavl.ImmutableTree, len(s.trees))
	for i, t := range s.trees {
		if !t.VersionExists(h) {
			return nil, fmt.Errorf("store %s has no version %d (kept: %d recent)", storeNames[i], h, s.keepRecent)
		}
		it, err := t.GetImmutable(h)
		if err != nil {
			return nil, fmt.Errorf("store %s: version %d: %w", storeNames[i], h, err)
		}
		out[i] = it
	}
	return out, nil
}

func (s *Store) roots(trees []*iavl.ImmutableTree) []StoreRoot {
	out := make([]StoreRoot, len(trees))
	for i, t := range trees {
		out[i] = StoreRoot{Name: storeNames[i], Root: t.Hash()}
	}
	return out
}

func storeIndex(key []byte) (int, error) {
	name, err := StoreOf(key)
	if err != nil {
		return 0, err
	}
	for i, n := range storeNames {
		if n == name {
			return i, nil
		}
	}
	panic("state: prefix routed to an unlisted store " + name)
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

// Get reads a committed value. A key outside every store's namespace is absent: Stage
// refuses to write one, so none can exist.
func (s *Store) Get(key []byte) ([]byte, error) {
	i, err := storeIndex(key)
	if err != nil {
		return nil, nil
	}
	s.mu.RLock()
	committed, overlay := s.committed, s.overlay
	s.mu.RUnlock()
	if overlay != nil { // the last commit is being saved: its writes are over the trees
		if w, ok := overlay.writes[string(key)]; ok {
			if w.Deleted {
				return nil, nil
			}
			return w.Value, nil
		}
	}
	if committed == nil {
		return nil, nil
	}
	s.nodes.RLock()
	defer s.nodes.RUnlock()
	v, err := committed[i].Get(key)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", key, err)
	}
	return v, nil
}

// Iterate calls fn for every committed key with the given prefix, in key order, until fn
// returns false. The prefix must lie within one store's namespace.
func (s *Store) Iterate(prefix []byte, fn func(key, value []byte) bool) error {
	i, err := storeIndex(prefix)
	if err != nil {
		return nil // no key outside the namespaces exists (see Get)
	}
	s.mu.RLock()
	committed, overlay := s.committed, s.overlaySorted
	s.mu.RUnlock()
	// While the last commit is being saved its writes lie over the trees: merge them in,
	// in key order, the overlay's write winning over the tree's value.
	lo := sort.Search(len(overlay), func(j int) bool { return bytes.Compare(overlay[j].Key, prefix) >= 0 })
	hi := lo
	for hi < len(overlay) && bytes.HasPrefix(overlay[hi].Key, prefix) {
		hi++
	}
	pending := overlay[lo:hi]
	// emit yields the overlay's writes before key (all of them for a nil key), and
	// reports whether fn wants more.
	emit := func(key []byte) bool {
		for len(pending) > 0 && (key == nil || bytes.Compare(pending[0].Key, key) < 0) {
			w := pending[0]
			pending = pending[1:]
			if !w.Deleted && !fn(w.Key, w.Value) {
				return false
			}
		}
		return true
	}
	if committed == nil {
		emit(nil)
		return nil
	}
	s.nodes.RLock()
	defer s.nodes.RUnlock()
	it, err := committed[i].Iterator(prefix, prefixEnd(prefix), true)
	if err != nil {
		return fmt.Errorf("iterate %q: %w", prefix, err)
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		k := it.Key()
		if isSentinel(k) {
			continue // not a record (sentinel.go)
		}
		if !emit(k) {
			return nil
		}
		if len(pending) > 0 && bytes.Equal(pending[0].Key, k) {
			continue // overwritten or deleted by the commit being saved: emit yields it next
		}
		if !fn(k, it.Value()) {
			return nil
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	emit(nil)
	return nil
}

// ErrHeight reports a commit that does not follow the last committed height.
var ErrHeight = errors.New("state: commit out of order")

func (s *Store) checkNext(height int64) error {
	last := s.Height()
	if next := last + 1; height != next && (last != 0 || height < 1) {
		return fmt.Errorf("height %d after %d: %w", height, last, ErrHeight)
	}
	return nil
}

// Stage applies writes to the trees' working versions, replacing whatever was staged
// before, and returns the app hash the state would have if committed at height. The
// first commit may be at any height from 1 (a genesis's initial_height); every later one
// follows the last. Nothing is durable until Commit.
func (s *Store) Stage(height int64, writes *Cache) ([]byte, error) {
	s.work.Lock()
	defer s.work.Unlock()
	return s.stage(height, writes)
}

func (s *Store) stage(height int64, writes *Cache) ([]byte, error) {
	if err := s.failed(); err != nil {
		return nil, err
	}
	if err := s.checkNext(height); err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	s.nodes.Lock()
	defer s.nodes.Unlock()
	s.staged = nil
	first := s.Height() == 0
	for _, t := range s.trees {
		t.Rollback()
		if first {
			t.SetInitialVersion(uint64(height)) // the trees' versions are the block heights
		}
	}
	if first { // every store holds its sentinel from its first version (sentinel.go)
		for _, sn := range sentinels {
			i, err := storeIndex(sn.key)
			if err != nil || storeNames[i] != sn.store {
				panic(fmt.Sprintf("state: sentinel %q routed to the wrong store", sn.key))
			}
			if _, err := s.trees[i].Set(sn.key, SentinelValue); err != nil {
				return nil, fmt.Errorf("stage height %d: sentinel of store %s: %w", height, sn.store, err)
			}
		}
	}
	sorted := writes.Sorted()
	for _, w := range sorted {
		i, err := storeIndex(w.Key)
		if err != nil {
			return nil, fmt.Errorf("stage height %d: %w", height, err)
		}
		if isSentinel(w.Key) {
			return nil, fmt.Errorf("stage height %d: key %q is a store's sentinel, which nothing may write", height, w.Key)
		}
		if w.Deleted {
			_, _, err = s.trees[i].Remove(w.Key)
		} else {
			_, err = s.trees[i].Set(w.Key, w.Value)
		}
		if err != nil {
			return nil, fmt.Errorf("stage height %d: write %q: %w", height, w.Key, err)
		}
	}
	roots := make([]StoreRoot, len(s.trees))
	for i, t := range s.trees {
		roots[i] = StoreRoot{Name: storeNames[i], Root: t.WorkingHash()}
	}
	s.staged, s.stagedSorted, s.stagedHeight, s.stagedHash = writes, sorted, height, CommitHash(roots)
	return append([]byte(nil), s.stagedHash...), nil
}

// Commit commits the state staged for height. writes must be the set staged last (it is
// staged again if not), and appHash the hash staging returned: a mismatch means the
// block's writes changed after its app hash was reported, and nothing is written.
//
// The height is committed when Commit returns: Height, AppHash and Get answer for it at
// once. Making it durable (saving each tree's version, then the synced commit record)
// runs in the background, off the consensus path, while the next block executes against
// the overlay of this block's writes. The next Stage waits for it, so at most one height
// is in flight; a failed save fails that Stage, and WaitSaved reports it. A crash before
// the commit record is written reopens the store at the height before, which CometBFT's
// handshake replays, exactly as for a crash inside a synchronous commit.
func (s *Store) Commit(height int64, appHash []byte, writes *Cache) error {
	s.work.Lock()
	release := true
	defer func() {
		if release {
			s.work.Unlock()
		}
	}()
	if err := s.failed(); err != nil {
		return err
	}
	if s.staged != writes || s.stagedHeight != height {
		if _, err := s.stage(height, writes); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	if !bytes.Equal(s.stagedHash, appHash) {
		return fmt.Errorf("commit height %d: the writes hash to %X, not the app hash %X given", height, s.stagedHash, appHash)
	}
	s.staged = nil
	saved := make(chan struct{})
	s.mu.Lock()
	s.height = height
	s.appHash = append([]byte(nil), appHash...)
	s.overlay, s.overlaySorted = writes, s.stagedSorted
	s.stagedSorted = nil // the overlay holds it until the save is done
	s.saved = saved
	s.mu.Unlock()
	release = false // the save below holds the working trees until it is done
	go func() {
		defer s.work.Unlock()
		defer close(saved)
		start := time.Now()
		err := s.save(height, appHash)
		if s.onSave != nil {
			s.onSave(time.Since(start))
		}
		if err != nil {
			s.mu.Lock()
			s.saveErr = err
			s.mu.Unlock()
		}
	}()
	return nil
}

// save makes height durable: each tree saves its version (IAVL writes it in batches of
// its own), then the commit record is written in one synced batch; Open ignores versions
// no commit record names. The caller holds s.work.
func (s *Store) save(height int64, appHash []byte) error {
	if s.beforeSave != nil {
		s.beforeSave(height)
	}
	crashpoint.Hit(crashpoint.MidCommit, height)
	// Saving writes only the new version's nodes, which no reader of the trees at the
	// height before reaches, so readers go on (under s.nodes) while it runs.
	for i, t := range s.trees {
		if _, v, err := t.SaveVersion(); err != nil {
			return fmt.Errorf("commit height %d: save store %s: %w", height, storeNames[i], err)
		} else if v != height {
			return fmt.Errorf("commit height %d: store %s saved version %d", height, storeNames[i], v)
		}
		if i == 0 {
			crashpoint.Hit(crashpoint.TreeSave, height)
		}
	}
	b := s.db.NewBatch()
	defer b.Close()
	var hb [8]byte
	binary.BigEndian.PutUint64(hb[:], uint64(height))
	if err := b.Set(keyHeight, hb[:]); err != nil {
		return fmt.Errorf("batch height: %w", err)
	}
	if err := b.Set(keyAppHash, appHash); err != nil {
		return fmt.Errorf("batch app hash: %w", err)
	}
	// A synced write also makes durable every earlier unsynced write to the same database
	// (pebble and goleveldb keep one write-ahead log), so the trees' nodes are on disk too.
	if err := b.WriteSync(); err != nil {
		return fmt.Errorf("commit height %d: %w", height, err)
	}
	crashpoint.Hit(crashpoint.AfterCommitWrite, height)
	committed, err := s.immutableAt(height)
	if err != nil {
		return fmt.Errorf("commit height %d: %w", height, err)
	}
	s.mu.Lock()
	s.committed, s.overlay, s.overlaySorted = committed, nil, nil
	s.mu.Unlock()
	s.pruning.Lock() // a proof may be reading a version pruning deletes
	defer s.pruning.Unlock()
	return s.prune(height)
}

// OnSave makes every background save report its duration to fn (metrics). Call it
// before the first Commit.
func (s *Store) OnSave(fn func(d time.Duration)) { s.onSave = fn }

// WaitSaved waits until the last committed height is durable and returns the error that
// stopped it from being saved, if any.
func (s *Store) WaitSaved() error {
	s.mu.RLock()
	saved := s.saved
	s.mu.RUnlock()
	<-saved
	return s.failed()
}

// failed returns the error of a background save that failed; the store then refuses
// every later commit (the node must stop, and reopen at the last durable height).
func (s *Store) failed() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.saveErr != nil {
		return fmt.Errorf("the store could not make height %d durable: %w", s.height, s.saveErr)
	}
	return nil
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// prune deletes the versions that fell out of the keep_recent window. Readers of old
// versions hold s.pruning shared (Prove), and the caller holds it exclusively, so a
// version can go as soon as it leaves the window.
func (s *Store) prune(height int64) error {
	if s.keepRecent == 0 || height-s.keepRecent < 1 {
		return nil
	}
	to := s.pruneBound(height - s.keepRecent)
	for i, t := range s.trees {
		if !t.VersionExists(to) {
			continue // already pruned, or before the chain's initial height
		}
		if err := t.DeleteVersionsTo(to); err != nil {
			return fmt.Errorf("prune store %s to version %d: %w", storeNames[i], to, err)
		}
	}
	return nil
}

// Close waits for the last commit to be saved and closes the database.
func (s *Store) Close() error {
	werr := s.WaitSaved()
	return errors.Join(werr, s.db.Close())
}

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
