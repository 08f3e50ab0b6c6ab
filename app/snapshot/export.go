package snapshot

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"sort"

	"github.com/cosmos/iavl"

	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/upgrade"
)

// chunker cuts the stream into chunks of size bytes and hands each to emit.
type chunker struct {
	size   int
	cur    []byte
	n      int // chunks emitted
	hashes [][32]byte
	total  int64
	emit   func(index int, chunk []byte) error
}

func (c *chunker) write(p []byte) error {
	c.total += int64(len(p))
	for len(p) > 0 {
		k := min(c.size-len(c.cur), len(p))
		c.cur = append(c.cur, p[:k]...)
		p = p[k:]
		if len(c.cur) == c.size {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *chunker) flush() error {
	if len(c.cur) == 0 {
		return nil
	}
	c.hashes = append(c.hashes, sha256.Sum256(c.cur))
	if err := c.emit(c.n, c.cur); err != nil {
		return err
	}
	c.n++
	c.cur = c.cur[:0]
	return nil
}

// Required returns the runtime versions a node restored at v's height needs: the effective
// one and the pending one if any, as v's state records them, in ascending version.
func Required(v state.Reader) ([]Module, error) {
	k := upgrade.NewKeeper(state.NewCache(v))
	eff, err := k.Effective()
	if err != nil {
		return nil, fmt.Errorf("read the effective runtime: %w", err)
	}
	need := []Module{recorded(eff.Version, eff.CodeSha256)}
	p, err := k.Pending()
	if err != nil {
		return nil, fmt.Errorf("read the pending switch: %w", err)
	}
	if p != nil && p.Version != eff.Version {
		need = append(need, recorded(p.Version, p.CodeSha256))
	}
	sort.Slice(need, func(i, j int) bool { return need[i].Version < need[j].Version })
	return need, nil
}

func recorded(version uint64, sum []byte) Module {
	m := Module{Version: version}
	copy(m.SHA256[:], sum)
	return m
}

// readModules reads the installed bytes of each required module, refusing any that does
// not match the chain's record (a snapshot must carry exactly the recorded bytes).
func readModules(need []Module, rm *runtime.Manager) ([]Module, error) {
	out := make([]Module, len(need))
	for i, m := range need {
		wasm, err := os.ReadFile(rm.Path(m.Version))
		if err != nil {
			return nil, fmt.Errorf("runtime v%d (needed by the snapshot): %w", m.Version, err)
		}
		if got := sha256.Sum256(wasm); !bytes.Equal(got[:], m.SHA256[:]) {
			return nil, fmt.Errorf("runtime v%d: installed module has sha256 %x, the chain records %x", m.Version, got, m.SHA256)
		}
		m.Wasm = wasm
		out[i] = m
	}
	return out, nil
}

// writeStream writes the snapshot stream of v carrying mods.
func writeStream(v *state.Version, mods []Module, c *chunker) (nodes int, err error) {
	if err := c.write(appendItem(nil, headerItem(v.Height))); err != nil {
		return 0, err
	}
	// Every store gets its item, even an empty one, so the reader knows where each begins.
	cur := -1
	names := state.StoreNames()
	begin := func(upto int) error {
		for cur < upto {
			cur++
			if err := c.write(appendItem(nil, storeItem(names[cur]))); err != nil {
				return err
			}
		}
		return nil
	}
	var buf []byte
	err = v.Export(func(store string, n *iavl.ExportNode) error {
		i := sort.SearchStrings(names, store)
		if err := begin(i); err != nil {
			return err
		}
		nodes++
		buf = appendItem(buf[:0], nodeItem(n))
		return c.write(buf)
	})
	if err != nil {
		return nodes, err
	}
	if err := begin(len(names) - 1); err != nil {
		return nodes, err
	}
	for _, m := range mods {
		if err := c.write(appendItem(nil, moduleItem(m))); err != nil {
			return nodes, err
		}
	}
	if err := c.write(appendItem(nil, []byte{kindEnd})); err != nil {
		return nodes, err
	}
	return nodes, c.flush()
}
