package executor

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/contracts/abi"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// EventTx is the type of the event every transaction result carries; its attributes name
// the sender, the nonce and, always, the runtime version that produced the result.
const EventTx = "vchain_tx"

// Attribute keys of EventTx.
const (
	AttrRuntimeVersion = "runtime_version"
	AttrSender         = "sender"
	AttrNonce          = "nonce"
	AttrContract       = "contract"
	AttrMethod         = "method"
)

// TxResult is one transaction's outcome, in CometBFT's ExecTxResult shape.
type TxResult struct {
	Code codes.Code
	// Data is ExecTxResult.data, which CometBFT hashes into the next header (with Code,
	// GasWanted and GasUsed; not Log or Events): for every transaction that was executed,
	// an encoded txv1.ExecResult naming the runtime version and profile that executed it
	// around the contract's data (see DecodeExecResult); empty for one rejected before
	// execution.
	Data      []byte
	Log       string
	GasWanted uint64
	GasUsed   uint64
	Events    []abi.Event
}

type blockRun struct {
	e       *Executor
	ctx     context.Context
	height  int64
	writes  *state.Cache
	sess    *runtime.Session
	limits  tx.Limits
	version string // eff.Version, as the event attribute carries it
	eff     *statev1.EffectiveRuntime
	params  *Params
}

// record returns the ExecResult of a transaction this block executed around data. The
// version and profile are the block's effective runtime: the rules that executed it.
func (b *blockRun) record(data []byte) ([]byte, error) {
	r := txv1.ExecResult{RuntimeVersion: b.eff.Version, Profile: b.eff.Profile, Data: data}
	raw, err := r.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode the execution record: %w", err)
	}
	return raw, nil
}

// DecodeExecResult decodes the Data of a transaction result: the runtime version and
// profile that executed the transaction, and the contract's data. It fails on empty Data,
// which a transaction rejected before execution has, and on bytes that are no ExecResult.
func DecodeExecResult(data []byte) (*txv1.ExecResult, error) {
	if len(data) == 0 {
		return nil, errors.New("no execution record: the transaction was not executed")
	}
	var r txv1.ExecResult
	if err := r.Unmarshal(data); err != nil {
		return nil, fmt.Errorf("decode execution record: %w", err)
	}
	if r.RuntimeVersion == 0 {
		return nil, errors.New("decode execution record: no runtime version")
	}
	return &r, nil
}

// deliver executes one transaction. Rejected transactions change nothing; executed ones
// consume their nonce whatever the outcome, so they can never be replayed.
func (b *blockRun) deliver(d tx.Decoded) (TxResult, error) {
	t, cerr := d.Tx, d.Err
	if cerr != nil {
		return b.rejected(cerr, nil), nil
	}
	b.e.sigs.Forget(t.Hash)
	last, err := readNonce(b.writes, t.Sender)
	if err != nil {
		return TxResult{}, err
	}
	if cerr := nextNonce(t.Body.Nonce, last); cerr != nil {
		return b.rejected(cerr, t), nil
	}
	b.writes.Set(state.AccountKey(t.Sender[:]), state.EncodeUint64(t.Body.Nonce))

	call, ok := t.Body.Msg.(*txv1.TxBody_Call)
	if !ok {
		return b.deliverLifecycle(t)
	}
	return b.deliverCall(t, call.Call)
}

// GasLifecycleMsg is the gas a version lifecycle message uses.
const GasLifecycleMsg = 10_000

// lifecycleContext is what the upgrade handlers know of a transaction in block height.
func lifecycleContext(p *Params, height int64, t *tx.Tx) upgrade.Context {
	return upgrade.Context{Height: height, Sender: t.Sender.String(), Threshold: p.App.InstallThreshold, PubKeyTypes: p.PubKeyTypes}
}

// deliverLifecycle applies a release, schedule, cancel or attestation, a membership
// change, an admin proposal or an approval. Its writes go
// through a transaction write set, so a refused message records nothing; an accepted one
// commits with its block, in the same batch as the transaction's result.
func (b *blockRun) deliverLifecycle(t *tx.Tx) (TxResult, error) {
	txWrites := state.NewCache(b.writes)
	k := upgrade.NewKeeper(txWrites)
	// A lifecycle message runs no contract; its record still names the block's version and
	// profile, so every executed result decodes alike (see txv1.ExecResult).
	rec, err := b.record(nil)
	if err != nil {
		return TxResult{}, err
	}
	out := TxResult{Data: rec, GasWanted: t.Body.GasLimit, GasUsed: min(t.Body.GasLimit, GasLifecycleMsg), Events: []abi.Event{b.txEvent(t)}}
	refusal, err := k.Authorize(t.Sender.String(), t.Body.Msg)
	if err != nil {
		return TxResult{}, err
	}
	if refusal != nil {
		out.Code, out.Log = refusal.Code, refusal.Error()
		return out, nil
	}
	res, err := k.Deliver(lifecycleContext(b.params, b.height, t), t.Body.Msg)
	if err != nil {
		return TxResult{}, err
	}
	if res.Refusal != nil {
		out.Code, out.Log = res.Refusal.Code, res.Refusal.Error()
		return out, nil
	}
	txWrites.WriteTo(b.writes)
	out.Events = append(out.Events, res.Events...)
	return out, nil
}

