package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/iavl"
)

// This file is the store side of state sync (app/snapshot): reading a committed version
// apart from the working trees, exporting it node by node, importing it into an empty
// store, and holding a version back from pruning while a snapshot reads it.

// exportCacheSize is the node cache of the trees a Version opens: an export reads each
// node once, so a cache only has to hold a path from the root.
const exportCacheSize = 10_000

// retention is the set of versions the pruner must keep: a snapshot being taken reads one
// in the background while blocks keep committing.
type retention struct {
	mu   sync.Mutex
	hold map[int64]int
}

// min returns the lowest retained version, 0 if none.
func (r *retention) min() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m int64
	for h := range r.hold {
		if m == 0 || h < m {
			m = h
		}
	}
	return m
}

// pruneBound lowers a pruning target so that no retained version is deleted (pruning
// deletes every version up to the target, so it must stop below the lowest one).
func (s *Store) pruneBound(to int64) int64 {
	if m := s.retain.min(); m > 0 && to >= m {
		return m - 1
	}
	return to
}

// Retain keeps version h from pruning until Release(h). It fails if h is not committed
// or already out of the keep_recent window. Retains nest: each needs its Release.
//
// It does not wait for h to be durable (the background save of the last commit may still
// be writing it): the caller retains the height it just committed, on the consensus
// goroutine, before any later commit could prune it; OpenVersion waits for the save.
func (s *Store) Retain(h int64) error {
	last := s.Height()
	if h < 1 || h > last {
		return fmt.Errorf("retain version %d: the last committed height is %d", h, last)
	}
	if s.keepRecent > 0 && h <= last-s.keepRecent {
		return fmt.Errorf("retain version %d: pruned (keep_recent %d, height %d)", h, s.keepRecent, last)
	}
	s.retain.mu.Lock()
	defer s.retain.mu.Unlock()
	if s.retain.hold == nil {
		s.retain.hold = map[int64]int{}
	}
	s.retain.hold[h]++
	return nil
}

// Release ends one Retain of h; the next commit's pruning may then delete it.
func (s *Store) Release(h int64) {
	s.retain.mu.Lock()
	defer s.retain.mu.Unlock()
	if s.retain.hold[h] <= 1 {
		delete(s.retain.hold, h)
		return
	}
	s.retain.hold[h]--
}

// Version is a committed version of every store, read through trees of its own: their
// nodes are not shared with the working trees (whose copy-on-write rewrites shared nodes,
// see Store.nodes), so a Version can be read in the background while blocks commit. Keep
// it from pruning with Retain while it is in use.
type Version struct {
	Height int64
	trees  []*iavl.ImmutableTree // in storeNames order
}

// OpenVersion opens committed version h for reading, once it is durable.
func (s *Store) OpenVersion(h int64) (*Version, error) {
	if h > s.Height() {
		return nil, fmt.Errorf("open version %d: the last committed height is %d", h, s.Height())
	}
	if err := s.WaitSaved(); err != nil { // saves are in order: h is on disk after this
		return nil, fmt.Errorf("open version %d: %w", h, err)
	}
	return s.openVersion(h)
}

// openVersion opens version h of the trees on disk.
func (s *Store) openVersion(h int64) (*Version, error) {
	v := &Version{Height: h}
	for _, name := range storeNames {
		t := iavl.NewMutableTree(iavlDB{dbm.NewPrefixDB(s.db, treePrefix(name))}, exportCacheSize, true, iavl.NewNopLogger())
		if !t.VersionExists(h) {
			return nil, fmt.Errorf("open version %d: store %s does not have it", h, name)
		}
		it, err := t.GetImmutable(h)
		if err != nil {
			return nil, fmt.Errorf("open version %d: store %s: %w", h, name, err)
		}
		v.trees = append(v.trees, it)
	}
	return v, nil
}

// AppHash is the app hash of the version.
func (v *Version) AppHash() []byte {
	roots := make([]StoreRoot, len(v.trees))
	for i, t := range v.trees {
		roots[i] = StoreRoot{Name: storeNames[i], Root: t.Hash()}
	}
	return CommitHash(roots)
}

// Get reads key at this version; absent is nil.
func (v *Version) Get(key []byte) ([]byte, error) {
	i, err := storeIndex(key)
	if err != nil {
		return nil, nil
	}
	val, err := v.trees[i].Get(key)
	if err != nil {
		return nil, fmt.Errorf("read %q at version %d: %w", key, v.Height, err)
	}
	return val, nil
}

// Iterate calls fn for every key with the given prefix at this version, in key order,
// until fn returns false, as Store.Iterate does for the last committed height (a dry run
// lists keys of a historical state through it). The prefix must lie within one store's
// namespace.
func (v *Version) Iterate(prefix []byte, fn func(key, value []byte) bool) error {
	i, err := storeIndex(prefix)
	if err != nil {
		return nil // no key outside the namespaces exists
	}
	it, err := v.trees[i].Iterator(prefix, prefixEnd(prefix), true)
	if err != nil {
		return fmt.Errorf("iterate %q at version %d: %w", prefix, v.Height, err)
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if isSentinel(it.Key()) {
			continue // not a record (sentinel.go)
		}
		if !fn(it.Key(), it.Value()) {
			return nil
		}
	}
	return it.Error()
}

