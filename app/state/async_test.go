package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	dbm "github.com/cosmos/cosmos-db"
)

// TestCommitReadsDuringSave holds the background save of height 2 and checks that the
// store already answers for height 2 (height, app hash, sets, deletes, untouched keys),
// that a proof waits for the saved trees, that the next Stage waits for the save, and
// that Close leaves height 2 durable.
func TestCommitReadsDuringSave(t *testing.T) {
	db := dbm.NewMemDB()
	st, err := Open(db)
	if err != nil {
		t.Fatal(err)
	}
	c1 := NewCache(st)
	c1.Set(ck("keep"), []byte("1"))
	c1.Set(ck("change"), []byte("1"))
	c1.Set(ck("drop"), []byte("1"))
	commit(t, st, 1, c1)

	gate, entered := make(chan struct{}), make(chan struct{})
	st.beforeSave = func(int64) { close(entered); <-gate }
	c2 := NewCache(st)
	c2.Set(ck("change"), []byte("2"))
	c2.Set(ck("new"), []byte("2"))
	c2.Delete(ck("drop"))
	hash, err := st.Stage(2, c2)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(2, hash, c2); err != nil {
		t.Fatal(err)
	}
	<-entered
	if st.Height() != 2 || !bytes.Equal(st.AppHash(), hash) {
		t.Fatalf("during the save: height %d hash %X, want 2 %X", st.Height(), st.AppHash(), hash)
	}
	for k, want := range map[string]string{"keep": "1", "change": "2", "new": "2", "drop": ""} {
		v, err := st.Get(ck(k))
		if err != nil || string(v) != want || (want == "" && v != nil) {
			t.Fatalf("during the save %s reads %q, %v; want %q", k, v, err, want)
		}
	}
	var listed []string
	if err := st.Iterate(ContractPrefix("c"), func(k, v []byte) bool {
		listed = append(listed, string(k[len(ContractPrefix("c")):])+"="+string(v))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(listed, " "), "change=2 keep=1 new=2"; got != want {
		t.Fatalf("during the save Iterate lists %q, want %q", got, want)
	}
	staged := make(chan error, 1)
	go func() {
		c3 := NewCache(st)
		c3.Set(ck("keep"), []byte("3"))
		_, err := st.Stage(3, c3)
		staged <- err
	}()
	proved := make(chan error, 1)
	go func() {
		v, _, err := st.Prove(2, ck("new"))
		if err == nil && string(v) != "2" {
			err = errors.New("proved " + string(v))
		}
		proved <- err
	}()
	time.Sleep(100 * time.Millisecond) // time for either to run, were it not held
	select {
	case err := <-staged:
		t.Fatalf("the next Stage ran while the save was held: %v", err)
	case err := <-proved:
		t.Fatalf("a proof ran while the save was held: %v", err)
	default:
	}
	close(gate)
	if err := <-staged; err != nil {
		t.Fatal(err)
	}
	if err := <-proved; err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	re, err := Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if re.Height() != 2 || !bytes.Equal(re.AppHash(), hash) {
		t.Fatalf("reopened at %d %X, want 2 %X", re.Height(), re.AppHash(), hash)
	}
}

// TestIterateMergesOverlay: whatever a block sets and deletes over whatever the trees
// hold, Iterate during the block's save lists exactly what it lists once the save is
// done, and stops where fn says.
func TestIterateMergesOverlay(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 30; round++ {
		st, err := Open(dbm.NewMemDB())
		if err != nil {
			t.Fatal(err)
		}
		c1 := NewCache(st)
		for i := 0; i < rng.IntN(20); i++ {
			c1.Set(ck(fmt.Sprintf("k%02d", rng.IntN(40))), []byte("old"))
		}
		commit(t, st, 1, c1)
		gate := make(chan struct{})
		st.beforeSave = func(int64) { <-gate }
		c2 := NewCache(st)
		for i := 0; i < rng.IntN(20); i++ {
			k := ck(fmt.Sprintf("k%02d", rng.IntN(40)))
			if rng.IntN(3) == 0 {
				c2.Delete(k)
			} else {
				c2.Set(k, []byte("new"))
			}
		}
		hash, err := st.Stage(2, c2)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(2, hash, c2); err != nil {
			t.Fatal(err)
		}
		list := func(limit int) string {
			var out []string
			if err := st.Iterate(ContractPrefix("c"), func(k, v []byte) bool {
				out = append(out, string(k)+"="+string(v))
				return len(out) < limit
			}); err != nil {
				t.Fatal(err)
			}
			return strings.Join(out, " ")
		}
		during, firstThree := list(1000), list(3)
		close(gate)
		if err := st.WaitSaved(); err != nil {
			t.Fatal(err)
		}
		if after := list(1000); during != after {
			t.Fatalf("round %d: during the save %q, after it %q", round, during, after)
		}
		if after := list(3); firstThree != after {
			t.Fatalf("round %d: stopped after 3 during the save %q, after it %q", round, firstThree, after)
		}
	}
}
