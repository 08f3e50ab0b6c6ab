package executor_test

import (
	"testing"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/state"
)

// TestQueryProve: /state with prove answers the value or its absence with a proof that
// verifies against the executor's committed app hash; before any commit there is no app
// hash to prove against, and other paths refuse prove.
func TestQueryProve(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	if r := n.exec.QueryProve("/state/kv", []byte("a"), 0, true); r.Code != executor.QueryUnavailable || r.Proof != nil {
		t.Fatalf("before the first commit: code %s %q", r.Code, r.Log)
	}
	n.block(signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`))
	for _, c := range []struct {
		key    string
		absent bool
	}{{"a", false}, {"b", true}} {
		r := n.exec.QueryProve("/state/kv", []byte(c.key), 0, true)
		if r.Code != executor.QueryOK || r.Proof == nil || (r.Value == nil) != c.absent || r.Height != 1 {
			t.Fatalf("%s: code %s %q value %q height %d", c.key, r.Code, r.Log, r.Value, r.Height)
		}
		kp, _ := state.KeyPath(state.ContractKey("kv", []byte(c.key)))
		var err error
		if c.absent {
			err = state.ProofRuntime().VerifyAbsence(state.ToProto(r.Proof), n.exec.AppHash(), kp)
		} else {
			err = state.ProofRuntime().VerifyValue(state.ToProto(r.Proof), n.exec.AppHash(), kp, r.Value)
		}
		if err != nil {
			t.Fatalf("%s: %v", c.key, err)
		}
		if plain := n.exec.QueryAt("/state/kv", []byte(c.key), 0); string(plain.Value) != string(r.Value) || plain.Proof != nil {
			t.Fatalf("%s: unproven answer %q (proof %v), proven %q", c.key, plain.Value, plain.Proof, r.Value)
		}
	}
	for _, path := range []string{"/params", "/runtime", "/upgrade/history"} {
		if r := n.exec.QueryProve(path, nil, 0, true); r.Code != executor.QueryBad || r.Proof != nil {
			t.Fatalf("%s with prove: code %s %q", path, r.Code, r.Log)
		}
	}
}
