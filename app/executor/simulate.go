package executor

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/app/upgrade"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// SimulateResult is the JSON answer of /simulate: what the transaction would do if it
// were the first one of the next block, executed on the last committed state.
type SimulateResult struct {
	Code      codes.Code `json:"code"`
	CodeName  string     `json:"code_name"`
	Log       string     `json:"log,omitempty"`
	Data      []byte     `json:"data,omitempty"`
	GasWanted uint64     `json:"gas_wanted"`
	GasUsed   uint64     `json:"gas_used"`
	// RuntimeVersion is the version that would execute it: the next block's, which is the
	// scheduled one when a switch starts there.
	RuntimeVersion uint64 `json:"runtime_version"`
	// Profile is the execution profile that version runs under.
	Profile uint32 `json:"profile"`
	// Height is the committed height simulated on; the transaction ran as if in Height+1.
	Height int64 `json:"height"`
	// Refused is set when the transaction failed a check CheckTx makes (Code is CheckTx's
	// code, nothing ran, GasUsed is 0): a node would not admit it to its mempool.
	Refused bool `json:"refused,omitempty"`
}

// simulate answers /simulate for the signed transaction raw. The caller holds commitMu
// shared, so the store stays at one commit throughout.
//
// It checks what CheckTx checks without its mempool state (size, encoding, signature,
// chain id, gas limit, message shape, a lifecycle message's authorisation) and refuses a
// nonce already committed. A refusal is an answer (Refused, with CheckTx's code), so query
// codes stay the query's own. A nonce ahead of the next one is accepted: the transactions
// before it may be waiting in the mempool, and the call runs as if it were next.
//
// It then executes the transaction as FinalizeBlock would as the only one of the next
// block (the scheduled switch applied, a fresh instance of that block's runtime version,
// the nonce consumed) into a write set over committed state, which is dropped: nothing
// reaches the store, the mempool's nonces or the signature cache. Gas is bounded by the
// transaction's limit, itself at most the chain's max_gas_per_tx. A contract failure is an
// answer too, with the failure's code. The error is the query's own failure:
// QueryUnavailable or QueryFailed.
//
// Queries reach the app one at a time (CometBFT's query connection has its own lock), so
// at most one simulation runs, and it holds Commit back for at most one call's execution.
func (e *Executor) simulate(ctx context.Context, raw []byte) (*SimulateResult, *codes.Error) {
	res, refusal, qerr := e.simulateChecked(ctx, raw)
	if qerr != nil {
		return nil, qerr
	}
	if refusal != nil {
		return &SimulateResult{Code: refusal.Code, CodeName: refusal.Code.String(), Log: refusal.Msg, Height: e.store.Height(), Refused: true}, nil
	}
	return res, nil
}

// simulateChecked is simulate with CheckTx's refusals (refusal) apart from the query's
// own failures (qerr).
func (e *Executor) simulateChecked(ctx context.Context, raw []byte) (res *SimulateResult, refusal, qerr *codes.Error) {
	params := e.Params()
	if params == nil {
		return nil, nil, codes.Errorf(QueryUnavailable, "the chain has not been initialised")
	}
	if p := e.Paused(); p != nil {
		return nil, nil, codes.Errorf(QueryUnavailable, "this node is paused at height %d waiting for runtime v%d: install it (%s)", p.Height, p.Version, p.Install)
	}
	limits := tx.Limits{ChainID: params.ChainID, MaxGasPerTx: params.App.MaxGasPerTx}
	// Decode without the signature cache: a simulation must leave nothing behind that
	// CheckTx or FinalizeBlock would see.
	t, cerr := tx.Decode(raw, limits)
	if cerr != nil {
		return nil, cerr, nil
	}
	height := e.NextHeight()
	writes := state.NewCache(e.committed())
	k := upgrade.NewKeeper(writes)
	if _, err := k.BeginBlock(height); err != nil {
		return nil, nil, codes.Errorf(QueryFailed, "apply the next block's switch: %v", err)
	}
	if err := k.BeginBlockValidators(height); err != nil {
		return nil, nil, codes.Errorf(QueryFailed, "apply the validator changes taking force: %v", err)
	}
	eff, err := k.Effective()
	if err != nil {
		return nil, nil, codes.Errorf(QueryFailed, "read the effective runtime: %v", err)
	}
	if _, isCall := t.Body.Msg.(*txv1.TxBody_Call); !isCall {
		// CheckTx authorises lifecycle messages against committed state; so does this.
		refusal, err := upgrade.NewKeeper(state.NewCache(e.committed())).Authorize(t.Sender.String(), t.Body.Msg)
		if err != nil {
			return nil, nil, codes.Errorf(QueryFailed, "read validator set: %v", err)
		}
		if refusal != nil {
			return nil, refusal, nil
		}
	}
	last, err := readNonce(writes, t.Sender)
	if err != nil {
		return nil, nil, codes.Errorf(QueryFailed, "read sender state: %v", err)
	}
	if t.Body.Nonce <= last {
		return nil, codes.Errorf(codes.NonceReplayed, "nonce %d already used: the sender's last committed nonce is %d", t.Body.Nonce, last), nil
	}
	writes.Set(state.AccountKey(t.Sender[:]), state.EncodeUint64(t.Body.Nonce))

	prof, err := profile.Get(eff.Profile)
	if err != nil {
		return nil, nil, codes.Errorf(QueryFailed, "runtime v%d: %v", eff.Version, err)
	}
	mod, err := e.runtimes.Load(ctx, eff.Version, runtime.Hash(eff.CodeSha256), prof)
	if errors.Is(err, runtime.ErrNotInstalled) {
		return nil, nil, codes.Errorf(QueryUnavailable, "runtime v%d, which executes the next block, is not installed on this node: %s", eff.Version, e.InstallHint(eff.Version))
	}
	if err != nil {
		return nil, nil, codes.Errorf(QueryFailed, "%v", err)
	}
	sess := mod.NewSession()
	defer sess.Close(ctx)
	b := &blockRun{
		e: e, ctx: ctx, height: height, writes: writes, sess: sess, params: params, limits: limits,
		version: strconv.FormatUint(eff.Version, 10), eff: eff,
	}
	var out TxResult
	if call, ok := t.Body.Msg.(*txv1.TxBody_Call); ok {
		out, err = b.deliverCall(t, call.Call)
	} else {
		out, err = b.deliverLifecycle(t)
	}
	if err != nil {
		return nil, nil, codes.Errorf(QueryFailed, "execute: %v", err)
	}
	rec, err := DecodeExecResult(out.Data)
	if err != nil {
		return nil, nil, codes.Errorf(QueryFailed, "%v", err)
	}
	return &SimulateResult{
		Code: out.Code, CodeName: out.Code.String(), Log: out.Log, Data: rec.Data,
		GasWanted: out.GasWanted, GasUsed: out.GasUsed, RuntimeVersion: rec.RuntimeVersion, Profile: rec.Profile, Height: e.store.Height(),
	}, nil, nil
}

// Simulate runs the /simulate query for raw and decodes its answer; the error is the
// query's own failure (its code is a query code).
func (e *Executor) Simulate(raw []byte) (*SimulateResult, *codes.Error) {
	r := e.Query("/simulate", raw)
	if r.Code != QueryOK {
		return nil, &codes.Error{Code: r.Code, Msg: r.Log}
	}
	var s SimulateResult
	if err := json.Unmarshal(r.Value, &s); err != nil {
		return nil, codes.Errorf(QueryFailed, "decode /simulate answer: %v", err)
	}
	return &s, nil
}
