package executor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/app/upgrade"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// This file is the dry run of an upgrade (`vchaind upgrade simulate`): the state of
// height latest-N, read as an immutable historical version, the candidate version's
// migration, then the last N blocks' transactions re-executed with the candidate version
// into a scratch write set, block after block, by the deliver path FinalizeBlock uses
// (blockRun.deliver). Every result is compared with the one the chain recorded.
//
// Nothing reaches the node's store or consensus: the historical version is read through
// trees of its own (state.Version), the writes stay in a state.Cache that is dropped, the
// signature cache is not used, and commitMu is held only while the start height is
// chosen and retained against pruning.

// PathDryRun is the query path of a dry run; its data is a JSON DryRunRequest.
const PathDryRun = "/upgrade/simulate"

// DryRunTimeout bounds a dry run's wall-clock time: CometBFT's RPC drops an answer that
// takes longer than its write timeout (about 11 s by default), and a run competes with
// the node's own work for the CPU. A run that hits the bound fails and says to ask for
// fewer blocks. It is a bound on a report, never on anything consensus computes.
var DryRunTimeout = 8 * time.Second

// BlockSource gives a dry run the committed blocks and the results the chain recorded for
// them. CometBFT keeps both (its block store and state store); the node wires them in with
// SetBlockSource, so this package needs no CometBFT types.
type BlockSource interface {
	RecordedBlock(ctx context.Context, height int64) (*RecordedBlock, error)
}

// RecordedBlock is a committed block's transactions and their recorded results, in block
// order (Code, Data, GasWanted, GasUsed and Log of each ExecTxResult).
type RecordedBlock struct {
	Txs     [][]byte
	Results []TxResult
}

type dryRunState struct {
	mu  sync.Mutex
	src BlockSource
	// running admits one dry run at a time: the embedded node's queries run concurrently
	// (internal/node's client takes no lock for them), and each run is seconds of CPU.
	running sync.Mutex
}

// SetBlockSource gives the executor access to committed blocks for dry runs. Without it
// (an app serving an external cometbft over a socket) a dry run answers QueryUnavailable.
func (e *Executor) SetBlockSource(src BlockSource) {
	e.dry.mu.Lock()
	e.dry.src = src
	e.dry.mu.Unlock()
}

func (e *Executor) blockSource() BlockSource {
	e.dry.mu.Lock()
	defer e.dry.mu.Unlock()
	return e.dry.src
}

// DryRunRequest is the query data of PathDryRun.
type DryRunRequest struct {
	Version uint64 `json:"version"`
	Blocks  int64  `json:"blocks"`
	// AtMost runs over fewer blocks when the node's history is shorter than Blocks,
	// instead of refusing (the summary `upgrade schedule` prints uses it).
	AtMost bool `json:"at_most,omitempty"`
}

// DryRunReport is the answer of a dry run.
type DryRunReport struct {
	Version    uint64 `json:"version"`
	CodeSHA256 string `json:"code_sha256"`
	Profile    uint32 `json:"profile"`
	// FromVersion is the version effective at BaseHeight: the one the migration migrates from.
	FromVersion uint64 `json:"from_version"`
	// BaseHeight is the committed height whose state the run started from; the blocks
	// BaseHeight+1 .. LastHeight were re-executed.
	BaseHeight int64 `json:"base_height"`
	LastHeight int64 `json:"last_height"`
	Blocks     int64 `json:"blocks"`
	Txs        int   `json:"txs"`
	// Migration is the candidate's migration at the first block; nil when there is none
	// to run (the candidate is the version already effective).
	Migration *DryRunMigration `json:"migration"`
	// Differing lists every transaction whose code, contract result data or gas used
	// differs from what the chain recorded, in block order.
	Differing []TxDiff `json:"differing"`
	// DifferingTxs counts them (the list stops at maxDryRunDiffs; the counts do not).
	DifferingTxs      int     `json:"differing_txs"`
	DifferCode        int     `json:"differ_code"`
	DifferData        int     `json:"differ_data"`
	DifferGas         int     `json:"differ_gas"`
	GasUsedRecorded   uint64  `json:"gas_used_recorded"`
	GasUsedSimulated  uint64  `json:"gas_used_simulated"`
	ElapsedMillis     int64   `json:"elapsed_ms"`
	BlocksPerSecond   float64 `json:"blocks_per_second"`
	TruncatedDiffList bool    `json:"truncated_diff_list,omitempty"`
}

// DryRunMigration is what the candidate's migration did in a dry run.
type DryRunMigration struct {
	// Ran says whether the candidate exports a migration; without one nothing ran.
	Ran         bool   `json:"ran"`
	GasUsed     uint64 `json:"gas_used"`
	KeysChanged int    `json:"keys_changed"`
	// Error is set when the migration failed: the switch would be aborted at its start
	// height and the chain keep the previous version, so no block was re-executed.
	Error string `json:"error,omitempty"`
}

