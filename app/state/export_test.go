package state

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/iavl"
)

// TestImportChecksInnerKeys imports an exported version whose nodes a peer altered in
// ways the root hash does not see (an inner node's key) or does (a leaf's value): the
// first is refused by Add, the second by Finish; the genuine export imports to the same
// app hash.
func TestImportChecksInnerKeys(t *testing.T) {
	src, err := Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(src)
	for i := 0; i < 40; i++ {
		c.Set(ck(fmt.Sprintf("k%02d", i)), []byte("v"))
	}
	commit(t, src, 1, c)
	v, err := src.OpenVersion(1)
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		store string
		n     iavl.ExportNode
	}
	var nodes []node
	if err := v.Export(func(store string, n *iavl.ExportNode) error {
		nodes = append(nodes, node{store, *n})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	restore := func(alter func(i int, n *iavl.ExportNode) bool) error {
		dst, err := Open(dbm.NewMemDB())
		if err != nil {
			t.Fatal(err)
		}
		im, err := dst.Import(1)
		if err != nil {
			t.Fatal(err)
		}
		defer im.Abort()
		current, altered := "", false
		for i, nd := range nodes {
			if nd.store != current {
				if err := im.Begin(nd.store); err != nil {
					return err
				}
				current = nd.store
			}
			n := nd.n
			if !altered && alter(i, &n) {
				altered = true
			}
			if err := im.Add(&n); err != nil {
				return err
			}
		}
		_, err = im.Finish(src.AppHash())
		return err
	}
	if err := restore(func(int, *iavl.ExportNode) bool { return false }); err != nil {
		t.Fatalf("the genuine export: %v", err)
	}
	err = restore(func(_ int, n *iavl.ExportNode) bool {
		if n.Height > 0 && strings.HasPrefix(string(n.Key), "contract/c/") {
			n.Key = append(append([]byte(nil), n.Key...), 'x')
			return true
		}
		return false
	})
	if err == nil || !strings.Contains(err.Error(), "inner node") {
		t.Fatalf("an inner node's key changed: %v, want refused", err)
	}
	err = restore(func(_ int, n *iavl.ExportNode) bool {
		if n.Height == 0 && strings.HasPrefix(string(n.Key), "contract/c/") {
			n.Value = []byte("w")
			return true
		}
		return false
	})
	if !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("a leaf's value changed: %v, want the root mismatch", err)
	}
}
