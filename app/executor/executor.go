// Package executor is the block executor: it ties the store (app/state), the transaction
// rules (app/tx) and the runtime manager (app/runtime) into the state machine the ABCI
// adapter drives. It has no CometBFT types: the adapter translates.
//
// Life of a block: FinalizeBlock executes every transaction in order into a write set over
// the committed store and computes the app hash; Commit writes that set in one batch. Until
// Commit nothing is durable, so a crash at any point replays cleanly.
package executor

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/vchain/vchain/app/admission"
	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/internal/fault"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// Logger is the logging the executor needs; CometBFT's log.Logger satisfies it.
type Logger interface {
	Info(msg string, keyvals ...any)
	Error(msg string, keyvals ...any)
}

// SigCacheSize bounds the signature cache: four times CometBFT's default mempool, so its
// older half still holds what the mempool waits with when the newer half fills.
const SigCacheSize = 20_000

// Params are the chain parameters fixed at InitChain.
type Params struct {
	ChainID string `json:"chain_id"`
	// InitialHeight is the height of the first block (the genesis's initial_height).
	InitialHeight int64            `json:"initial_height"`
	App           genesis.AppState `json:"app_state"`
	// MaxBlockGas is CometBFT's consensus parameter block.max_gas, the bound on a block's
	// summed gas limits; 0 means no bound (CometBFT's -1). CometBFT shows consensus
	// parameters to the app only at InitChain and this app never updates block.max_gas (its
	// only update is the version), so the value InitChain received holds for the chain's
	// whole life; it is stored with the other parameters, so a restarted node enforces it.
	MaxBlockGas uint64 `json:"max_block_gas"`
	// PubKeyTypes are the validator key types of CometBFT's consensus parameters
	// (validator.pub_key_types), fixed at InitChain like block.max_gas: an added validator's
	// key must be one of them.
	PubKeyTypes []string `json:"pub_key_types"`
}

// DefaultPubKeyTypes are CometBFT's default validator.pub_key_types.
var DefaultPubKeyTypes = []string{upgrade.KeyTypeEd25519}

// Executor is the state machine. FinalizeBlock and Commit must be called from one
// goroutine (CometBFT's consensus connection); CheckTx, Query and the read accessors are
// safe to call concurrently with them.
type Executor struct {
	store    *state.Store
	runtimes *runtime.Manager
	log      Logger

	// commitMu orders Commit against the readers that need several committed values to
	// agree: a query's answer and the height it reports, Info's height and app hash. Commit
	// holds it exclusively while it writes the store and drops the genesis writes; QueryAt
	// and LastBlock hold it shared, so each sees one committed state throughout. Nothing
	// that holds it takes it again. FinalizeBlock never takes it (it does not change
	// committed state), nor does CheckTx (CometBFT's mempool lock keeps it off Commit).
	commitMu sync.RWMutex

	mu      sync.RWMutex
	params  *Params // nil before InitChain
	genesis *state.Cache
	pending *pendingBlock

	pool *admission.Pool // the mempool's nonces (check.go)
	sigs *tx.SigCache

	pause    pauseState
	fetch    fetchState // runtime.auto_fetch (autofetch.go)
	shutdown chan struct{}
	stopOnce sync.Once
	prep     sync.Mutex // one background preparation at a time

	dry dryRunState // the block source of dry runs (dryrun.go)
}

type pendingBlock struct {
	height  int64
	writes  *state.Cache
	appHash []byte
}

// New returns an executor over store and runtimes, loading the parameters stored at
// InitChain if the chain has started.
func New(store *state.Store, runtimes *runtime.Manager, log Logger) (*Executor, error) {
	e := &Executor{store: store, runtimes: runtimes, log: log, shutdown: make(chan struct{}),
		sigs: tx.NewSigCache(SigCacheSize), pool: admission.New()}
	raw, err := store.Get(state.KeyParams)
	if err != nil {
		return nil, err
	}
	if raw != nil {
		p, err := decodeParams(raw)
		if err != nil {
			return nil, fmt.Errorf("stored chain parameters are corrupt: %w", err)
		}
		e.params = p
	}
	return e, nil
}

