// Package abci adapts the vchain state machine (app/executor) to CometBFT's ABCI++
// interface. It translates requests and responses and holds no business rules, so the
// same app serves an in-process node and an external cometbft over a socket.
package abci

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cryptoenc "github.com/cometbft/cometbft/crypto/encoding"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/metrics"
	"github.com/vchain/vchain/app/snapshot"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/internal/crashpoint"
)

// Version is reported in Info.
const Version = "0.1.0"

// App is the ABCI application. It is safe for concurrent use by CometBFT's four
// connections (proxy.NewConnSyncLocalClientCreator): the executor serialises what must be.
type App struct {
	abcitypes.BaseApplication
	exec *executor.Executor
	log  executor.Logger
	// metrics is nil unless the node exports Prometheus metrics (SetMetrics).
	metrics *metrics.Metrics

	rejected atomic.Uint64 // proposals ProcessProposal refused

	// snapshots takes, serves and restores state sync snapshots (snapshot.go); nil: none.
	snapshots *snapshot.Manager

	// Optimistic execution (optimistic.go): the accepted proposal executing ahead.
	noOptimistic bool
	specMu       sync.Mutex
	spec         *speculation
	specUsed     atomic.Uint64 // blocks whose speculative result FinalizeBlock took
}

var _ abcitypes.Application = (*App)(nil)

// New returns the ABCI application over exec.
func New(exec *executor.Executor, log executor.Logger) *App {
	return &App{exec: exec, log: log}
}

// SetMetrics makes the app record its metrics in m and sets the runtime series from the
// committed state at once, so a scrape before the first block already shows them. Call it
// before CometBFT starts.
func (a *App) SetMetrics(m *metrics.Metrics) {
	a.metrics = m
	m.SetRuntime(a.runtimeMetrics())
}

// runtimeMetrics reads the runtime series from committed state. A failure is logged,
// never returned: metrics must not stop consensus.
func (a *App) runtimeMetrics() metrics.Runtime {
	r, err := a.exec.RuntimeMetrics()
	if err != nil {
		a.log.Error("read runtime state for metrics", "err", err)
	}
	return r
}

// Info reports the last committed height and app hash, so CometBFT's handshake replays
// exactly the blocks the app has not committed.
func (a *App) Info(_ context.Context, _ *abcitypes.RequestInfo) (*abcitypes.ResponseInfo, error) {
	last := a.exec.LastBlock()
	return &abcitypes.ResponseInfo{
		Data:             "vchain",
		Version:          Version,
		AppVersion:       last.AppVersion,
		LastBlockHeight:  last.Height,
		LastBlockAppHash: last.AppHash,
	}, nil
}

// InitChain records the genesis app state and block.max_gas. The header's version.app
// starts at the genesis runtime version.
func (a *App) InitChain(_ context.Context, req *abcitypes.RequestInitChain) (*abcitypes.ResponseInitChain, error) {
	vals := make([]executor.GenesisValidator, len(req.Validators))
	for i, v := range req.Validators {
		pk, err := cryptoenc.PubKeyFromProto(v.PubKey)
		if err != nil {
			return nil, fmt.Errorf("init chain: validator %d: %w", i, err)
		}
		vals[i] = executor.GenesisValidator{Address: pk.Address().String(), Power: v.Power, PubKeyType: pk.Type(), PubKey: pk.Bytes()}
	}
	// block.max_gas reaches the app only here: the executor stores it with the chain
	// parameters, so ProcessProposal enforces it after a restart too.
	maxGas := int64(executor.NoMaxBlockGas)
	if cp := req.ConsensusParams; cp != nil && cp.Block != nil {
		maxGas = cp.Block.MaxGas
	}
	var keyTypes []string // validator.pub_key_types: which keys add_validator may bring
	if cp := req.ConsensusParams; cp != nil && cp.Validator != nil {
		keyTypes = cp.Validator.PubKeyTypes
	}
	hash, err := a.exec.InitChainKeyTypes(req.ChainId, req.InitialHeight, req.AppStateBytes, vals, maxGas, keyTypes)
	if err != nil {
		return nil, fmt.Errorf("init chain: %w", err)
	}
	res := &abcitypes.ResponseInitChain{AppHash: hash}
	if cp := req.ConsensusParams; cp != nil {
		eff, err := a.exec.EffectiveRuntime()
		if err != nil {
			return nil, err
		}
		params := *cp
		params.Version = &cmtproto.VersionParams{App: eff.Version}
		res.ConsensusParams = &params
	}
	return res, nil
}

