package testnet

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/testwasm"
)

// TestConsistencyNamesANodeBehind pauses one validator of four at a switch to a runtime
// it lacks, so that it stays behind while its RPC answers and the others go on. Comparing
// the nodes then fails and names it (comparing up to the lowest height, as this check once
// did, passed); once it has the runtime and catches up, the comparison passes.
func TestConsistencyNamesANodeBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 4-validator network")
	}
	v2 := testwasm.Module(t, "v2")
	net := Start(t, Options{Validators: 4})
	net.WaitHeight(t, 2, 60*time.Second)
	net.Register(t, 2, v2)
	for _, n := range net.Nodes[:3] {
		n.Install(t, 2, v2)
	}
	r := net.Schedule(t, 2, 3)
	if r.Code != 0 {
		t.Fatal(r.Log)
	}
	start := r.Height + 3
	lagging := net.Nodes[3]
	deadline := time.Now().Add(60 * time.Second)
	for lagging.App.Exec.Paused() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s never paused (height %d, start %d)", lagging.Name, lagging.App.Exec.Height(), start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	others := &Network{Nodes: net.Nodes[:3]}
	others.WaitHeight(t, start+2, 60*time.Second)

	_, err := net.Consistency(2 * time.Second)
	if want := fmt.Sprintf("behind after waiting 2s: %s at %d, while node0 reached", lagging.Name, start-1); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("comparison with %s paused at %d: got %v, want an error saying %q", lagging.Name, start-1, err, want)
	}
	t.Logf("with %s paused: %v", lagging.Name, err)
	if _, err := others.Consistency(30 * time.Second); err != nil {
		t.Fatalf("the three others: %v", err)
	}

	lagging.Install(t, 2, v2)
	checked := net.CheckConsistency(t)
	t.Logf("%s resumed and caught up: the same results on 4 nodes at heights 1..%d", lagging.Name, checked)
}
