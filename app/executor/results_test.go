package executor_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/vchain/vchain/abci"
	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/internal/testwasm"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// execRecord decodes the execution record of an executed transaction's result data.
func execRecord(t testing.TB, data []byte) *txv1.ExecResult {
	t.Helper()
	r, err := executor.DecodeExecResult(data)
	if err != nil {
		t.Fatalf("result data %x: %v", data, err)
	}
	return r
}

// TestResultsHashCoversRuntime: CometBFT hashes only code, data, gas_wanted and gas_used
// of each result into the next header's last_results_hash, so the runtime version and
// profile that executed a transaction are covered by consensus only because the data
// carries them. Every executed transaction (a call that returns data, one that fails, a
// lifecycle message) records the block's version and profile around the contract's data,
// through the ABCI adapter as CometBFT receives it; a node that reports another version or
// profile for the same results signs another results hash, where changing the events'
// runtime_version attribute changes nothing. A transaction rejected before execution
// carries no record.
func TestResultsHashCoversRuntime(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	n.block(signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`))
	eff, err := n.exec.EffectiveRuntime()
	if err != nil {
		t.Fatal(err)
	}
	app := abci.New(n.exec, nopLog{})
	txs := []struct {
		name string
		raw  []byte
		code codes.Code
		data string // the contract's data; "-" for a transaction that was not executed
	}{
		{"call returning data", signed(t, admin, 2, "kv", "get", `{"key":"a"}`), codes.OK, "1"},
		{"call writing", signed(t, admin, 3, "kv", "set", `{"key":"b","value":"2"}`), codes.OK, ""},
		{"failing call", signed(t, admin, 4, "bank", "transfer", `{"to":"`+strings.Repeat("AB", 20)+`","amount":5}`), codes.ContractError, ""},
		{"lifecycle message", signed(t, admin, 5, "", "", "", register(2, testwasm.Module(t, "v2"))), codes.OK, ""},
		{"refused lifecycle message", signed(t, key(9), 1, "", "", "", register(3, testwasm.Module(t, "v2"))), codes.Unauthorized, ""},
		{"nonce gap", signed(t, admin, 9, "kv", "set", `{}`), codes.NonceGap, "-"},
		{"undecodable", []byte("not a transaction"), codes.Undecodable, "-"},
	}
	req := &abcitypes.RequestFinalizeBlock{Height: 2}
	for _, tc := range txs {
		req.Txs = append(req.Txs, tc.raw)
	}
	resp, err := app.FinalizeBlock(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	base := cmttypes.NewResults(resp.TxResults).Hash()

	// withRecord returns the block's results with result i's record changed by edit.
	withRecord := func(i int, edit func(*txv1.ExecResult)) []*abcitypes.ExecTxResult {
		out := make([]*abcitypes.ExecTxResult, len(resp.TxResults))
		for j, r := range resp.TxResults {
			c := *r
			out[j] = &c
		}
		rec := execRecord(t, out[i].Data)
		edit(rec)
		raw, err := rec.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out[i].Data = raw
		return out
	}
	for i, tc := range txs {
		t.Run(tc.name, func(t *testing.T) {
			r := resp.TxResults[i]
			if codes.Code(r.Code) != tc.code {
				t.Fatalf("code %s, want %s", codes.Code(r.Code), tc.code)
			}
			if tc.data == "-" {
				if len(r.Data) != 0 {
					t.Fatalf("a transaction that was not executed carries data %x", r.Data)
				}
				if _, err := executor.DecodeExecResult(r.Data); err == nil {
					t.Fatal("empty data decodes as an execution record")
				}
				return
			}
			rec := execRecord(t, r.Data)
			if rec.RuntimeVersion != eff.Version || rec.Profile != eff.Profile || string(rec.Data) != tc.data {
				t.Fatalf("record %+v, want version %d profile %d data %q", rec, eff.Version, eff.Profile, tc.data)
			}
			// The encoding round-trips to the same bytes: what every node hashes.
			if again, err := rec.Marshal(); err != nil || !bytes.Equal(again, r.Data) {
				t.Fatalf("re-encoded record %x (%v), was %x", again, err, r.Data)
			}
			for _, lie := range []struct {
				name string
				edit func(*txv1.ExecResult)
			}{
				{"another runtime version", func(r *txv1.ExecResult) { r.RuntimeVersion++ }},
				{"another profile", func(r *txv1.ExecResult) { r.Profile++ }},
			} {
				if bytes.Equal(cmttypes.NewResults(withRecord(i, lie.edit)).Hash(), base) {
					t.Errorf("a node reporting %s signs the same results hash", lie.name)
				}
			}
			if got := cmttypes.NewResults(withRecord(i, func(*txv1.ExecResult) {})).Hash(); !bytes.Equal(got, base) {
				t.Error("re-encoding the same record changed the results hash")
			}
		})
	}

	// The event attribute is not hashed: alone, it would let a node claim any version.
	lied := make([]*abcitypes.ExecTxResult, len(resp.TxResults))
	for i, r := range resp.TxResults {
		c := *r
		c.Events = []abcitypes.Event{{Type: executor.EventTx, Attributes: []abcitypes.EventAttribute{{Key: executor.AttrRuntimeVersion, Value: "99"}}}}
		lied[i] = &c
	}
	if !bytes.Equal(cmttypes.NewResults(lied).Hash(), base) {
		t.Fatal("CometBFT now hashes events: the execution record may no longer be needed")
	}
}
