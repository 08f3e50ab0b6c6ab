package state

import (
	"errors"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

// TestFirstCommitHeight: a chain may start above 1 (genesis initial_height), so the first
// commit may be at any height from 1; every later one must follow the last, across a
// reopen too.
func TestFirstCommitHeight(t *testing.T) {
	db := dbm.NewMemDB()
	st, err := Open(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []int64{0, -1} {
		if err := st.Commit(h, []byte("x"), NewCache(st)); !errors.Is(err, ErrHeight) {
			t.Fatalf("first commit at %d: %v, want ErrHeight", h, err)
		}
	}
	if err := st.Commit(100, []byte("a"), NewCache(st)); err != nil {
		t.Fatalf("first commit at 100: %v", err)
	}
	if st, err = Open(db); err != nil {
		t.Fatal(err)
	}
	if st.Height() != 100 || string(st.AppHash()) != "a" {
		t.Fatalf("reopened at %d %q", st.Height(), st.AppHash())
	}
	for _, h := range []int64{100, 102, 1} {
		if err := st.Commit(h, []byte("x"), NewCache(st)); !errors.Is(err, ErrHeight) {
			t.Fatalf("commit %d after 100: %v, want ErrHeight", h, err)
		}
	}
	if err := st.Commit(101, []byte("b"), NewCache(st)); err != nil {
		t.Fatalf("commit 101: %v", err)
	}
}
