package executor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestGenesisContractState starts chains whose genesis carries contract state: it is
// readable before and after the first block, contracts build on it, the chain parameters
// do not keep it, and the app hash depends on the entries, not on their order in the file.
func TestGenesisContractState(t *testing.T) {
	withState := func(t *testing.T, contractState string) []byte {
		var a map[string]any
		if err := json.Unmarshal(appState(t, testwasm.Module(t, "v1")), &a); err != nil {
			t.Fatal(err)
		}
		if contractState != "" {
			a["contract_state"] = json.RawMessage(contractState)
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	start := func(t *testing.T, contractState string) *node {
		n := newNode(t, nil, "", "v1")
		if _, err := n.exec.InitChain(chainID, 1, withState(t, contractState), genesisValidators(), executor.NoMaxBlockGas); err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := start(t, `{"kv":{"a":"1","b":"2"},"bank":{"x":"7"}}`)
	if p := n.exec.Params(); p == nil || p.App.ContractState != nil {
		t.Fatalf("the chain parameters kept the contract state: %+v", p)
	}
	res := n.block(signed(t, admin, 1, "kv", "set", `{"key":"c","value":"3"}`))
	if res.TxResults[0].Code != 0 {
		t.Fatalf("kv.set over genesis state: %+v", res.TxResults[0])
	}
	for k, want := range map[string]string{"a": "1", "b": "2", "c": "3"} {
		if r := n.exec.Query("/state/kv", []byte(k)); r.Code != executor.QueryOK || string(r.Value) != want {
			t.Fatalf("after block 1: kv %s = %q (%s), want %q", k, r.Value, r.Log, want)
		}
	}
	if r := n.exec.Query("/state/bank", []byte("x")); string(r.Value) != "7" {
		t.Fatalf("bank x = %q", r.Value)
	}

	block1 := func(contractState string) []byte {
		n := start(t, contractState)
		res, err := n.exec.FinalizeBlock(context.Background(), 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.AppHash
	}
	same := block1(`{"bank":{"x":"7"},"kv":{"b":"2","a":"1"}}`)
	if want := block1(`{"kv":{"a":"1","b":"2"},"bank":{"x":"7"}}`); !bytes.Equal(same, want) {
		t.Fatalf("the order of the genesis entries changed the app hash: %X vs %X", same, want)
	}
	for _, other := range []string{"", `{"kv":{"a":"1","b":"2"}}`, `{"kv":{"a":"1","b":"3"},"bank":{"x":"7"}}`} {
		if h := block1(other); bytes.Equal(h, same) {
			t.Fatalf("genesis contract state %q has the app hash of another", other)
		}
	}
	if _, err := newNode(t, nil, "", "v1").exec.InitChain(chainID, 1, withState(t, `{"kv":{"`+strings.Repeat("k", 300)+`":"v"}}`), genesisValidators(), executor.NoMaxBlockGas); err == nil {
		t.Fatal("a genesis key over the key limit was accepted")
	}
}
