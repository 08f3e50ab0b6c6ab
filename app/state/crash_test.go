//go:build crashpoints

package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/internal/crashpoint"
)

// crashBlock is block h of the crash test: writes in every store, some rewriting and
// deleting keys of earlier blocks, so that each tree saves new nodes at every height.
func crashBlock(st *Store, h int64) *Cache {
	c := NewCache(st)
	for i := 0; i < 300; i++ {
		k := ck(fmt.Sprintf("k%04d", (int(h)*131+i)%700))
		if i%11 == 0 {
			c.Delete(k)
			continue
		}
		c.Set(k, fmt.Appendf(nil, "h%d-%d", h, i))
	}
	c.Set(AccountKey([]byte(fmt.Sprintf("a%d", h%5))), EncodeUint64(uint64(h)))
	c.Set(KeyEffectiveRuntime, fmt.Appendf(nil, "eff-%d", h))
	return c
}

// TestCommitCrashPoints kills a process (this test binary again, with SIGKILL through
// internal/crashpoint) at each crash point of Store.Commit while it commits block 4 to
// pebble, then reopens the store: it must be at height 3 with block 3's app hash (or at 4
// for after-commit-write), every tree at that version, and committing block 4 again must
// give the app hash the uncrashed run gave. tree-save kills it inside the save of the
// trees: the first store has saved version 4, the others have not.
func TestCommitCrashPoints(t *testing.T) {
	if dir := os.Getenv("STATE_CRASH_CHILD"); dir != "" {
		db, err := dbm.NewDB("vchain", dbm.PebbleDBBackend, dir)
		if err != nil {
			t.Fatal(err)
		}
		st, err := Open(db, WithKeepRecent(2))
		if err != nil {
			t.Fatal(err)
		}
		for h := int64(1); h <= 5; h++ {
			commit(t, st, h, crashBlock(st, h))
		}
		os.Exit(0) // not reached when armed at a point of height 4
	}

	// The reference: the same blocks without a crash.
	ref, _ := Open(dbm.NewMemDB(), WithKeepRecent(2))
	hashes := map[int64][]byte{}
	for h := int64(1); h <= 5; h++ {
		hashes[h] = commit(t, ref, h, crashBlock(ref, h))
	}

	for _, c := range []struct {
		point string
		want  int64
	}{
		{crashpoint.MidCommit, 3},
		{crashpoint.TreeSave, 3},
		{crashpoint.AfterCommitWrite, 4},
	} {
		t.Run(c.point, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestCommitCrashPoints$")
			cmd.Env = append(os.Environ(), "STATE_CRASH_CHILD="+dir, crashpoint.EnvVar+"="+c.point+"@4")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child not killed at %s@4: %v\n%s", c.point, err, stderr.String())
			}
			db, err := dbm.NewDB("vchain", dbm.PebbleDBBackend, dir)
			if err != nil {
				t.Fatal(err)
			}
			st, err := Open(db, WithKeepRecent(2))
			if err != nil {
				t.Fatalf("reopen after a crash at %s: %v", c.point, err)
			}
			defer st.Close()
			if st.Height() != c.want || !bytes.Equal(st.AppHash(), hashes[c.want]) {
				t.Fatalf("reopened at %d with %X, want %d with %X", st.Height(), st.AppHash(), c.want, hashes[c.want])
			}
			for i, tr := range st.trees {
				if v, _ := tr.GetLatestVersion(); v != c.want {
					t.Errorf("store %s: latest version %d after reopening at %d", storeNames[i], v, c.want)
				}
			}
			for h := c.want + 1; h <= 5; h++ { // CometBFT's replay
				if got := commit(t, st, h, crashBlock(st, h)); !bytes.Equal(got, hashes[h]) {
					t.Fatalf("replayed height %d: %X, want %X", h, got, hashes[h])
				}
			}
		})
	}
}
