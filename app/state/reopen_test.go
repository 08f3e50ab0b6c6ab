package state

import (
	"bytes"
	"fmt"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

// TestReopenDropsVersionsAheadOfCommit builds, deterministically, what a crash inside the
// trees' save leaves when the first trees' writes reached the disk: some trees hold
// version h+1, others and the commit record say h. Reopening must load h everywhere
// (deleting the versions ahead), and committing block h+1 again must give the same app
// hash as without the crash. Also from a first commit cut short (no commit record at all).
func TestReopenDropsVersionsAheadOfCommit(t *testing.T) {
	block := func(st *Store, h int64) *Cache {
		c := NewCache(st)
		for i := 0; i < 50; i++ {
			c.Set(ck(fmt.Sprintf("k%02d", (int(h)*7+i)%60)), fmt.Appendf(nil, "h%d", h))
		}
		c.Set(AccountKey([]byte("a")), EncodeUint64(uint64(h)))
		c.Set(KeyParams, fmt.Appendf(nil, "p%d", h))
		return c
	}
	ref, _ := Open(dbm.NewMemDB())
	want := map[int64][]byte{}
	for h := int64(1); h <= 3; h++ {
		want[h] = commit(t, ref, h, block(ref, h))
	}
	for _, committed := range []int64{0, 2} {
		for ahead := 1; ahead < len(storeNames); ahead++ {
			t.Run(fmt.Sprintf("committed=%d/ahead=%d", committed, ahead), func(t *testing.T) {
				db := dbm.NewMemDB()
				st, _ := Open(db)
				for h := int64(1); h <= committed; h++ {
					commit(t, st, h, block(st, h))
				}
				next := committed + 1
				if _, err := st.Stage(next, block(st, next)); err != nil {
					t.Fatal(err)
				}
				for _, tr := range st.trees[:ahead] {
					if _, _, err := tr.SaveVersion(); err != nil {
						t.Fatal(err)
					}
				}
				st, err := Open(db) // the crash: the commit record was never written
				if err != nil {
					t.Fatal(err)
				}
				if st.Height() != committed || !bytes.Equal(st.AppHash(), want[committed]) {
					t.Fatalf("reopened at %d %X, want %d %X", st.Height(), st.AppHash(), committed, want[committed])
				}
				for i, tr := range st.trees {
					if v, _ := tr.GetLatestVersion(); v != committed {
						t.Fatalf("store %s: latest version %d, want %d", storeNames[i], v, committed)
					}
				}
				for h := next; h <= 3; h++ {
					if got := commit(t, st, h, block(st, h)); !bytes.Equal(got, want[h]) {
						t.Fatalf("height %d after the crash: %X, want %X", h, got, want[h])
					}
				}
			})
		}
	}
}

// TestOpenRefusesCorruptState: a commit record whose app hash the trees do not give is
// refused at Open, not served.
func TestOpenRefusesCorruptState(t *testing.T) {
	db := dbm.NewMemDB()
	st, _ := Open(db)
	c := NewCache(st)
	c.Set(ck("k"), []byte("v"))
	commit(t, st, 1, c)
	if err := db.Set(keyAppHash, bytes.Repeat([]byte{1}, 32)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(db); err == nil {
		t.Fatal("opened a store whose trees do not hash to its commit record")
	}
}
