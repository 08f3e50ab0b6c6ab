package state

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

// TestReadsDuringStageAndCommit reads the committed state from other goroutines (as
// CheckTx and queries do) while blocks are staged and committed: every read must give a
// committed value, and under -race no read may race with the working trees (iavl's
// copy-on-write clears child links of saved nodes: Store.nodes guards them).
func TestReadsDuringStageAndCommit(t *testing.T) {
	st, err := Open(dbm.NewMemDB(), WithKeepRecent(2))
	if err != nil {
		t.Fatal(err)
	}
	block := func(h int64) *Cache {
		c := NewCache(st)
		for i := 0; i < 200; i++ {
			c.Set(ck(fmt.Sprintf("k%03d", i)), fmt.Appendf(nil, "h%d", h))
		}
		return c
	}
	commit(t, st, 1, block(1))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v, err := st.Get(ck(fmt.Sprintf("k%03d", (i*7+g)%200)))
				if err != nil || !strings.HasPrefix(string(v), "h") {
					errs <- fmt.Errorf("read %q, %v", v, err)
					return
				}
				if err := st.Iterate(ContractPrefix("c"), func(_, _ []byte) bool { return i%2 == 0 }); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	for h := int64(2); h <= 30; h++ {
		c := block(h)
		if _, err := st.Stage(h, c); err != nil { // staged twice, as FinalizeBlock may be retried
			t.Fatal(err)
		}
		commit(t, st, h, c)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
