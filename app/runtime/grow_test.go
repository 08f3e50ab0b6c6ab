package runtime_test

import (
	"context"
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
)

// TestGrowGas: a call that leaves the memory larger than the snapshot pays exactly the
// profile's GrowGas on top of its own gas (the node must replace the instance), and fails
// out of gas when its limit cannot pay it; a call that stays within the memory pays nothing
// more (an ordinary call allocates from the heap the SDK's warm-up reserves). The reference is the same
// module under the same profile with GrowGas 0.
func TestGrowGas(t *testing.T) {
	ctx := context.Background()
	m, mod := install(t, "testmod")
	free := mod.Profile
	free.ID, free.GrowGas = 999, 0
	mod0, err := m.Load(ctx, 1, mod.SHA256, free)
	if err != nil {
		t.Fatal(err)
	}
	grow := mod.Profile.GrowGas
	gasOf := func(sess *runtime.Session, args string, limit uint64) (uint64, *codes.Error) {
		t.Helper()
		r := call(t, sess, state.NewCache(newStore(t)), "fault", "alloc", args, limit)
		return r.GasUsed, r.Err
	}
	s, s0 := mod.NewSession(), mod0.NewSession()
	defer s.Close(ctx)
	defer s0.Close(ctx)
	for _, tc := range []struct {
		args  string
		grows bool
	}{{`{"mb":0}`, false}, {`{"mb":8}`, true}, {`{"mb":0}`, false}} {
		g, err := gasOf(s, tc.args, 1<<34)
		g0, err0 := gasOf(s0, tc.args, 1<<34)
		if err != nil || err0 != nil {
			t.Fatalf("alloc %s: %v, %v", tc.args, err, err0)
		}
		want := g0
		if tc.grows {
			want += grow
		}
		if g != want {
			t.Fatalf("alloc %s used %d gas, %d with GrowGas 0: want %d", tc.args, g, g0, want)
		}
	}
	// A limit that pays the call's own work but not the replacement.
	own, _ := gasOf(s0, `{"mb":8}`, 1<<34)
	limit := own + grow/2
	if g, err := gasOf(s, `{"mb":8}`, limit); err == nil || err.Code != codes.OutOfGas || g != limit {
		t.Fatalf("alloc of 8 MiB with %d gas: used %d, %v; want out of gas using the whole limit", limit, g, err)
	}
	if _, err := gasOf(s0, `{"mb":8}`, limit); err != nil {
		t.Fatalf("the same limit without GrowGas: %v", err)
	}
}
