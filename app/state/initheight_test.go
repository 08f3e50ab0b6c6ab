package state

import (
	"errors"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

// TestFirstCommitHeight: a chain may start above 1 (genesis initial_height), so the first
// commit may be at any height from 1; every later one must follow the last, across a
// reopen too. The trees' versions are the heights.
func TestFirstCommitHeight(t *testing.T) {
	db := dbm.NewMemDB()
	st, err := Open(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []int64{0, -1} {
		if _, err := st.Stage(h, NewCache(st)); !errors.Is(err, ErrHeight) {
			t.Fatalf("first commit at %d: %v, want ErrHeight", h, err)
		}
	}
	c := NewCache(st)
	c.Set(ck("k"), []byte("v"))
	hash := commit(t, st, 100, c)
	if st, err = Open(db); err != nil {
		t.Fatal(err)
	}
	if st.Height() != 100 || string(st.AppHash()) != string(hash) {
		t.Fatalf("reopened at %d %x", st.Height(), st.AppHash())
	}
	for _, h := range []int64{100, 102, 1} {
		if _, err := st.Stage(h, NewCache(st)); !errors.Is(err, ErrHeight) {
			t.Fatalf("commit %d after 100: %v, want ErrHeight", h, err)
		}
	}
	commit(t, st, 101, NewCache(st))
}

// TestCommitRefusesAnotherHash: Commit writes nothing when the app hash it is given is not
// the one its writes stage to.
func TestCommitRefusesAnotherHash(t *testing.T) {
	st, _ := Open(dbm.NewMemDB())
	c := NewCache(st)
	c.Set(ck("k"), []byte("v"))
	hash, err := st.Stage(1, c)
	if err != nil {
		t.Fatal(err)
	}
	c2 := NewCache(st)
	c2.Set(ck("k"), []byte("other"))
	if err := st.Commit(1, hash, c2); err == nil {
		t.Fatal("committed writes under another set's app hash")
	}
	if st.Height() != 0 {
		t.Fatalf("height %d after a refused commit", st.Height())
	}
	if err := st.Commit(1, hash, c); err != nil {
		t.Fatalf("commit after a refused one: %v", err)
	}
}
