package state

import (
	"bytes"
	"encoding/hex"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

func TestCacheLayers(t *testing.T) {
	st, err := Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	block := NewCache(st)
	block.Set([]byte("a"), []byte("1"))
	block.Set([]byte("b"), []byte("2"))

	tx := NewCache(block)
	tx.Set([]byte("a"), []byte("changed"))
	tx.Delete([]byte("b"))
	if v, _ := tx.Get([]byte("b")); v != nil {
		t.Fatalf("deleted key reads %q", v)
	}
	if v, _ := block.Get([]byte("a")); string(v) != "1" {
		t.Fatalf("an unwritten tx cache leaked into the block: %q", v)
	}
	tx.WriteTo(block)
	if v, _ := block.Get([]byte("a")); string(v) != "changed" {
		t.Fatalf("after WriteTo: %q", v)
	}
	if err := st.Commit(1, []byte("hash1"), block); err != nil {
		t.Fatal(err)
	}
	if v, _ := st.Get([]byte("b")); v != nil {
		t.Fatal("a delete did not reach the store")
	}
	if v, _ := st.Get([]byte("a")); string(v) != "changed" {
		t.Fatalf("committed value %q", v)
	}
	if err := st.Commit(3, nil, NewCache(st)); err == nil {
		t.Fatal("a commit that skips a height was accepted")
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

// TestAppHashVectors pins the app hash construction: a change here is a consensus change
// (every existing chain would stop replaying), so it needs a new domain string.
func TestAppHashVectors(t *testing.T) {
	writes := []Write{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Deleted: true}}
	vectors := []struct {
		prev   []byte
		height int64
		writes []Write
		want   string
	}{
		{nil, 0, nil, "cb1f03d741410b36b1daa676a31b434f5a679df9d0bc09fa16c74b61cb3d84d9"},
		{[]byte("prev"), 7, writes, "425eab08cafa7ea50be7586924dffd307e2b3c188e328ea7dca2c05a82318ef9"},
	}
	for i, v := range vectors {
		if got := hex.EncodeToString(AppHash(v.prev, v.height, v.writes)); got != v.want {
			t.Errorf("vector %d: %s, want %s", i, got, v.want)
		}
	}
	// Every input changes the hash.
	base := AppHash([]byte("prev"), 7, writes)
	variants := [][]byte{
		AppHash([]byte("prev2"), 7, writes),
		AppHash([]byte("prev"), 8, writes),
		AppHash([]byte("prev"), 7, writes[:1]),
		AppHash([]byte("prev"), 7, []Write{{Key: []byte("a"), Value: []byte("2")}, writes[1]}),
		AppHash([]byte("prev"), 7, []Write{writes[0], {Key: []byte("b"), Value: nil}}),
	}
	for i, v := range variants {
		if bytes.Equal(v, base) {
			t.Errorf("variant %d hashes like the original", i)
		}
	}
}

func TestIterate(t *testing.T) {
	st, _ := Open(dbm.NewMemDB())
	c := NewCache(st)
	for _, k := range []string{"p/1", "p/2", "q/1", "p\xff"} {
		c.Set([]byte(k), []byte("v"))
	}
	if err := st.Commit(1, []byte("h"), c); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := st.Iterate([]byte("p/"), func(k, _ []byte) bool { keys = append(keys, string(k)); return true }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0] != "p/1" || keys[1] != "p/2" {
		t.Fatalf("prefix p/: %q", keys)
	}
}