// CheckTx admits a transaction to the mempool only if it would be executed.
func (a *App) CheckTx(_ context.Context, req *abcitypes.RequestCheckTx) (*abcitypes.ResponseCheckTx, error) {
	check := a.exec.CheckTx
	if req.Type == abcitypes.CheckTxType_Recheck {
		check = a.exec.RecheckTx
	}
	t, cerr := check(req.Tx)
	if cerr != nil {
		a.metrics.CheckTx(uint32(cerr.Code), req.Type == abcitypes.CheckTxType_Recheck)
		return &abcitypes.ResponseCheckTx{Code: uint32(cerr.Code), Log: cerr.Error(), Codespace: "vchain"}, nil
	}
	a.metrics.CheckTx(0, req.Type == abcitypes.CheckTxType_Recheck)
	return &abcitypes.ResponseCheckTx{GasWanted: int64(t.Body.GasLimit)}, nil
}

// PreverifyTxs verifies the signatures of transactions about to be checked as one batch
// (see internal/node.Preverifier): CheckTx then finds them verified.
func (a *App) PreverifyTxs(txs [][]byte) {
	a.metrics.CheckBatch(len(txs))
	a.exec.Preverify(txs)
}

// PrepareProposal puts each sender's transactions in nonce order and leaves out those
// that could only fail (see executor.PrepareProposal).
func (a *App) PrepareProposal(_ context.Context, req *abcitypes.RequestPrepareProposal) (*abcitypes.ResponsePrepareProposal, error) {
	start := time.Now()
	txs := a.exec.PrepareProposal(req.Txs, req.MaxTxBytes)
	a.metrics.Proposal(metrics.StepPrepare, time.Since(start))
	return &abcitypes.ResponsePrepareProposal{Txs: txs}, nil
}

// ProcessProposal accepts a proposed block unless it breaks a rule every correct proposer
// keeps (see executor.ValidateProposal): a transaction that fails a stateless check, or
// summed gas limits over block.max_gas. A refusal makes this validator prevote nil, so the
// round moves to the next proposer. It is logged as an error: an honest node never builds
// such a block (PrepareProposal leaves those transactions out), so its proposer is faulty.
func (a *App) ProcessProposal(_ context.Context, req *abcitypes.RequestProcessProposal) (*abcitypes.ResponseProcessProposal, error) {
	start := time.Now()
	defer func() { a.metrics.Proposal(metrics.StepProcess, time.Since(start)) }()
	if err := a.exec.ValidateProposal(req.Txs); err != nil {
		a.rejected.Add(1)
		a.log.Error("rejecting proposal", "height", req.Height, "proposer", fmt.Sprintf("%X", req.ProposerAddress), "txs", len(req.Txs), "err", err)
		return &abcitypes.ResponseProcessProposal{Status: abcitypes.ResponseProcessProposal_REJECT}, nil
	}
	a.speculate(req.Height, req.Txs)
	return &abcitypes.ResponseProcessProposal{Status: abcitypes.ResponseProcessProposal_ACCEPT}, nil
}

// RejectedProposals returns how many proposals ProcessProposal has refused since start.
func (a *App) RejectedProposals() uint64 { return a.rejected.Load() }