// Height returns the last committed height.
func (e *Executor) Height() int64 { return e.store.Height() }

// NextHeight is the height of the next block: the genesis's initial height until the
// first block commits (a chain may start above 1), then the committed height plus one.
func (e *Executor) NextHeight() int64 {
	if h := e.store.Height(); h != 0 {
		return h + 1
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.params != nil {
		return e.params.InitialHeight
	}
	return 1
}

// AppHash returns the app hash of the last committed height.
func (e *Executor) AppHash() []byte { return e.store.AppHash() }

// LastBlock is the committed state as CometBFT's Info reports it.
type LastBlock struct {
	Height  int64
	AppHash []byte
	// AppVersion is the runtime version of the next block (the effective one, or the
	// pending one when it starts at the next height: that block's header carries it), 0 if
	// none is recorded. CometBFT checks it after a state sync restore.
	AppVersion uint64
}

// LastBlock returns the last committed height with its app hash and effective runtime
// version, all of one commit: read one by one while a block commits, they could pair a
// height with the next height's app hash, which a node comparing app hashes would take
// for a divergence.
func (e *Executor) LastBlock() LastBlock {
	e.commitMu.RLock()
	defer e.commitMu.RUnlock()
	lb := LastBlock{Height: e.store.Height(), AppHash: e.store.AppHash()}
	if next, _, err := e.NextRuntime(); err == nil {
		lb.AppVersion = next.Version
	}
	return lb
}

// Params returns the chain parameters, or nil before InitChain.
func (e *Executor) Params() *Params {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.params
}

// encodeParams is the stored form of p: protobuf (statev1.ChainParams), whose encoding of
// a given message is fixed, where encoding/json of a Go struct would change with a field's
// name, order or type. The stored bytes are hashed into the app hash.
func encodeParams(p *Params) ([]byte, error) {
	sum, err := runtime.ParseHash(p.App.Runtime.CodeSHA256)
	if err != nil {
		return nil, fmt.Errorf("runtime code_sha256: %w", err)
	}
	m := &statev1.ChainParams{
		ChainId:           p.ChainID,
		InitialHeight:     p.InitialHeight,
		Admins:            p.App.Admins,
		InstallThreshold:  &statev1.Fraction{Numerator: p.App.InstallThreshold.Num, Denominator: p.App.InstallThreshold.Den},
		Runtime:           &statev1.RuntimeVersion{Version: p.App.Runtime.Version, CodeSha256: sum[:], Profile: p.App.Runtime.Profile},
		MaxGasPerTx:       p.App.MaxGasPerTx,
		MaxBlockGas:       p.MaxBlockGas,
		PubKeyTypes:       p.PubKeyTypes,
		AdminThreshold:    p.App.AdminThreshold,
		ProposalExpiry:    p.App.ProposalExpiry,
		MigrationGasLimit: p.App.MigrationGasLimit,
	}
	for _, v := range p.App.Validators {
		m.Validators = append(m.Validators, &statev1.ValidatorOperator{Validator: v.Validator, Operator: v.Operator, Moniker: v.Moniker})
	}
	return m.Marshal()
}

// decodeParams reads what encodeParams wrote.
func decodeParams(raw []byte) (*Params, error) {
	var m statev1.ChainParams
	if err := m.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("decode chain parameters: %w", err)
	}
	if m.InstallThreshold == nil || m.Runtime == nil || len(m.Runtime.CodeSha256) != len(runtime.Hash{}) {
		return nil, errors.New("decode chain parameters: install threshold or runtime missing")
	}
	p := &Params{ChainID: m.ChainId, InitialHeight: m.InitialHeight, MaxBlockGas: m.MaxBlockGas, PubKeyTypes: m.PubKeyTypes, App: genesis.AppState{
		Admins:            m.Admins,
		AdminThreshold:    m.AdminThreshold,
		ProposalExpiry:    m.ProposalExpiry,
		InstallThreshold:  genesis.Fraction{Num: m.InstallThreshold.Numerator, Den: m.InstallThreshold.Denominator},
		Runtime:           genesis.RuntimeRef{Version: m.Runtime.Version, CodeSHA256: hex.EncodeToString(m.Runtime.CodeSha256), Profile: m.Runtime.Profile},
		MaxGasPerTx:       m.MaxGasPerTx,
		MigrationGasLimit: m.MigrationGasLimit,
	}}
	for _, v := range m.Validators {
		p.App.Validators = append(p.App.Validators, genesis.ValidatorOperator{Validator: v.Validator, Operator: v.Operator, Moniker: v.Moniker})
	}
	return p, nil
}