// deliverCall executes a contract call on the block's runtime session.
func (b *blockRun) deliverCall(t *tx.Tx, call *txv1.Call) (TxResult, error) {
	txWrites := state.NewCache(b.writes)
	env := &contractEnv{writes: txWrites, contract: call.Contract, caller: t.Sender.String(), height: b.height}
	res, err := b.sess.Execute(b.ctx, env, abi.Request{Contract: call.Contract, Method: call.Method, Args: call.Args}, t.Body.GasLimit)
	if err != nil {
		return TxResult{}, err
	}
	rec, err := b.record(res.Data)
	if err != nil {
		return TxResult{}, err
	}
	out := TxResult{Data: rec, GasWanted: t.Body.GasLimit, GasUsed: res.GasUsed}
	out.Events = []abi.Event{b.txEvent(t, abi.Attr{Key: AttrContract, Value: call.Contract}, abi.Attr{Key: AttrMethod, Value: call.Method})}
	if res.Err != nil {
		out.Code, out.Log = res.Err.Code, res.Err.Error()
		return out, nil
	}
	txWrites.WriteTo(b.writes)
	for _, ev := range res.Events {
		ev.Type = call.Contract + "." + ev.Type
		out.Events = append(out.Events, ev)
	}
	return out, nil
}

func (b *blockRun) rejected(cerr *codes.Error, t *tx.Tx) TxResult {
	r := TxResult{Code: cerr.Code, Log: cerr.Error()}
	if t != nil {
		r.GasWanted = t.Body.GasLimit
		r.Events = []abi.Event{b.txEvent(t)}
	} else {
		r.Events = []abi.Event{{Type: EventTx, Attrs: []abi.Attr{{Key: AttrRuntimeVersion, Value: b.version}}}}
	}
	return r
}

func (b *blockRun) txEvent(t *tx.Tx, extra ...abi.Attr) abi.Event {
	attrs := []abi.Attr{
		{Key: AttrRuntimeVersion, Value: b.version},
		{Key: AttrSender, Value: t.Sender.String()},
		{Key: AttrNonce, Value: strconv.FormatUint(t.Body.Nonce, 10)},
	}
	return abi.Event{Type: EventTx, Attrs: append(attrs, extra...)}
}

// nextNonce admits nonce in a block only if it is exactly one past the sender's last
// executed nonce.
func nextNonce(nonce, last uint64) *codes.Error {
	switch {
	case nonce <= last:
		return codes.Errorf(codes.NonceReplayed, "nonce %d already used: the sender's last committed nonce is %d", nonce, last)
	case nonce > last+1:
		return codes.Errorf(codes.NonceGap, "nonce %d skips ahead: the sender's next nonce is %d", nonce, last+1)
	}
	return nil
}

func readNonce(r state.Reader, addr tx.Address) (uint64, error) {
	raw, err := r.Get(state.AccountKey(addr[:]))
	if err != nil {
		return 0, err
	}
	n, ok := state.DecodeUint64(raw)
	if !ok {
		return 0, fmt.Errorf("nonce record of %s is corrupt", addr)
	}
	return n, nil
}

// contractEnv is the runtime.Env of one call: its contract's namespace in the
// transaction's write set.
type contractEnv struct {
	writes   *state.Cache
	contract string
	caller   string
	height   int64
}

func (c *contractEnv) Get(key []byte) ([]byte, error) {
	return c.writes.Get(state.ContractKey(c.contract, key))
}
func (c *contractEnv) Set(key, value []byte) { c.writes.Set(state.ContractKey(c.contract, key), value) }
func (c *contractEnv) Delete(key []byte)     { c.writes.Delete(state.ContractKey(c.contract, key)) }
func (c *contractEnv) Caller() string        { return c.caller }
func (c *contractEnv) Height() int64         { return c.height }
