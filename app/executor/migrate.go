package executor

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/contracts/abi"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// Migrations at the switch. At a switch's start height, before the block's first
// transaction, the new version's migration runs once (runtime.Session.Migrate) under the
// chain's migration_gas_limit, in a write set over the block's. On success its writes join
// the block and the switch applies as before; on failure they are dropped, the switch is
// aborted at that height (upgrade.Keeper.AbortSwitch) and the block executes with the
// previous version. Both outcomes are functions of the chain's records only, so every node
// reaches the same one.

// KeyIterator lists the keys under a prefix in key order: the state a migration's write
// set lies over (*state.Store for a block; a dry run may pass a historical version).
type KeyIterator interface {
	Iterate(prefix []byte, fn func(key, value []byte) bool) error
}

// MigrationOutcome is what runMigration did.
type MigrationOutcome struct {
	// Ran says whether the module has a migration; without one nothing ran.
	Ran bool `json:"ran"`
	// From is the version the migration was asked to migrate from; To the module's.
	From uint64 `json:"from_version"`
	To   uint64 `json:"version"`
	// GasUsed is the migration's gas, all contracts together.
	GasUsed uint64 `json:"gas_used"`
	// KeysChanged counts the keys whose value the migration changed (set to another
	// value, created, or deleted). 0 after a failure: nothing remains.
	KeysChanged int `json:"keys_changed"`
	// Contracts are the contracts the module migrates, in order.
	Contracts []string `json:"contracts,omitempty"`
	// Events are the contracts' events (type prefixed with the contract's name).
	Events []abi.Event `json:"events,omitempty"`
	// Err is the failure, nil on success; Failed names the contract that failed ("" when
	// the module's list of migrations did).
	Err    *codes.Error `json:"error,omitempty"`
	Failed string       `json:"failed_contract,omitempty"`
}

// Reason is the failure in deterministic words, for the chain's records: the contract,
// the code's name, and the contract's own message for a returned error or an abort (never
// the engine's text for a trap, which could differ between builds of the node).
func (o *MigrationOutcome) Reason() string {
	if o.Err == nil {
		return ""
	}
	who := o.Failed
	if who == "" {
		who = "migration list"
	}
	r := who + ": " + o.Err.Code.String()
	if o.Err.Code == codes.ContractError || o.Err.Code == codes.ContractAbort {
		msg := o.Err.Msg
		if len(msg) > maxReason {
			msg = strings.ToValidUTF8(msg[:maxReason], "")
		}
		r += ": " + msg
	}
	return r
}

// maxReason bounds the contract's message kept in an aborted switch's record.
const maxReason = 256

// migrationGasLimit is the chain's bound on a migration; 0 (parameters stored before the
// field existed) means the default.
func migrationGasLimit(p *Params) uint64 {
	if p.App.MigrationGasLimit == 0 {
		return genesis.DefaultMigrationGasLimit
	}
	return p.App.MigrationGasLimit
}

// runMigration runs mod's migration from version from, as block height would, with at most
// gasLimit gas. Its writes go into a write set over writes; base is the state writes lies
// over, from which (merged with writes' own) each contract's keys are listed. On success
// the migration's writes are applied to writes; on failure (outcome.Err set) writes is
// left as it was. The error is a node failure only (the store could not be read).
//
// It is the one migration step: FinalizeBlock calls it at a switch's start height with the
// block's write set over the store; a dry run may call it on a scratch write set over a
// historical version, which changes nothing else.
func (e *Executor) runMigration(ctx context.Context, mod *runtime.Module, writes *state.Cache, base KeyIterator,
	from uint64, height int64, gasLimit uint64) (MigrationOutcome, error) {
	out := MigrationOutcome{From: from, To: mod.Version}
	mig := state.NewCache(writes)
	var nodeErr error
	env := func(contract string) runtime.KeyEnv {
		return &migrationEnv{contractEnv: contractEnv{writes: mig, contract: contract, height: height}, base: base, block: writes, fail: &nodeErr}
	}
	sess := mod.NewSession()
	defer sess.Close(ctx)
	res, err := sess.Migrate(ctx, env, from, gasLimit)
	if err == nil {
		err = nodeErr
	}
	if err != nil {
		return out, fmt.Errorf("migration of runtime v%d: %w", mod.Version, err)
	}
	out.Ran, out.GasUsed, out.Contracts, out.Err, out.Failed = res.Exported, res.GasUsed, res.Contracts, res.Err, res.Failed
	if res.Err != nil {
		return out, nil
	}
	out.Events = res.Events
	for _, w := range mig.Sorted() {
		old, err := writes.Get(w.Key)
		if err != nil {
			return out, fmt.Errorf("migration of runtime v%d: %w", mod.Version, err)
		}
		if w.Deleted && old != nil || !w.Deleted && (old == nil || !bytes.Equal(old, w.Value)) {
			out.KeysChanged++
		}
	}
	mig.WriteTo(writes)
	return out, nil
}

