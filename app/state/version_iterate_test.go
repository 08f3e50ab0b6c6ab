package state

import (
	"fmt"
	"strings"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

// TestVersionIterate lists a contract's keys at a past version while later commits change
// them: the version's keys in key order, no sentinel, none of the later writes.
func TestVersionIterate(t *testing.T) {
	st, err := Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(st)
	c.Set(ck("b"), []byte("1"))
	c.Set(ck("a"), []byte("2"))
	c.Set(ContractKey("other", []byte("x")), []byte("3"))
	commit(t, st, 1, c)
	c = NewCache(st)
	c.Set(ck("c"), []byte("4"))
	c.Delete(ck("a"))
	commit(t, st, 2, c)
	v, err := st.OpenVersion(1)
	if err != nil {
		t.Fatal(err)
	}
	list := func(v interface {
		Iterate([]byte, func(k, v []byte) bool) error
	}) string {
		var got []string
		if err := v.Iterate(ContractPrefix("c"), func(k, val []byte) bool {
			got = append(got, fmt.Sprintf("%s=%s", k[len(ContractPrefix("c")):], val))
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return strings.Join(got, ",")
	}
	if got := list(v); got != "a=2,b=1" {
		t.Fatalf("version 1 lists %q, want a=2,b=1", got)
	}
	if got := list(st); got != "b=1,c=4" {
		t.Fatalf("the store lists %q, want b=1,c=4", got)
	}
	n := 0
	if err := v.Iterate([]byte(prefixContract), func(k, _ []byte) bool { n++; return true }); err != nil || n != 3 {
		t.Fatalf("the whole contracts store at version 1: %d keys (%v), want 3 and no sentinel", n, err)
	}
}