// GenesisValidator is a validator of the genesis, as CometBFT hands it to InitChain.
type GenesisValidator struct {
	Address string // CometBFT address, upper-case hex
	Power   int64
	// PubKeyType and PubKey are the consensus key ("ed25519"); a later add_validator with
	// the same key is refused.
	PubKeyType string
	PubKey     []byte
}

// NoMaxBlockGas is CometBFT's block.max_gas for "no bound".
const NoMaxBlockGas = -1

// InitChain records the genesis parameters, the validator set with its operators, and the
// initial effective runtime, and returns the genesis app hash. The writes are committed
// with the first block. maxBlockGas is the consensus parameter block.max_gas as CometBFT
// has it (NoMaxBlockGas for no bound); 0, which CometBFT allows, is refused: it admits no
// transaction (each asks at least 1 gas), so such a chain could never do anything.
func (e *Executor) InitChain(chainID string, initialHeight int64, appState []byte, validators []GenesisValidator, maxBlockGas int64) ([]byte, error) {
	return e.InitChainKeyTypes(chainID, initialHeight, appState, validators, maxBlockGas, nil)
}

// InitChainKeyTypes is InitChain with the consensus parameters' validator.pub_key_types
// (nil: DefaultPubKeyTypes).
func (e *Executor) InitChainKeyTypes(chainID string, initialHeight int64, appState []byte, validators []GenesisValidator, maxBlockGas int64, keyTypes []string) ([]byte, error) {
	if e.store.Height() != 0 {
		return nil, fmt.Errorf("init chain: the store already holds height %d", e.store.Height())
	}
	a, err := genesis.Parse(appState)
	if err != nil {
		return nil, err
	}
	if chainID == "" {
		return nil, errors.New("init chain: empty chain id")
	}
	if initialHeight < 1 {
		// CometBFT turns a genesis's 0 into 1 before calling InitChain; a direct caller
		// that passes 0 means the same.
		initialHeight = 1
	}
	var blockGas uint64
	switch {
	case maxBlockGas == NoMaxBlockGas:
	case maxBlockGas > 0:
		blockGas = uint64(maxBlockGas)
	default:
		return nil, fmt.Errorf("init chain: block.max_gas %d: must be -1 (no bound) or at least 1", maxBlockGas)
	}
	if len(keyTypes) == 0 {
		keyTypes = DefaultPubKeyTypes
	}
	p := &Params{ChainID: chainID, InitialHeight: initialHeight, App: *a, MaxBlockGas: blockGas, PubKeyTypes: keyTypes}
	raw, err := encodeParams(p)
	if err != nil {
		return nil, fmt.Errorf("encode chain parameters: %w", err)
	}
	h, _ := runtime.ParseHash(a.Runtime.CodeSHA256) // validated by Parse
	g := state.NewCache(e.store)
	g.Set(state.KeyParams, raw)
	k := upgrade.NewKeeper(g)
	if err := k.SetEffective(&statev1.EffectiveRuntime{Version: a.Runtime.Version, CodeSha256: h[:], SinceHeight: initialHeight, Profile: a.Runtime.Profile}); err != nil {
		return nil, err
	}
	// The genesis runtime is a release like any other, so a later downgrade can name it.
	if err := k.SetRelease(&statev1.Release{Version: a.Runtime.Version, CodeSha256: h[:], Note: "genesis", RegisteredHeight: initialHeight, Profile: a.Runtime.Profile}); err != nil {
		return nil, err
	}
	operators := map[string]genesis.ValidatorOperator{}
	for _, v := range a.Validators {
		operators[strings.ToUpper(v.Validator)] = v
	}
	var set []*statev1.Validator
	for _, v := range validators {
		op := operators[v.Address]
		set = append(set, &statev1.Validator{Address: v.Address, Power: v.Power, Operator: op.Operator, Moniker: op.Moniker,
			PubKeyType: v.PubKeyType, PubKey: v.PubKey, SinceHeight: initialHeight})
		if op.Operator == "" {
			e.log.Error("genesis validator has no operator in app_state.validators: it cannot attest installs", "validator", v.Address)
		}
	}
	if err := k.SetValidators(set); err != nil {
		return nil, err
	}
	if err := k.SetActiveValidators(set); err != nil {
		return nil, err
	}
	if err := k.SetAdminSet(&statev1.AdminSet{Admins: a.Admins, Threshold: a.AdminThreshold, ProposalExpiry: a.ProposalExpiry}); err != nil {
		return nil, err
	}
	// The write set is a map staged in key order: the genesis order of the entries
	// cannot matter.
	contractKeys := 0
	for c, kvs := range a.ContractState {
		for key, v := range kvs {
			g.Set(state.ContractKey(c, []byte(key)), []byte(v))
		}
		contractKeys += len(kvs)
	}
	p.App.ContractState = nil // in the state now; the parameters never held it
	// The genesis app hash is the state's root with the genesis records staged at the
	// first block's height (the trees' versions are heights); FinalizeBlock stages them
	// again with the first block's writes.
	hash, err := e.store.Stage(initialHeight, g)
	if err != nil {
		return nil, fmt.Errorf("init chain: %w", err)
	}

	e.mu.Lock()
	e.params, e.genesis = p, g
	e.mu.Unlock()
	e.log.Info("chain initialised", "chain_id", chainID, "initial_height", initialHeight,
		"runtime_version", a.Runtime.Version, "runtime_sha256", a.Runtime.CodeSHA256, "profile", a.Runtime.Profile, "admins", len(a.Admins), "max_block_gas", maxBlockGas, "genesis_contract_keys", contractKeys)
	return hash, nil
}

