package executor_test

import (
	"testing"

	"github.com/vchain/vchain/app/codes"
)

// TestGasIndependentOfPosition: ten identical kv.set calls in one block, from ten senders,
// each after a different kind of call (a trap, an out-of-gas loop, an exit, a large
// allocation, a contract error, an abort, another kv.set), use exactly the same gas: every
// call starts from the same instance state, so a transaction's gas is a function of the
// transaction and the state alone (issue 11 §3).
func TestGasIndependentOfPosition(t *testing.T) {
	n := newNode(t, nil, "", "testmod")
	n.initChain("testmod")
	before := []struct{ method, args string }{
		{"", ""}, // first in the block
		{"panic", ""},
		{"loop", ""},
		{"exit", ""},
		{"alloc", `{"mb":16}`},
		{"big_key", ""},
		{"noop", ""},
		{"recurse", ""},
		{"spin", `{"n":5000}`},
		{"", ""}, // right after the previous kv.set
	}
	var txs [][]byte
	var sets []int
	for i, b := range before {
		if b.method != "" {
			txs = append(txs, signed(t, key(byte(60+i)), 1, "fault", b.method, b.args, gasLimit(2_000_000)))
		}
		sets = append(sets, len(txs))
		nonce := uint64(1)
		if b.method != "" {
			nonce = 2
		}
		txs = append(txs, signed(t, key(byte(60+i)), nonce, "kv", "set", `{"key":"same","value":"value"}`))
	}
	res := n.block(txs...)
	var gas []uint64
	for _, at := range sets {
		r := res.TxResults[at]
		if r.Code != codes.OK {
			t.Fatalf("kv.set at %d: %s %s", at, r.Code, r.Log)
		}
		gas = append(gas, r.GasUsed)
	}
	for i, g := range gas {
		if g != gas[0] {
			t.Fatalf("kv.set gas by position %v: the one after %q differs", gas, before[i].method)
		}
	}
	t.Logf("gas of 10 identical kv.set calls at positions %v of one block: %v", sets, gas)
}
