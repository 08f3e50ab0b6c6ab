// Package node assembles a vchain node: the app (store, runtime manager, executor, ABCI
// adapter) and, in embedded mode, CometBFT in the same process.
package node

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	cmttypes "github.com/cometbft/cometbft/types"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/spf13/viper"

	"github.com/vchain/vchain/abci"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/snapshot"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/keyring"
)

// App is the assembled application of one home.
type App struct {
	Store    *state.Store
	Runtimes *runtime.Manager
	Exec     *executor.Executor
	ABCI     *abci.App
	// Snapshots takes (every snapshot.interval heights), serves and restores state sync
	// snapshots, kept in data/snapshots.
	Snapshots *snapshot.Manager
}

// OpenApp opens the app store and runtime directory of a home.
func OpenApp(ctx context.Context, p home.Paths, c home.AppConfig, log cmtlog.Logger) (*App, error) {
	backend := dbm.GoLevelDBBackend
	if c.DBBackend == "pebble" {
		backend = dbm.PebbleDBBackend
	}
	db, err := dbm.NewDB("vchain", backend, p.Data())
	if err != nil {
		return nil, fmt.Errorf("open app store (%s) in %s: %w", c.DBBackend, p.Data(), err)
	}
	st, err := state.Open(db, state.WithKeepRecent(c.Pruning.KeepRecent))
	if err != nil {
		db.Close()
		return nil, err
	}
	rm, err := runtime.NewManager(ctx, p.Runtime(), c.RuntimeOptions()...)
	if err != nil {
		st.Close()
		return nil, err
	}
	ex, err := executor.New(st, rm, log.With("module", "vchain"))
	if err != nil {
		rm.Close(ctx)
		st.Close()
		return nil, err
	}
	sm, err := snapshot.NewManager(st, rm, filepath.Join(p.Data(), "snapshots"), c.Snapshot.Interval, c.Snapshot.KeepRecent, log.With("module", "snapshot"))
	if err != nil {
		rm.Close(ctx)
		st.Close()
		return nil, err
	}
	a := &App{Store: st, Runtimes: rm, Exec: ex, ABCI: abci.New(ex, log.With("module", "vchain")), Snapshots: sm}
	a.ABCI.SetSnapshots(sm)
	a.ABCI.SetOptimistic(c.Execution.Optimistic)
	return a, nil
}

// Close releases the app's store and runtimes.
func (a *App) Close(ctx context.Context) error {
	if a.Snapshots != nil {
		a.Snapshots.Wait() // a snapshot being written reads the store
	}
	rerr := a.Runtimes.Close(ctx)
	if err := a.Store.Close(); err != nil {
		return err
	}
	return rerr
}

// LoadCometConfig reads config/config.toml of a home into CometBFT's config, with any
// values bound in v (flags such as --rpc.laddr) taking precedence.
func LoadCometConfig(root string, v *viper.Viper) (*cmtcfg.Config, error) {
	cfg := cmtcfg.DefaultConfig()
	if v == nil {
		v = viper.New()
	}
	v.SetConfigFile(filepath.Join(root, "config", "config.toml"))
	v.SetConfigType("toml")
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("read CometBFT config: %w (run `vchaind init --home %s` first)", err, root)
	}
	if err := v.Unmarshal(cfg); err != nil {
		return nil, fmt.Errorf("parse CometBFT config: %w", err)
	}
	cfg.SetRoot(root)
	if err := cfg.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("CometBFT config: %w", err)
	}
	return cfg, nil
}

// NewComet builds an in-process CometBFT node serving app. Each ABCI connection gets its
// own lock, so queries and CheckTx keep answering while a block executes, and CheckTx and
// Query take none (NewConcurrentCheckClientCreator). With Prometheus on, the app's
// metrics join CometBFT's (EnableMetrics).
func NewComet(cfg *cmtcfg.Config, app *App, log cmtlog.Logger) (*nm.Node, error) {
	if err := EnableMetrics(cfg, app); err != nil {
		return nil, err
	}
	n, err := NewCometWithClient(cfg, NewConcurrentCheckClientCreator(app.ABCI), log)
	if err != nil {
		return nil, err
	}
	app.Exec.SetBlockSource(&cometBlocks{n: n}) // dry runs read the blocks in process
	return n, nil
}

// CheckKeyFiles refuses a home whose validator key or node key others can access (see
// keyring.CheckPrivate): CometBFT writes both 0600 but loads them whatever their mode. A
// node with a remote signer (priv_validator_laddr) has no validator key file to check.
func CheckKeyFiles(cfg *cmtcfg.Config) error {
	files := []string{cfg.NodeKeyFile()}
	if cfg.PrivValidatorListenAddr == "" {
		files = append(files, cfg.PrivValidatorKeyFile())
	}
	for _, f := range files {
		if err := keyring.CheckPrivate(f); err != nil {
			return fmt.Errorf("refusing to start: %w", err)
		}
	}
	return nil
}

// NewCometWithClient builds a CometBFT node of a home that reaches its app through cc (for
// example proxy.NewRemoteClientCreator for an app served over a socket).
func NewCometWithClient(cfg *cmtcfg.Config, cc proxy.ClientCreator, log cmtlog.Logger) (*nm.Node, error) {
	if err := CheckKeyFiles(cfg); err != nil {
		return nil, err
	}
	// With priv_validator_laddr set, CometBFT listens there for a remote signer and signs
	// through it (it waits a few seconds for the signer to dial in); the consensus key is
	// not on this machine, so there is no file to load.
	var pv cmttypes.PrivValidator
	if cfg.PrivValidatorListenAddr == "" {
		pv = privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	}
	nodeKey, err := p2p.LoadNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("load node key: %w", err)
	}
	if _, err := reindexTail(cfg, log); err != nil {
		return nil, fmt.Errorf("index the last blocks: %w", err)
	}
	n, err := nm.NewNode(cfg, pv, nodeKey,
		cc,
		nm.DefaultGenesisDocProviderFunc(cfg),
		dbProvider,
		nm.DefaultMetricsProvider(cfg.Instrumentation),
		log)
	if err != nil {
		return nil, fmt.Errorf("create CometBFT node: %w", err)
	}
	return n, nil
}

// Stop shuts a CometBFT node down without the v0.38 shutdown race: the consensus reactor's
// per-peer queryMaj23Routine may sleep (PeerQueryMaj23SleepDuration) and then read the
// block store without re-checking that the node still runs, so a plain Stop, which closes
// the stores, can panic the process with "leveldb: closed". Stopping the P2P switch first
// and waiting out one sleep period lets those routines see their stopped peer and return.
func Stop(n *nm.Node, log cmtlog.Logger) {
	if !n.IsRunning() {
		return
	}
	if sw := n.Switch(); sw != nil && sw.IsRunning() {
		if err := sw.Stop(); err != nil {
			log.Error("stop p2p switch", "err", err)
		}
		time.Sleep(n.Config().Consensus.PeerQueryMaj23SleepDuration + 200*time.Millisecond)
	}
	if err := n.Stop(); err != nil {
		log.Error("stop CometBFT", "err", err)
	}
	n.Wait()
}