// StoreNames lists the stores in the order Export visits them and Import expects them.
func StoreNames() []string { return append([]string(nil), storeNames...) }

// Export calls node for every node of every store, store by store in StoreNames order and
// within a store in IAVL's export order (depth-first post-order), which Import needs. The
// sequence is a function of the version's trees alone: byte-identical on every node.
func (v *Version) Export(node func(store string, n *iavl.ExportNode) error) error {
	for i, t := range v.trees {
		if err := exportTree(storeNames[i], t, node); err != nil {
			return err
		}
	}
	return nil
}

func exportTree(name string, t *iavl.ImmutableTree, node func(string, *iavl.ExportNode) error) error {
	if t.Size() == 0 {
		return nil // an empty tree has no root to traverse
	}
	ex, err := t.Export()
	if err != nil {
		return fmt.Errorf("export store %s: %w", name, err)
	}
	defer ex.Close()
	for {
		n, err := ex.Next()
		if errors.Is(err, iavl.ErrorExportDone) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("export store %s: %w", name, err)
		}
		if err := node(name, n); err != nil {
			return err
		}
	}
}

// ErrNotEmpty refuses a restore into a store that holds state.
var ErrNotEmpty = errors.New("state: the store is not empty")

// Import restores a version into an empty store: the stores' nodes in Export's order
// (Begin each store in StoreNames order, then Add its nodes), then Finish checks the
// trees against the trusted app hash and Commit makes the height durable. Until Commit
// nothing counts: Open ignores trees no commit record names, and Abort wipes them.
type Import struct {
	s      *Store
	height int64
	next   int // index of the next store to Begin
	imp    *iavl.Importer
	done   bool
	// ranges are the key ranges of the subtrees of the current store imported so far and
	// not yet joined under a parent (see checkKeys).
	ranges []keyRange
}

// keyRange is the smallest and largest key of an imported subtree.
type keyRange struct{ min, max []byte }

// Import starts restoring height into s, which must hold no committed state.
func (s *Store) Import(height int64) (*Import, error) {
	if height < 1 {
		return nil, fmt.Errorf("import height %d: must be 1 or more", height)
	}
	s.work.Lock()
	defer s.work.Unlock()
	if h := s.Height(); h != 0 {
		return nil, fmt.Errorf("import height %d: the store holds height %d: %w", height, h, ErrNotEmpty)
	}
	// Leftovers of an import that crashed or was aborted (no commit record names them)
	// would make IAVL refuse the import: start from empty trees.
	if err := s.wipeTrees(); err != nil {
		return nil, fmt.Errorf("import height %d: %w", height, err)
	}
	return &Import{s: s, height: height}, nil
}

// Begin ends the previous store's import and starts the named store's, which must be the
// next in StoreNames order.
func (im *Import) Begin(store string) error {
	if im.done {
		return errors.New("import: already finished")
	}
	if im.next >= len(storeNames) || storeNames[im.next] != store {
		return fmt.Errorf("import: store %q out of order (want %s)", store, im.expected())
	}
	if err := im.commitCurrent(); err != nil {
		return err
	}
	imp, err := im.s.trees[im.next].Import(im.height)
	if err != nil {
		return fmt.Errorf("import store %s: %w", store, err)
	}
	im.imp = imp
	im.ranges = im.ranges[:0]
	im.next++
	return nil
}

// checkKeys checks the keys of the export's post-order stream: leaves in strictly
// increasing order, and each inner node keyed by the smallest key of its right subtree,
// IAVL's search invariant. The root hash does not cover an inner node's key (IAVL hashes
// an inner node's height, size, version and children's hashes), so without this check a
// peer could serve a tree that hashes to the trusted app hash and yet misroutes lookups:
// such a node would read keys as absent and fork at its first block.
func (im *Import) checkKeys(n *iavl.ExportNode) error {
	if n.Height == 0 {
		if k := len(im.ranges); k > 0 && bytes.Compare(im.ranges[k-1].max, n.Key) >= 0 {
			return fmt.Errorf("leaf %q does not follow %q: keys out of order", n.Key, im.ranges[k-1].max)
		}
		im.ranges = append(im.ranges, keyRange{min: n.Key, max: n.Key})
		return nil
	}
	k := len(im.ranges)
	if k < 2 {
		return fmt.Errorf("inner node %q with %d subtree(s) before it, want 2", n.Key, k)
	}
	left, right := im.ranges[k-2], im.ranges[k-1]
	if !bytes.Equal(n.Key, right.min) {
		return fmt.Errorf("inner node keyed %q over a right subtree starting at %q", n.Key, right.min)
	}
	im.ranges = append(im.ranges[:k-2], keyRange{min: left.min, max: right.max})
	return nil
}

func (im *Import) expected() string {
	if im.next < len(storeNames) {
		return storeNames[im.next]
	}
	return "no more stores"
}