// committed is the state CheckTx and queries read: the committed store, seen through the
// genesis writes until the first block commits them.
func (e *Executor) committed() state.Reader {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.genesis != nil {
		return e.genesis
	}
	return e.store
}

// EffectiveRuntime returns the effective runtime recorded in committed state (or genesis).
func (e *Executor) EffectiveRuntime() (*statev1.EffectiveRuntime, error) {
	return upgrade.NewKeeper(state.NewCache(e.committed())).Effective()
}

// BlockResult is the outcome of FinalizeBlock.
type BlockResult struct {
	TxResults []TxResult
	// Events are block-level events (runtime_switched).
	Events  []abi.Event
	AppHash []byte
	// RuntimeVersion executed this block.
	RuntimeVersion uint64
	// NextAppVersion, when not zero, is the version the next block's header must carry:
	// a switch starts there.
	NextAppVersion uint64
	// ValidatorUpdates are the block's changes to the validator set, for CometBFT (in force
	// from height+2): one per changed validator in address order, power 0 removes.
	ValidatorUpdates []*statev1.Validator
}

// FinalizeBlock executes the block's transactions in order and returns their results and
// the new app hash. Nothing is durable until Commit. An error means the node cannot
// execute the block (its runtime is missing or its store failed): it must not vote on it.
func (e *Executor) FinalizeBlock(ctx context.Context, height int64, txs [][]byte) (*BlockResult, error) {
	e.mu.RLock()
	params, gen := e.params, e.genesis
	e.mu.RUnlock()
	if params == nil {
		return nil, errors.New("finalize block: chain parameters missing (InitChain was never run)")
	}
	if want := e.NextHeight(); height != want {
		return nil, fmt.Errorf("finalize block %d: the next height is %d", height, want)
	}
	writes := state.NewCache(e.store)
	if gen != nil {
		gen.WriteTo(writes)
	}
	res := &BlockResult{TxResults: make([]TxResult, len(txs))}
	k := upgrade.NewKeeper(writes)
	// A switch starting here runs its migration first, and is aborted if that fails
	// (migrate.go).
	sw, err := e.beginSwitch(ctx, height, writes, params)
	if err != nil {
		return nil, fmt.Errorf("finalize block %d: apply switch: %w", height, err)
	}
	res.Events = append(res.Events, sw.events...)
	if err := k.BeginBlockValidators(height); err != nil {
		return nil, fmt.Errorf("finalize block %d: validator set: %w", height, err)
	}
	valsBefore, err := k.Validators()
	if err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", height, err)
	}
	eff, err := k.Effective()
	if err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", height, err)
	}
	mod, err := e.loadOrPause(ctx, height, eff)
	if err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", height, err)
	}
	if sw.switched {
		e.log.Info("runtime switched", "height", height, "version", eff.Version, "sha256", fmt.Sprintf("%x", eff.CodeSha256))
	}
	sess := mod.NewSession()
	defer sess.Close(ctx)

	b := &blockRun{
		e: e, ctx: ctx, height: height, writes: writes, sess: sess, params: params,
		limits:  tx.Limits{ChainID: params.ChainID, MaxGasPerTx: params.App.MaxGasPerTx},
		version: strconv.FormatUint(eff.Version, 10), eff: eff,
	}
	res.RuntimeVersion = eff.Version
	for i, d := range tx.DecodeBlock(txs, b.limits, e.sigs) {
		if res.TxResults[i], err = b.deliver(d); err != nil {
			return nil, fmt.Errorf("finalize block %d, tx %d: %w", height, i, err)
		}
	}
	if next, ok, err := k.EndBlock(height); err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", height, err)
	} else if ok {
		res.NextAppVersion = next
	} else if sw.aborted {
		// This block's header carries the aborted version (announced at the block before):
		// the next one carries the version that executed.
		res.NextAppVersion = eff.Version
	}
	if res.ValidatorUpdates, err = k.EndBlockValidators(height, valsBefore); err != nil {
		return nil, fmt.Errorf("finalize block %d: validator updates: %w", height, err)
	}
	fault.Diverge(height, writes) // a faults build armed to diverge here changes one write
	if res.AppHash, err = e.store.Stage(height, writes); err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", height, err)
	}
	e.mu.Lock()
	e.pending = &pendingBlock{height: height, writes: writes, appHash: res.AppHash}
	e.mu.Unlock()
	return res, nil
}

// Commit commits the last finalized block: the next block and every query see it at once,
// and the store makes it durable in the background, atomically, in that a crash at any
// point reopens the store at this height or the one before (see state.Store.Commit).
func (e *Executor) Commit() (int64, error) {
	e.mu.RLock()
	p := e.pending
	e.mu.RUnlock()
	if p == nil {
		return 0, errors.New("commit: no finalized block")
	}
	e.commitMu.Lock()
	if err := e.store.Commit(p.height, p.appHash, p.writes); err != nil {
		e.commitMu.Unlock()
		return 0, err
	}
	e.mu.Lock()
	e.pending, e.genesis = nil, nil
	e.mu.Unlock()
	e.commitMu.Unlock()
	e.pool.Reset()
	e.preparePending()
	return p.height, nil
}

func (e *Executor) installedOrNil() []runtime.Installed {
	list, err := e.runtimes.List()
	if err != nil {
		e.log.Error("list installed runtimes", "err", err)
		return nil
	}
	return list
}
