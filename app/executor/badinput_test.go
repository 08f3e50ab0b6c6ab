package executor_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/app/state"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// TestQueryBadInput: huge keys and paths, heights out of range and odd paths get an error
// code with a bounded log; the latest height is still served by number and by 0.
func TestQueryBadInput(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	n.block(signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`))
	huge := bytes.Repeat([]byte{0xfe}, 8<<20)
	cases := []struct {
		name   string
		path   string
		data   []byte
		height int64
		want   codes.Code
	}{
		{"latest by 0", "/state/kv", []byte("a"), 0, executor.QueryOK},
		{"latest by number", "/state/kv", []byte("a"), 1, executor.QueryOK},
		{"future height", "/state/kv", []byte("a"), 2, executor.QueryBad},
		{"far future height", "/runtime", nil, math.MaxInt64, executor.QueryBad},
		{"negative height", "/params", nil, -1, executor.QueryBad},
		{"past height", "/state/kv", []byte("a"), math.MinInt64, executor.QueryBad},
		{"8 MiB key", "/state/kv", huge, 0, executor.QueryNotFound},
		{"8 MiB path", "/" + string(huge), nil, 0, executor.QueryUnknown},
		{"8 MiB contract name", "/state/" + string(huge), []byte("a"), 0, executor.QueryNotFound},
		{"8 MiB version", "/upgrade/status", huge, 0, executor.QueryBad},
		{"8 MiB address", "/account/" + string(huge), nil, 0, executor.QueryBad},
		{"NUL in contract", "/state/kv\x00", []byte("a"), 0, executor.QueryNotFound},
		{"empty contract", "/state/", []byte("a"), 0, executor.QueryUnknown},
		{"extra segment", "/state/kv/a", []byte("a"), 0, executor.QueryUnknown},
		{"no path", "", nil, 0, executor.QueryUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := n.exec.QueryAt(tc.path, tc.data, tc.height)
			if r.Code != tc.want {
				t.Fatalf("code %s (%.200s), want %s", r.Code, r.Log, tc.want)
			}
			if tc.want != executor.QueryOK && (r.Log == "" || len(r.Log) > 2048) {
				t.Fatalf("log of %d bytes: want a readable, bounded one", len(r.Log))
			}
			if r.Height != 1 {
				t.Fatalf("answered for height %d", r.Height)
			}
		})
	}
	if r := n.exec.QueryAt("/state/kv", []byte("a"), 2); !strings.Contains(r.Log, "last committed height (1)") {
		t.Fatalf("refusal does not say which height can be queried: %s", r.Log)
	}
}

// TestHostileCallsContained: calls that loop forever, recurse without end (at the largest
// gas limit a transaction may ask for), allocate without limit, write huge or many values
// and emit huge or many events each fail their own transaction only, with the same code
// and gas on two independent nodes; the transactions around them and the next block run.
func TestHostileCallsContained(t *testing.T) {
	alice := key(2)
	maxGas := func(b *txv1.TxBody) { b.GasLimit = genesis.DefaultMaxGasPerTx }
	cases := []struct {
		method, args string
		opts         []txOpt
		want         codes.Code
	}{
		{"loop", "", []txOpt{maxGas}, codes.OutOfGas},
		{"recurse", "", []txOpt{maxGas}, codes.ContractTrap}, // at the metering's call depth limit
		{"alloc", `{"mb":1000}`, nil, codes.ContractTrap},
		{"big_key", "", nil, codes.ContractAbort},
		{"big_value", `{"kb":65}`, nil, codes.ContractAbort},
		{"big_value", `{"kb":64}`, nil, codes.OK},
		{"many_values", `{"n":100000}`, []txOpt{maxGas}, codes.OutOfGas},
		{"big_event", `{"kb":8}`, nil, codes.ContractAbort},
		{"many_events", `{"n":65}`, nil, codes.ContractAbort},
		{"many_events", `{"n":64}`, nil, codes.OK},
	}
	txs := [][]byte{signed(t, alice, 1, "kv", "set", `{"key":"before","value":"x"}`)}
	for i, c := range cases {
		txs = append(txs, signed(t, alice, uint64(i+2), "fault", c.method, c.args, c.opts...))
	}
	txs = append(txs, signed(t, alice, uint64(len(cases)+2), "kv", "set", `{"key":"after","value":"y"}`))

	var nodes [2]*node
	var results [2]*executor.BlockResult
	for i := range nodes {
		nodes[i] = newNode(t, nil, "", "testmod")
		nodes[i].initChain("testmod")
		results[i] = nodes[i].block(txs...)
	}
	for i, r := range results[0].TxResults {
		want := codes.OK
		if i >= 1 && i <= len(cases) {
			want = cases[i-1].want
		}
		if r.Code != want {
			t.Errorf("tx %d: %s (%.200s), want %s", i, r.Code, r.Log, want)
		}
		o := results[1].TxResults[i]
		if r.Code != o.Code || r.GasUsed != o.GasUsed {
			t.Errorf("tx %d differs between nodes: %s/%d vs %s/%d", i, r.Code, r.GasUsed, o.Code, o.GasUsed)
		}
		if r.Code == codes.OutOfGas && r.GasUsed != r.GasWanted {
			t.Errorf("tx %d: out of gas with %d of %d used", i, r.GasUsed, r.GasWanted)
		}
		t.Logf("tx %2d: %-14s gas %10d  %.120s", i, r.Code, r.GasUsed, r.Log)
	}
	if string(results[0].AppHash) != string(results[1].AppHash) {
		t.Fatal("app hashes differ between nodes")
	}
	for _, n := range nodes {
		for _, k := range []string{"before", "after"} {
			if v, _ := n.store.Get(state.ContractKey("kv", []byte(k))); v == nil {
				t.Fatalf("kv %q missing: a hostile call leaked into other transactions", k)
			}
		}
		if v, _ := n.store.Get(state.ContractKey("fault", []byte("v0"))); v != nil {
			t.Fatal("the writes of a transaction that ran out of gas persisted")
		}
		next := n.block(signed(t, alice, uint64(len(cases)+3), "kv", "set", `{"key":"next","value":"z"}`))
		if next.TxResults[0].Code != codes.OK {
			t.Fatalf("the block after the hostile calls: %s", next.TxResults[0].Log)
		}
	}
}
