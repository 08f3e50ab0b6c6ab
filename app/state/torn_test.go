package state

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

// TestCommitAtomicOnTornWrite checks that a block's commit is all or nothing on pebble when
// a crash or power cut interrupts its writes: the write-ahead log that holds the last
// commits (each the trees' node batches, then the commit record) is cut (or zeroed) at
// every offset, and reopening the store must always give exactly a committed state,
// height, app hash and every key, never a mix. (Pebble writes a batch as one checksummed
// WAL record and drops a torn tail on replay; the store then drops tree versions that no
// commit record names.)
func TestCommitAtomicOnTornWrite(t *testing.T) {
	dir := t.TempDir()
	db, err := dbm.NewDB("vchain", dbm.PebbleDBBackend, dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(db)
	if err != nil {
		t.Fatal(err)
	}
	// snapshots[h] is the state committed at height h.
	snapshots := []map[string]string{{}}
	hashes := [][]byte{nil}
	cur := map[string]string{}
	for h := int64(1); h <= 3; h++ {
		c := NewCache(s)
		for i := 0; i < 40; i++ {
			k := string(ck(fmt.Sprintf("k%03d", (int(h)*17+i)%70)))
			if i%9 == 0 {
				c.Delete([]byte(k))
				delete(cur, k)
				continue
			}
			v := fmt.Sprintf("h%d-%d-%s", h, i, bytes.Repeat([]byte{'x'}, i*13))
			c.Set([]byte(k), []byte(v))
			cur[k] = v
		}
		hash := commit(t, s, h, c)
		snap := map[string]string{}
		for k, v := range cur {
			snap[k] = v
		}
		snapshots, hashes = append(snapshots, snap), append(hashes, hash)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wals, _ := filepath.Glob(filepath.Join(dir, "vchain.db", "*.log"))
	sort.Strings(wals)
	if len(wals) == 0 {
		t.Fatal("no pebble WAL found")
	}
	wal := filepath.Base(wals[len(wals)-1])
	full, err := os.ReadFile(wals[len(wals)-1])
	if err != nil {
		t.Fatal(err)
	}
	step := 61 // bytes: cuts land inside every batch record, at different chunk offsets
	if testing.Short() {
		step = len(full)/40 + 1
	}
	seen := map[int64]int{}
	for _, mode := range []string{"truncate", "zero"} {
		for cut := 0; cut <= len(full); cut += max(1, min(step, len(full)-cut)) {
			tmp := t.TempDir()
			copyDir(t, filepath.Join(dir, "vchain.db"), filepath.Join(tmp, "vchain.db"))
			torn := append([]byte(nil), full[:cut]...)
			if mode == "zero" {
				torn = append(torn, make([]byte, len(full)-cut)...)
			}
			if err := os.WriteFile(filepath.Join(tmp, "vchain.db", wal), torn, 0o644); err != nil {
				t.Fatal(err)
			}
			h := reopenAndCheck(t, tmp, snapshots, hashes)
			seen[h]++
		}
	}
	if seen[3] == 0 || len(seen) < 2 {
		t.Fatalf("heights recovered %v: the cuts never hit both sides of a batch", seen)
	}
	t.Logf("WAL of %d bytes cut or zeroed at %d offsets: recovered heights %v, each exactly as committed", len(full), sum(seen), seen)
}

// reopenAndCheck opens the store in dir and checks it holds exactly the state of the height
// it reports; it returns that height.
func reopenAndCheck(t *testing.T, dir string, snapshots []map[string]string, hashes [][]byte) int64 {
	t.Helper()
	db, err := dbm.NewDB("vchain", dbm.PebbleDBBackend, dir)
	if err != nil {
		t.Fatalf("reopen after a torn write: %v", err)
	}
	s, err := Open(db)
	if err != nil {
		t.Fatalf("reopen after a torn write: %v", err)
	}
	defer s.Close()
	h := s.Height()
	if h < 0 || h >= int64(len(snapshots)) || !bytes.Equal(s.AppHash(), hashes[h]) {
		t.Fatalf("reopened at height %d with app hash %x: not a committed state", h, s.AppHash())
	}
	got := map[string]string{}
	if err := s.Iterate(ContractPrefix("c"), func(k, v []byte) bool { got[string(k)] = string(v); return true }); err != nil {
		t.Fatal(err)
	}
	want := snapshots[h]
	if len(got) != len(want) {
		t.Fatalf("height %d: %d keys, want %d: a batch was applied in part", h, len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("height %d: %s = %q, want %q: a batch was applied in part", h, k, got[k], v)
		}
	}
	return h
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sum(m map[int64]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
