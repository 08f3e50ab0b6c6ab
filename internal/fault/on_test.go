//go:build faults

package fault

import (
	"fmt"
	"testing"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/state"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want target
	}{
		{"", target{}},
		{"diverge@12", target{height: 12, ok: true}},
		{"diverge", target{}},
		{"diverge@x", target{}},
		{"diverge@0", target{}},
		{"crash@3", target{}},
	} {
		if got := parse(c.in); got != c.want {
			t.Errorf("parse(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

// TestDiverge checks that the armed fault changes the block's write set, which the app
// hash commits to through the state tree, at the armed height only.
func TestDiverge(t *testing.T) {
	store, err := state.Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	defer func(a target) { armed = a }(armed)
	armed = parse("diverge@5")
	for _, c := range []struct {
		height  int64
		changed bool
	}{{4, false}, {5, true}, {6, false}} {
		writes := state.NewCache(store)
		writes.Set(state.AccountKey([]byte("a")), state.EncodeUint64(1))
		want := fmt.Sprintf("%+v", writes.Sorted())
		Diverge(c.height, writes)
		got := fmt.Sprintf("%+v", writes.Sorted())
		if changed := got != want; changed != c.changed {
			t.Fatalf("height %d: write set changed %v, want %v", c.height, changed, c.changed)
		}
		if v, _ := writes.Get(DivergedKey); (v != nil) != c.changed {
			t.Fatalf("height %d: %q = %x", c.height, DivergedKey, v)
		}
	}
}