func (im *Import) commitCurrent() error {
	if im.imp == nil {
		return nil
	}
	err := im.imp.Commit()
	im.imp = nil
	if err != nil {
		return fmt.Errorf("import store %s: %w", storeNames[im.next-1], err)
	}
	return nil
}

// Add imports one node of the current store. A node that cannot belong to the version is
// refused (IAVL would index by its version).
func (im *Import) Add(n *iavl.ExportNode) (err error) {
	if im.imp == nil {
		return errors.New("import: a node before any store")
	}
	if n.Version < 1 || n.Version > im.height || n.Height < 0 {
		return fmt.Errorf("import store %s: node of version %d, height %d does not fit version %d", storeNames[im.next-1], n.Version, n.Height, im.height)
	}
	defer func() { // the data is a peer's: a malformed tree must be an error, never a crash
		if r := recover(); r != nil {
			err = fmt.Errorf("import store %s: malformed node: %v", storeNames[im.next-1], r)
		}
	}()
	if err := im.checkKeys(n); err != nil {
		return fmt.Errorf("import store %s: %w", storeNames[im.next-1], err)
	}
	if err := im.imp.Add(n); err != nil {
		return fmt.Errorf("import store %s: %w", storeNames[im.next-1], err)
	}
	return nil
}

// Finish ends the import and checks that the trees hash to trusted, the app hash of the
// height from a verified header. On any error the caller must Abort. The returned
// Version reads the restored state (to check what it records before Commit).
func (im *Import) Finish(trusted []byte) (*Version, error) {
	if im.done {
		return nil, errors.New("import: already finished")
	}
	if err := im.commitCurrent(); err != nil {
		return nil, err
	}
	for im.next < len(storeNames) { // stores with no node at all were empty
		if err := im.Begin(storeNames[im.next]); err != nil {
			return nil, err
		}
		if err := im.commitCurrent(); err != nil {
			return nil, err
		}
	}
	im.done = true
	v, err := im.s.openVersion(im.height) // imported, no commit record yet
	if err != nil {
		return nil, err
	}
	if got := v.AppHash(); !bytes.Equal(got, trusted) {
		return nil, fmt.Errorf("%w: the restored trees at height %d hash to %X, the trusted app hash is %X", ErrRootMismatch, im.height, got, trusted)
	}
	return v, nil
}

// ErrRootMismatch reports restored trees whose root is not the trusted app hash.
var ErrRootMismatch = errors.New("state: restored state does not match the trusted app hash")

// Commit writes the commit record of the restored height: from here the store is at that
// height, as if it had committed every block up to it.
func (im *Import) Commit(appHash []byte) error {
	if !im.done {
		return errors.New("import: commit before finish")
	}
	s := im.s
	s.work.Lock()
	defer s.work.Unlock()
	s.nodes.Lock()
	defer s.nodes.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Set(keyHeight, binary.BigEndian.AppendUint64(nil, uint64(im.height))); err != nil {
		return fmt.Errorf("batch height: %w", err)
	}
	if err := b.Set(keyAppHash, appHash); err != nil {
		return fmt.Errorf("batch app hash: %w", err)
	}
	if err := b.WriteSync(); err != nil {
		return fmt.Errorf("commit restored height %d: %w", im.height, err)
	}
	committed, err := s.immutableAt(im.height)
	if err != nil {
		return fmt.Errorf("commit restored height %d: %w", im.height, err)
	}
	s.mu.Lock()
	s.height = im.height
	s.appHash = append([]byte(nil), appHash...)
	s.committed, s.overlay, s.overlaySorted = committed, nil, nil
	s.mu.Unlock()
	return nil
}

// Abort drops whatever the import wrote, leaving the store empty for another attempt.
func (im *Import) Abort() error {
	if im.imp != nil {
		im.imp.Close()
		im.imp = nil
	}
	im.done = true
	s := im.s
	s.work.Lock()
	defer s.work.Unlock()
	if s.Height() != 0 {
		return nil // committed: nothing to drop
	}
	return s.wipeTrees()
}

// wipeTrees deletes every tree's data and reopens them empty. Only for a store at height
// 0, whose trees no commit record names. The caller holds s.work.
func (s *Store) wipeTrees() error {
	s.nodes.Lock()
	defer s.nodes.Unlock()
	for i, name := range storeNames {
		pdb := dbm.NewPrefixDB(s.db, treePrefix(name))
		if err := deleteAll(pdb); err != nil {
			return fmt.Errorf("wipe store %s: %w", name, err)
		}
		s.trees[i] = iavl.NewMutableTree(iavlDB{pdb}, nodeCacheSize, true, iavl.NewNopLogger())
	}
	return nil
}

func deleteAll(db dbm.DB) error {
	for {
		it, err := db.Iterator(nil, nil)
		if err != nil {
			return err
		}
		var keys [][]byte
		for ; it.Valid() && len(keys) < 10_000; it.Next() {
			keys = append(keys, append([]byte(nil), it.Key()...))
		}
		err = it.Error()
		it.Close()
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		b := db.NewBatch()
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				b.Close()
				return err
			}
		}
		err = b.WriteSync()
		b.Close()
		if err != nil {
			return err
		}
	}
}