// TxOutcome is one side of a TxDiff. Data is the contract's result data (the execution
// record around it names the runtime version, which always differs).
type TxOutcome struct {
	Code     codes.Code `json:"code"`
	CodeName string     `json:"code_name"`
	Data     []byte     `json:"data,omitempty"`
	GasUsed  uint64     `json:"gas_used"`
	Log      string     `json:"log,omitempty"`
}

// TxDiff is a transaction whose simulated result differs from the recorded one.
type TxDiff struct {
	Height    int64     `json:"height"`
	Index     int       `json:"index"`
	Hash      string    `json:"hash"`
	Recorded  TxOutcome `json:"recorded"`
	Simulated TxOutcome `json:"simulated"`
}

// maxDryRunDiffs bounds the listed differences (the counts stay exact): a fee change
// differs on every transfer, and the answer must fit a query response.
const maxDryRunDiffs = 1000

// dryRunQuery answers PathDryRun. It runs outside commitMu (see QueryProve).
func (e *Executor) dryRunQuery(data []byte, height int64) QueryResult {
	r := QueryResult{Height: e.store.Height()}
	var req DryRunRequest
	cerr := func() *codes.Error {
		if height != 0 {
			return codes.Errorf(QueryBad, "a dry run starts from the latest state; pass height 0")
		}
		if err := json.Unmarshal(data, &req); err != nil {
			return codes.Errorf(QueryBad, "the query data must be JSON {\"version\":V,\"blocks\":N}: %v", err)
		}
		return nil
	}()
	var rep *DryRunReport
	if cerr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), DryRunTimeout)
		rep, cerr = e.DryRun(ctx, req)
		cancel()
	}
	if cerr != nil {
		r.Code, r.Log = cerr.Code, clipLog("upgrade simulate: "+cerr.Msg)
		return r
	}
	b, err := json.Marshal(rep)
	if err != nil {
		r.Code, r.Log = QueryFailed, clipLog(fmt.Sprintf("encode answer: %v", err))
		return r
	}
	r.Height, r.Value = rep.LastHeight, b
	return r
}

// DryRun runs req (see the file comment). Its errors carry query codes: QueryBad for a
// request the node cannot honour as asked (blocks <= 0, more blocks than its history
// holds), QueryNotFound for a version not registered on chain, QueryUnavailable for a
// version this node has not installed or a node without a block source, QueryFailed for
// a failure to read the node's own data.
func (e *Executor) DryRun(ctx context.Context, req DryRunRequest) (*DryRunReport, *codes.Error) {
	start := time.Now()
	params := e.Params()
	if params == nil {
		return nil, codes.Errorf(QueryUnavailable, "the chain has not been initialised")
	}
	src := e.blockSource()
	if src == nil {
		return nil, codes.Errorf(QueryUnavailable, "this node cannot read its blocks: dry runs need CometBFT in the vchaind process (vchaind start --abci embedded)")
	}
	if !e.dry.running.TryLock() {
		return nil, codes.Errorf(QueryUnavailable, "another dry run is running on this node: try again when it ends (at most %s)", DryRunTimeout)
	}
	defer e.dry.running.Unlock()
	if req.Version == 0 {
		return nil, codes.Errorf(QueryBad, "version 0: want a registered version >= 1")
	}
	if req.Blocks <= 0 {
		return nil, codes.Errorf(QueryBad, "blocks %d: want 1 or more", req.Blocks)
	}
	rel, err := upgrade.NewKeeper(state.NewCache(e.committed())).Release(req.Version)
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "read release v%d: %v", req.Version, err)
	}
	if rel == nil {
		return nil, codes.Errorf(QueryNotFound, "version %d is not registered on chain (see vchaind upgrade status)", req.Version)
	}
	cand := &statev1.EffectiveRuntime{Version: rel.Version, CodeSha256: rel.CodeSha256, Profile: rel.Profile}
	mod, cerr := e.loadCandidate(ctx, cand)
	if cerr != nil {
		return nil, cerr
	}
	base, last, cerr := e.retainDryRunBase(req, params)
	if cerr != nil {
		return nil, cerr
	}
	defer e.store.Release(base)
	cand.SinceHeight = base + 1

	ver, err := e.store.OpenVersion(base)
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "read the state of height %d: %v", base, err)
	}
	rep := &DryRunReport{Version: cand.Version, CodeSHA256: hex.EncodeToString(cand.CodeSha256), Profile: cand.Profile,
		BaseHeight: base, LastHeight: last, Blocks: last - base}
	writes := state.NewCache(ver)
	from, err := upgrade.NewKeeper(writes).Effective()
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "read the runtime effective at height %d: %v", base, err)
	}
	rep.FromVersion = from.Version
	run := &dryRun{e: e, ctx: ctx, params: params, src: src, mod: mod, cand: cand, from: from, writes: writes, base: ver, rep: rep}
	for h := base + 1; h <= last; h++ {
		cerr := run.block(h)
		if ctx.Err() != nil { // checked first: a call cut short fails with the context's error
			return nil, codes.Errorf(QueryUnavailable, "stopped after %s at height %d of %d..%d (the bound on a dry run): ask for fewer blocks",
				time.Since(start).Round(time.Millisecond), h, base+1, last)
		}
		if cerr != nil {
			return nil, cerr
		}
		if rep.Migration != nil && rep.Migration.Error != "" {
			break // the switch would abort: the chain would go on with the old version
		}
	}
	rep.ElapsedMillis = time.Since(start).Milliseconds()
	if s := time.Since(start).Seconds(); s > 0 {
		rep.BlocksPerSecond = float64(rep.Blocks) / s
	}
	e.log.Info("upgrade dry run", "version", rep.Version, "from_version", rep.FromVersion, "heights", fmt.Sprintf("%d..%d", base+1, last),
		"txs", rep.Txs, "differing", len(rep.Differing), "elapsed", time.Since(start))
	return rep, nil
}