// migrationEnv is the runtime.KeyEnv of one contract's migration: its namespace in the
// migration's write set, with the contract's keys listed once, on first use, as they were
// when its migration began.
type migrationEnv struct {
	contractEnv
	base  KeyIterator
	block *state.Cache // the write set the migration's lies over
	keys  [][]byte     // nil until listed
	fail  *error
}

func (m *migrationEnv) Next(after []byte) ([]byte, bool, error) {
	if m.keys == nil {
		keys, err := m.list()
		if err != nil {
			*m.fail = err
			return nil, false, err
		}
		m.keys = keys
	}
	i := sort.Search(len(m.keys), func(i int) bool { return bytes.Compare(m.keys[i], after) > 0 })
	if i == len(m.keys) {
		return nil, false, nil
	}
	return m.keys[i], true, nil
}

// list returns the contract's keys (without its prefix) in the state the migration began
// from: the base's, with the block's own writes under the prefix applied over them, and the
// migration's writes so far (an earlier contract's cannot touch this namespace).
func (m *migrationEnv) list() ([][]byte, error) {
	prefix := state.ContractPrefix(m.contract)
	present := map[string]bool{}
	err := m.base.Iterate(prefix, func(k, _ []byte) bool {
		present[string(k[len(prefix):])] = true
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("list the keys of contract %s: %w", m.contract, err)
	}
	for _, c := range []*state.Cache{m.block, m.writes} {
		for _, w := range c.Sorted() {
			if bytes.HasPrefix(w.Key, prefix) {
				present[string(w.Key[len(prefix):])] = !w.Deleted
			}
		}
	}
	keys := make([][]byte, 0, len(present))
	for k, ok := range present {
		if ok {
			keys = append(keys, []byte(k))
		}
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	return keys, nil
}

// switchStart is what beginSwitch did at a block's start.
type switchStart struct {
	events []abi.Event
	// switched is set when a switch applied (the new version executes the block);
	// aborted when its migration failed (the previous version does).
	switched, aborted bool
}

// beginSwitch applies the switch pending for height, if any, after running the new
// version's migration from the effective one: the block's first step (see the top of this
// file). It pauses, as the block would, while the new version is not installed.
func (e *Executor) beginSwitch(ctx context.Context, height int64, writes *state.Cache, params *Params) (switchStart, error) {
	var out switchStart
	k := upgrade.NewKeeper(writes)
	p, err := k.Pending()
	if err != nil || p == nil || p.StartHeight > height {
		return out, err
	}
	prev, err := k.Effective()
	if err != nil {
		return out, err
	}
	mod, err := e.loadOrPause(ctx, height, &statev1.EffectiveRuntime{Version: p.Version, CodeSha256: p.CodeSha256, SinceHeight: height, Profile: p.Profile})
	if err != nil {
		return out, err
	}
	began := time.Now() // for the log only
	mig, err := e.runMigration(ctx, mod, writes, e.store, prev.Version, height, migrationGasLimit(params))
	took := time.Since(began).Round(time.Millisecond)
	if err != nil {
		return out, err
	}
	if mig.Err != nil {
		ev, err := k.AbortSwitch(height, &statev1.AbortedSwitch{FromVersion: prev.Version, Code: uint32(mig.Err.Code), GasUsed: mig.GasUsed, Reason: mig.Reason()})
		if err != nil {
			return out, err
		}
		e.log.Error("RUNTIME SWITCH ABORTED: the new version's migration failed; the chain keeps the previous version",
			"height", height, "version", p.Version, "kept_version", prev.Version, "gas_used", mig.GasUsed, "contract", mig.Failed, "err", mig.Err.Error(), "took", took)
		out.events, out.aborted = []abi.Event{*ev}, true
		return out, nil
	}
	switched, err := k.BeginBlock(height)
	if err != nil || switched == nil {
		return out, err
	}
	out.switched, out.events = true, []abi.Event{*switched}
	if mig.Ran {
		out.events = append(out.events, abi.Event{Type: upgrade.EventRuntimeMigrated, Attrs: []abi.Attr{
			{Key: "version", Value: strconv.FormatUint(p.Version, 10)},
			{Key: "code_sha256", Value: hex.EncodeToString(p.CodeSha256)},
			{Key: "height", Value: strconv.FormatInt(height, 10)},
			{Key: "from_version", Value: strconv.FormatUint(prev.Version, 10)},
			{Key: "gas_used", Value: strconv.FormatUint(mig.GasUsed, 10)},
			{Key: "keys_changed", Value: strconv.Itoa(mig.KeysChanged)},
			{Key: "contracts", Value: strings.Join(mig.Contracts, ",")},
		}})
		out.events = append(out.events, mig.Events...)
		e.log.Info("runtime migrated", "height", height, "version", p.Version, "from_version", prev.Version,
			"gas_used", mig.GasUsed, "keys_changed", mig.KeysChanged, "contracts", strings.Join(mig.Contracts, ","), "took", took)
	}
	return out, nil
}
