package runtime_test

import (
	"context"
	"testing"

	"github.com/vchain/vchain/app/state"
)

// TestInstanceStats: the node's metrics count each restore of an instance to its snapshot
// and each instance created, including the replacement of one whose memory grew.
func TestInstanceStats(t *testing.T) {
	rm, mod := install(t, "testmod")
	ctx := context.Background()
	store := newStore(t)
	r0, c0 := rm.InstanceStats() // the install's trial instantiates once
	s := mod.NewSession()
	for i := 0; i < 3; i++ {
		if r := call(t, s, state.NewCache(store), "kv", "set", setArgs, 10_000_000); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if r, c := rm.InstanceStats(); r-r0 != 2 || c-c0 > 1 {
		t.Fatalf("3 calls on one session: %d resets, %d created; want 2 resets (before calls 2 and 3), at most 1 instance", r-r0, c-c0)
	}
	r1, c1 := rm.InstanceStats()
	if r := call(t, s, state.NewCache(store), "fault", "alloc", `{"mb":16}`, 1<<40); r.Err != nil {
		t.Fatal(r.Err)
	}
	call(t, s, state.NewCache(store), "kv", "set", setArgs, 10_000_000)
	if r, c := rm.InstanceStats(); r-r1 != 1 || c-c1 != 1 {
		t.Fatalf("after a call that grew the memory: %d resets, %d created; want 1 reset (before the alloc) and 1 new instance", r-r1, c-c1)
	}
	s.Close(ctx)
}