// FinalizeBlock executes the block. An error stops this node's consensus rather than let
// it vote for a state it could not compute.
func (a *App) FinalizeBlock(ctx context.Context, req *abcitypes.RequestFinalizeBlock) (*abcitypes.ResponseFinalizeBlock, error) {
	path := metrics.PathOptimistic
	res, took := a.speculated(req.Height, req.Txs)
	if res == nil {
		path = metrics.PathFinalize
		var err error
		if res, took, err = a.execute(ctx, req.Height, req.Txs); err != nil {
			a.log.Error("cannot execute block", "height", req.Height, "err", err)
			return nil, err
		}
	}
	out := &abcitypes.ResponseFinalizeBlock{AppHash: res.AppHash, TxResults: make([]*abcitypes.ExecTxResult, len(res.TxResults)), Events: events(res.Events)}
	if res.NextAppVersion != 0 {
		// CometBFT puts this in the header of the next block: the first block under the
		// new runtime carries its version.
		out.ConsensusParamUpdates = &cmtproto.ConsensusParams{Version: &cmtproto.VersionParams{App: res.NextAppVersion}}
	}
	for _, v := range res.ValidatorUpdates {
		// CometBFT applies these from height+2; the executor's own record follows it.
		out.ValidatorUpdates = append(out.ValidatorUpdates, abcitypes.UpdateValidator(v.PubKey, v.Power, v.PubKeyType))
	}
	var gas uint64
	txCodes := make([]uint32, len(res.TxResults))
	for i, r := range res.TxResults {
		gas += r.GasUsed
		txCodes[i] = uint32(r.Code)
		out.TxResults[i] = &abcitypes.ExecTxResult{
			Code:      uint32(r.Code),
			Data:      r.Data,
			Log:       r.Log,
			GasWanted: int64(r.GasWanted),
			GasUsed:   int64(r.GasUsed),
			Events:    events(r.Events),
			Codespace: codespace(uint32(r.Code)),
		}
	}
	if a.metrics != nil {
		a.metrics.BlockExecuted(took, path, txCodes, gas, switched(res.Events))
	}
	crashpoint.Hit(crashpoint.AfterFinalize, req.Height)
	return out, nil
}

// Commit commits the finalized block; the store makes it durable in the background (see
// executor.Commit).
func (a *App) Commit(_ context.Context, _ *abcitypes.RequestCommit) (*abcitypes.ResponseCommit, error) {
	crashpoint.Hit(crashpoint.BeforeCommit, a.exec.NextHeight())
	start := time.Now()
	height, err := a.exec.Commit()
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if a.snapshots != nil {
		a.snapshots.Committed(height) // in the background past retaining the version
	}
	if a.metrics != nil {
		a.metrics.Committed(time.Since(start), a.runtimeMetrics())
	}
	return &abcitypes.ResponseCommit{}, nil
}

// Query answers the paths documented on executor.Query; with prove, a /state answer
// carries ProofOps (format: app/state/proof.go).
func (a *App) Query(_ context.Context, req *abcitypes.RequestQuery) (*abcitypes.ResponseQuery, error) {
	r := a.exec.QueryProve(req.Path, req.Data, req.Height, req.Prove)
	res := &abcitypes.ResponseQuery{
		Code: uint32(r.Code), Log: r.Log, Key: r.Key, Value: r.Value, Height: r.Height, Codespace: codespace(uint32(r.Code)),
	}
	if r.Proof != nil {
		res.ProofOps = state.ToProto(r.Proof)
	}
	return res, nil
}

// switched reports whether a block's events include a runtime switch.
func switched(evs []abi.Event) bool {
	for _, e := range evs {
		if e.Type == upgrade.EventRuntimeSwitched {
			return true
		}
	}
	return false
}

func codespace(code uint32) string {
	if code == 0 {
		return ""
	}
	return "vchain"
}

// unindexed are the attributes of every transaction's EventTx that CometBFT records in the
// results but does not index: nobody searches by them (a sender's transactions are found by
// sender, those of a version by runtime_version, a contract's by contract), and each indexed
// attribute is one more write per transaction in CometBFT's tx index.
var unindexed = map[string]bool{executor.AttrNonce: true, executor.AttrMethod: true}

func events(evs []abi.Event) []abcitypes.Event {
	out := make([]abcitypes.Event, len(evs))
	for i, e := range evs {
		attrs := make([]abcitypes.EventAttribute, len(e.Attrs))
		for j, a := range e.Attrs {
			index := !(e.Type == executor.EventTx && unindexed[a.Key])
			attrs[j] = abcitypes.EventAttribute{Key: a.Key, Value: a.Value, Index: index}
		}
		out[i] = abcitypes.Event{Type: e.Type, Attributes: attrs}
	}
	return out
}