// retainDryRunBase chooses the base height (latest minus the blocks asked for) and keeps
// it from pruning until the caller releases it. commitMu is held shared for these few
// reads only, so no commit prunes the base between the choice and the retain.
func (e *Executor) retainDryRunBase(req DryRunRequest, params *Params) (base, last int64, cerr *codes.Error) {
	e.commitMu.RLock()
	defer e.commitMu.RUnlock()
	last = e.store.Height()
	// The state of height initialHeight is the first one stored; the genesis state is not
	// a version of its own.
	avail := last - params.InitialHeight
	if kr := e.store.KeepRecent(); kr > 0 && kr-1 < avail {
		avail = kr - 1
	}
	n := req.Blocks
	if n > avail {
		if !req.AtMost || avail <= 0 {
			return 0, 0, codes.Errorf(QueryBad, "%d blocks: this node's history allows at most %d (height %d, first block %d, state of the last %d heights kept)",
				n, max(avail, 0), last, params.InitialHeight, e.store.KeepRecent())
		}
		n = avail
	}
	base = last - n
	if err := e.store.Retain(base); err != nil {
		return 0, 0, codes.Errorf(QueryBad, "%d blocks back: %v", n, err)
	}
	return base, last, nil
}

// loadCandidate loads the candidate's module, refusing one this node lacks.
func (e *Executor) loadCandidate(ctx context.Context, cand *statev1.EffectiveRuntime) (*runtime.Module, *codes.Error) {
	want := runtime.Hash(cand.CodeSha256)
	if !profile.Knows(cand.Profile) {
		reason, _ := e.needs(cand.Version, want, cand.Profile)
		return nil, codes.Errorf(QueryUnavailable, "%s", reason)
	}
	prof, err := profile.Get(cand.Profile)
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "runtime v%d: %v", cand.Version, err)
	}
	mod, err := e.runtimes.Load(ctx, cand.Version, want, prof)
	if errors.Is(err, runtime.ErrNotInstalled) {
		return nil, codes.Errorf(QueryUnavailable, "runtime v%d (sha256 %s) is not installed on this node: %s", cand.Version, want, e.InstallHint(cand.Version))
	}
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "runtime v%d: %v", cand.Version, err)
	}
	return mod, nil
}

// dryRun is one dry run in progress.
type dryRun struct {
	e      *Executor
	ctx    context.Context
	params *Params
	src    BlockSource
	mod    *runtime.Module
	cand   *statev1.EffectiveRuntime
	from   *statev1.EffectiveRuntime
	writes *state.Cache   // the scratch state: every block's writes, dropped at the end
	base   *state.Version // the state writes lies over
	rep    *DryRunReport
}

