package state

import (
	"bytes"
	"encoding/hex"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

// ck is a contract key of contract "c": tests write where the app writes.
func ck(k string) []byte { return ContractKey("c", []byte(k)) }

// commit stages c at height h and commits it, returning the app hash.
func commit(t testing.TB, st *Store, h int64, c *Cache) []byte {
	t.Helper()
	hash, err := st.Stage(h, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(h, hash, c); err != nil {
		t.Fatal(err)
	}
	// Tests reopen the database as a restarted node would after Close: wait for the
	// background save as Close does.
	if err := st.WaitSaved(); err != nil {
		t.Fatal(err)
	}
	return hash
}

func TestCacheLayers(t *testing.T) {
	st, err := Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	block := NewCache(st)
	block.Set(ck("a"), []byte("1"))
	block.Set(ck("b"), []byte("2"))

	tx := NewCache(block)
	tx.Set(ck("a"), []byte("changed"))
	tx.Delete(ck("b"))
	if v, _ := tx.Get(ck("b")); v != nil {
		t.Fatalf("deleted key reads %q", v)
	}
	if v, _ := block.Get(ck("a")); string(v) != "1" {
		t.Fatalf("an unwritten tx cache leaked into the block: %q", v)
	}
	tx.WriteTo(block)
	if v, _ := block.Get(ck("a")); string(v) != "changed" {
		t.Fatalf("after WriteTo: %q", v)
	}
	commit(t, st, 1, block)
	if v, _ := st.Get(ck("b")); v != nil {
		t.Fatal("a delete did not reach the store")
	}
	if v, _ := st.Get(ck("a")); string(v) != "changed" {
		t.Fatalf("committed value %q", v)
	}
	if _, err := st.Stage(3, NewCache(st)); err == nil {
		t.Fatal("a commit that skips a height was staged")
	}
}

func TestCacheCopiesValues(t *testing.T) {
	c := NewCache(NewCache(nil))
	k, v := []byte("k"), []byte("v")
	c.Set(k, v)
	k[0], v[0] = 'x', 'x'
	if got, _ := c.Get([]byte("k")); string(got) != "v" {
		t.Fatalf("cache aliased the caller's buffer: %q", got)
	}
}

func TestSortedIsKeyOrder(t *testing.T) {
	c := NewCache(NewCache(nil))
	for _, k := range []string{"b", "a", "c/1", "c", "\x00"} {
		c.Set([]byte(k), []byte(k))
	}
	var prev []byte
	for i, w := range c.Sorted() {
		if i > 0 && bytes.Compare(prev, w.Key) >= 0 {
			t.Fatalf("not sorted: %q before %q", prev, w.Key)
		}
		prev = w.Key
	}
}

// TestAppHashVectors pins the app hash construction (the store tree over the IAVL roots
// and the IAVL trees themselves): a change here is a consensus change (every existing
// chain would stop replaying).
func TestAppHashVectors(t *testing.T) {
	roots := []StoreRoot{{"accounts", []byte("r1")}, {"contracts", []byte("r2")}, {"runtime", []byte("r3")}}
	if got, want := hex.EncodeToString(CommitHash(roots)), "cef19a58737f5d6d42985b9536e66d3d2c0ef7b26902d0cbe9d7ff0e463b1de1"; got != want {
		t.Errorf("CommitHash vector: %s, want %s", got, want)
	}
	// Every input changes the hash.
	base := CommitHash(roots)
	for i := range roots {
		for _, mut := range []func(r *StoreRoot){
			func(r *StoreRoot) { r.Name += "x" },
			func(r *StoreRoot) { r.Root = append(append([]byte(nil), r.Root...), 0) },
		} {
			v := append([]StoreRoot(nil), roots...)
			mut(&v[i])
			if bytes.Equal(CommitHash(v), base) {
				t.Errorf("changing store %d hashes like the original", i)
			}
		}
	}
	if bytes.Equal(CommitHash(roots[:2]), base) {
		t.Error("dropping a store hashes like the original")
	}

	// The whole state: one write in each store, staged at height 1 and at 7.
	st, err := Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(st)
	c.Set(AccountKey([]byte("addr")), EncodeUint64(1))
	c.Set(ck("a"), []byte("1"))
	c.Set(KeyParams, []byte("params"))
	for _, v := range []struct {
		height int64
		want   string
	}{
		{1, "a0e2bf1d2a702b304886d3c1960def6c4478e7dc25210854f61efa470b47db9d"},
		{7, "48e33866837d67eaf9d0af9609d09003503dca271d1279c25daa2c27880fac6b"},
	} {
		got, err := st.Stage(v.height, c)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != v.want {
			t.Errorf("state staged at %d: %x, want %s", v.height, got, v.want)
		}
	}
}

func TestIterate(t *testing.T) {
	st, _ := Open(dbm.NewMemDB())
	c := NewCache(st)
	for _, k := range []string{"contract/p/1", "contract/p/2", "contract/q/1", "contract/p\xff"} {
		c.Set([]byte(k), []byte("v"))
	}
	commit(t, st, 1, c)
	var keys []string
	if err := st.Iterate(ContractPrefix("p"), func(k, _ []byte) bool { keys = append(keys, string(k)); return true }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0] != "contract/p/1" || keys[1] != "contract/p/2" {
		t.Fatalf("prefix contract/p/: %q", keys)
	}
}

// TestKeysOutsideStoresRefused: a key in no namespace could be neither committed nor
// proven, so staging it fails rather than dropping it (and reading one finds nothing).
func TestKeysOutsideStoresRefused(t *testing.T) {
	st, _ := Open(dbm.NewMemDB())
	c := NewCache(st)
	c.Set([]byte("stray/key"), []byte("v"))
	if _, err := st.Stage(1, c); err == nil {
		t.Fatal("a key outside every store was staged")
	}
	if v, err := st.Get([]byte("stray/key")); v != nil || err != nil {
		t.Fatalf("a key outside every store reads %q, %v; want absent", v, err)
	}
}

// TestEmptyValue: an empty value is a value, not an absence, after a reopen too.
func TestEmptyValue(t *testing.T) {
	db := dbm.NewMemDB()
	st, _ := Open(db)
	c := NewCache(st)
	c.Set(ck("empty"), nil)
	commit(t, st, 1, c)
	for i := 0; i < 2; i++ {
		v, err := st.Get(ck("empty"))
		if err != nil || v == nil || len(v) != 0 {
			t.Fatalf("empty value reads %v, %v", v, err)
		}
		if st, err = Open(db); err != nil {
			t.Fatal(err)
		}
	}
}
