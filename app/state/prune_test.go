package state

import (
	"fmt"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

// TestPruning: with keep_recent n, after committing height h the store reads and proves
// heights h-n+1..h and no older one, across a reopen; with 0 it keeps every height. The
// chain starts at 5 (an initial_height above 1), so the versions are not 1-based.
func TestPruning(t *testing.T) {
	for _, keep := range []int64{0, 2, 3} {
		t.Run(fmt.Sprintf("keep=%d", keep), func(t *testing.T) {
			db := dbm.NewMemDB()
			st, err := Open(db, WithKeepRecent(keep))
			if err != nil {
				t.Fatal(err)
			}
			const first, last = 5, 14
			for h := int64(first); h <= last; h++ {
				c := NewCache(st)
				c.Set(ck("k"), fmt.Appendf(nil, "v%d", h))
				c.Set(ck(fmt.Sprintf("h%d", h)), []byte("x"))
				commit(t, st, h, c)
				if h == 9 {
					if st, err = Open(db, WithKeepRecent(keep)); err != nil {
						t.Fatal(err)
					}
				}
			}
			oldest := int64(first)
			if keep > 0 {
				oldest = last - keep + 1
			}
			for h := int64(first); h <= last; h++ {
				v, _, err := st.Prove(h, ck("k"))
				if kept := h >= oldest; kept != (err == nil) {
					t.Fatalf("height %d: kept %v, prove error %v", h, kept, err)
				} else if kept && string(v) != fmt.Sprintf("v%d", h) {
					t.Fatalf("height %d reads %q", h, v)
				}
				for i, tr := range st.trees {
					if tr.VersionExists(h) != (h >= oldest) {
						t.Fatalf("store %s: version %d exists %v, oldest kept %d", storeNames[i], h, tr.VersionExists(h), oldest)
					}
				}
			}
		})
	}
	for _, bad := range []int64{-1, 1} {
		if _, err := Open(dbm.NewMemDB(), WithKeepRecent(bad)); err == nil {
			t.Fatalf("keep_recent %d was accepted", bad)
		}
	}
}