// block re-executes block h with the candidate version, as FinalizeBlock does (the
// lifecycle's begin and end of block included, so lifecycle transactions meet the state
// they met), and compares each result with the recorded one.
func (d *dryRun) block(h int64) *codes.Error {
	blk, err := d.src.RecordedBlock(d.ctx, h)
	if err != nil {
		return codes.Errorf(QueryFailed, "read block %d: %v", h, err)
	}
	if len(blk.Results) != len(blk.Txs) {
		return codes.Errorf(QueryFailed, "block %d: %d transactions but %d recorded results", h, len(blk.Txs), len(blk.Results))
	}
	if h == d.rep.BaseHeight+1 && d.cand.Version != d.from.Version {
		// The switch's first step, before anything of the block (as in FinalizeBlock).
		m, err := d.migrate(h)
		if err != nil {
			return codes.Errorf(QueryFailed, "block %d: %v", h, err)
		}
		if d.rep.Migration = m; m.Error != "" {
			return nil
		}
	}
	k := upgrade.NewKeeper(d.writes)
	if _, err := k.BeginBlock(h); err != nil {
		return codes.Errorf(QueryFailed, "block %d: apply switch: %v", h, err)
	}
	if err := k.BeginBlockValidators(h); err != nil {
		return codes.Errorf(QueryFailed, "block %d: validator set: %v", h, err)
	}
	valsBefore, err := k.Validators()
	if err != nil {
		return codes.Errorf(QueryFailed, "block %d: %v", h, err)
	}
	sess := d.mod.NewSession()
	defer sess.Close(d.ctx)
	limits := tx.Limits{ChainID: d.params.ChainID, MaxGasPerTx: d.params.App.MaxGasPerTx}
	b := &blockRun{
		// An executor of its own with no signature cache: deliver forgets each
		// transaction's cached signature, and the live node's cache must stay as it is.
		e:   &Executor{log: d.e.log},
		ctx: d.ctx, height: h, writes: d.writes, sess: sess, params: d.params, limits: limits,
		version: strconv.FormatUint(d.cand.Version, 10), eff: d.cand,
	}
	for i, dec := range tx.DecodeBlock(blk.Txs, limits, nil) {
		got, err := b.deliver(dec)
		if err != nil {
			return codes.Errorf(QueryFailed, "block %d, tx %d: %v", h, i, err)
		}
		d.compare(h, i, blk.Txs[i], blk.Results[i], got)
	}
	if _, _, err := k.EndBlock(h); err != nil {
		return codes.Errorf(QueryFailed, "block %d: %v", h, err)
	}
	if _, err := k.EndBlockValidators(h, valsBefore); err != nil {
		return codes.Errorf(QueryFailed, "block %d: validator updates: %v", h, err)
	}
	return nil
}

// migrate runs the candidate's migration at the first re-executed block, as the switch
// at that height would (runMigration, FinalizeBlock's own step, under the chain's
// migration_gas_limit), over the scratch state, listing keys from the base version. Its
// writes stay only if it succeeded: a failed migration's are discarded at the switch too.
// The error is the node's own failure (its store could not be read).
func (d *dryRun) migrate(h int64) (*DryRunMigration, error) {
	out, err := d.e.runMigration(d.ctx, d.mod, d.writes, d.base, d.from.Version, h, migrationGasLimit(d.params))
	if err != nil {
		return nil, err
	}
	m := &DryRunMigration{Ran: out.Ran, GasUsed: out.GasUsed, KeysChanged: out.KeysChanged}
	if out.Err != nil {
		m.Error = out.Reason()
	}
	return m, nil
}

// compare adds transaction i of block h to the totals and, when its code, contract data
// or gas used differs from the recorded result, to the differences.
func (d *dryRun) compare(h int64, i int, raw []byte, rec, sim TxResult) {
	rep := d.rep
	rep.Txs++
	rep.GasUsedRecorded += rec.GasUsed
	rep.GasUsedSimulated += sim.GasUsed
	recData, simData := contractData(rec.Data), contractData(sim.Data)
	code, data, gas := rec.Code != sim.Code, !bytes.Equal(recData, simData), rec.GasUsed != sim.GasUsed
	if !code && !data && !gas {
		return
	}
	rep.DifferingTxs++
	if code {
		rep.DifferCode++
	}
	if data {
		rep.DifferData++
	}
	if gas {
		rep.DifferGas++
	}
	if len(rep.Differing) >= maxDryRunDiffs {
		rep.TruncatedDiffList = true
		return
	}
	sum := sha256.Sum256(raw)
	rep.Differing = append(rep.Differing, TxDiff{Height: h, Index: i, Hash: strings.ToUpper(hex.EncodeToString(sum[:])),
		Recorded:  TxOutcome{Code: rec.Code, CodeName: rec.Code.String(), Data: recData, GasUsed: rec.GasUsed, Log: clipLog(rec.Log)},
		Simulated: TxOutcome{Code: sim.Code, CodeName: sim.Code.String(), Data: simData, GasUsed: sim.GasUsed, Log: clipLog(sim.Log)},
	})
}

// contractData is the contract's data inside a result's execution record, nil for a
// transaction rejected before execution (no record).
func contractData(data []byte) []byte {
	r, err := DecodeExecResult(data)
	if err != nil {
		return nil
	}
	return r.Data
}
