package admission

import (
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/tx"
)

var alice, bob = tx.Address{1}, tx.Address{2}

// step is one admission: a sender's nonce against its committed nonce, and the code it
// should get (codes.OK when admitted).
type step struct {
	who       tx.Address
	nonce     uint64
	committed uint64
	want      codes.Code
}

func TestAdmit(t *testing.T) {
	edge := uint64(1 + MaxNonceAhead) // committed 0, next 1: the farthest nonce held
	for _, tc := range []struct {
		name  string
		limit int
		steps []step
		// after the steps: alice's pending nonce and held count, committed as in the last step
		pending uint64
		held    int
	}{
		{name: "in order", steps: []step{{alice, 1, 0, codes.OK}, {alice, 2, 0, codes.OK}, {alice, 3, 0, codes.OK}}, pending: 3},
		{name: "replayed committed nonce", steps: []step{{alice, 5, 5, codes.NonceReplayed}}, pending: 5},
		{name: "nonce already waiting", steps: []step{{alice, 1, 0, codes.OK}, {alice, 1, 0, codes.NonceReplayed}}, pending: 1},
		{name: "held until the gap fills", steps: []step{{alice, 3, 0, codes.OK}, {alice, 2, 0, codes.OK}}, pending: 0, held: 2},
		{name: "gap filled", steps: []step{{alice, 3, 0, codes.OK}, {alice, 2, 0, codes.OK}, {alice, 1, 0, codes.OK}}, pending: 3},
		{name: "farthest held nonce", steps: []step{{alice, edge, 0, codes.OK}}, pending: 0, held: 1},
		{name: "past the window", steps: []step{{alice, edge + 1, 0, codes.NonceGap}}, pending: 0},
		{name: "the window moves with the run", steps: []step{{alice, 1, 0, codes.OK}, {alice, edge + 1, 0, codes.OK}}, pending: 1, held: 1},
		{name: "the window moves with commits", steps: []step{{alice, edge + 5, 5, codes.OK}}, pending: 5, held: 1},
		{name: "senders apart", steps: []step{{alice, 1, 0, codes.OK}, {bob, 1, 0, codes.OK}, {bob, 2, 0, codes.OK}}, pending: 1},
		{name: "full mempool", limit: 2, steps: []step{{alice, 1, 0, codes.OK}, {bob, 1, 0, codes.OK}, {alice, 2, 0, codes.MempoolFull}}, pending: 1},
		{name: "held ones count against the size", limit: 1, steps: []step{{alice, 3, 0, codes.OK}, {bob, 1, 0, codes.MempoolFull}}, pending: 0, held: 1},
		{name: "a replay is refused as such, full or not", limit: 1, steps: []step{{alice, 1, 0, codes.OK}, {alice, 1, 0, codes.NonceReplayed}}, pending: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New()
			p.SetLimit(tc.limit)
			var committed uint64
			for i, s := range tc.steps {
				got := codes.OK
				if cerr := p.Admit(s.who, s.nonce, s.committed); cerr != nil {
					got = cerr.Code
				}
				if got != s.want {
					t.Fatalf("step %d (nonce %d, committed %d): %v, want %v", i, s.nonce, s.committed, got, s.want)
				}
				if s.who == alice {
					committed = s.committed
				}
			}
			if pending, held := p.Pending(alice, committed); pending != tc.pending || held != tc.held {
				t.Errorf("pending %d held %d, want %d and %d", pending, held, tc.pending, tc.held)
			}
		})
	}
}

// TestReset: a commit clears every sender's waiting nonces and the mempool's count.
func TestReset(t *testing.T) {
	p := New()
	p.SetLimit(2)
	for n := uint64(1); n <= 2; n++ {
		if cerr := p.Admit(alice, n, 0); cerr != nil {
			t.Fatal(cerr)
		}
	}
	if p.Full() == nil {
		t.Fatal("two admitted with a limit of 2, and not full")
	}
	p.Reset()
	if cerr := p.Full(); cerr != nil {
		t.Fatalf("after Reset: %v", cerr)
	}
	// The block committed nonce 1 only: 2 is admitted again by the recheck.
	if cerr := p.Admit(alice, 2, 1); cerr != nil {
		t.Fatalf("recheck of nonce 2 after nonce 1 committed: %v", cerr)
	}
	if pending, held := p.Pending(alice, 1); pending != 2 || held != 0 {
		t.Errorf("pending %d held %d, want 2 and 0", pending, held)
	}
}
