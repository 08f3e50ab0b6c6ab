package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	abciserver "github.com/cometbft/cometbft/abci/server"
	cmtflags "github.com/cometbft/cometbft/libs/cli/flags"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/internal/console"
	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/node"
)

// nodeGCPercent is the node's GOGC unless the environment sets one: the heap is mostly
// the state tree's node cache, which every collection marks again, and with a large
// state Go's default of 100 spends a large share of the node's CPU doing so.
const nodeGCPercent = 300

// steadyGC raises the collector to nodeGCPercent once the node holds a saved block. Until
// then it may be importing a genesis state (InitChain, then the first block, whose save
// makes it durable), whose peak heap is mostly garbage: with 10^6 keys, 6.3 GiB per node at
// GOGC=300 against 3.8 GiB at Go's default, which is where it stays for the import.
func steadyGC(ctx context.Context, app *node.App) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for app.Exec.Height() == 0 {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	if app.Store.WaitSaved() == nil {
		debug.SetGCPercent(nodeGCPercent)
		// The last collection ran during the import, when its garbage was still live, and
		// the next one comes when the heap reaches nodeGCPercent over that: without this,
		// a node that imported 10^6 keys would hold its import peak for good and grow on
		// from there. Collecting now sets the goal from the heap the node keeps.
		debug.FreeOSMemory()
	}
}

// cometFlags are CometBFT settings that start accepts as flags, named as in config.toml.
var cometFlags = []struct{ name, usage string }{
	{"moniker", "node name"},
	{"log_level", `log level, e.g. "info" or "consensus:debug,*:info"`},
	{"p2p.laddr", "P2P listen address"},
	{"p2p.persistent_peers", "comma-separated ID@host:port peers to stay connected to"},
	{"p2p.seeds", "comma-separated ID@host:port seed nodes"},
	{"rpc.laddr", "RPC listen address"},
}

func newStartCmd(g *globals) *cobra.Command {
	appV, cometV := viper.New(), viper.New()
	cmd := &cobra.Command{
		Use:         "start",
		Annotations: offline,
		Short:       "Run the node (CometBFT embedded), or only the app for an external cometbft",
		Long: `Run the node of --home until SIGINT or SIGTERM.

CometBFT reads config/config.toml as usual; the flags below override it. App settings come
from config/app.toml, overridden by VCHAIN_* environment variables, then by flags.

With --abci socket, only the ABCI app runs, listening on --abci-address for an external
'cometbft node --home DIR --proxy_app tcp://127.0.0.1:26658'.

With console.laddr set in app.toml (or --console-laddr), a read-only web console of this
node is served there: validators and readiness, the runtime timeline, this node's state
(and, when paused, what to install), recent blocks. It reads the node's RPC (rpc.laddr).

Unless GOGC is set in the environment, the node runs Go's collector at GOGC=300 (Go's
default is 100) once it holds a saved block: most of its heap is the state tree's node
cache, long-lived and full of pointers, which each collection marks again. Before that
(importing a genesis state) it runs at Go's default, to keep the import's peak memory
down. Set GOGC=100 to trade throughput for a smaller heap.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := home.Paths{Root: g.home}
			appCfg, err := home.LoadAppConfig(appV, p.AppConfig())
			if err != nil {
				return err
			}
			cfg, err := node.LoadCometConfig(g.home, cometV)
			if err != nil {
				return err
			}
			if appCfg.ABCI != "socket" { // with an external cometbft, it reads the keys
				if err := node.CheckKeyFiles(cfg); err != nil {
					return err
				}
			}
			logger, err := cmtflags.ParseLogLevel(cfg.LogLevel, cmtlog.NewTMLogger(cmtlog.NewSyncWriter(os.Stdout)), "info")
			if err != nil {
				return fmt.Errorf("--log_level: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if appCfg.Console.Laddr != "" {
				// Up before the node, so a node waiting for a runtime before its RPC
				// exists still has a page that says the RPC is not answering yet.
				addr, err := console.Serve(ctx, appCfg.Console.Laddr, cfg.RPC.ListenAddress, logger.With("module", "console"))
				if err != nil {
					return err
				}
				logger.Info("console serving (read-only)", "url", "http://"+addr+"/")
			}
			app, err := node.OpenApp(ctx, p, appCfg, logger)
			if err != nil {
				return err
			}
			defer app.Close(context.Background())
			if os.Getenv("GOGC") == "" {
				go steadyGC(ctx, app)
			}
			app.Exec.SetMempoolLimit(cfg.Mempool.Size)
			comet := &cometRef{}
			fetch := autoFetcher(appCfg, app, comet, logger.With("module", "vchain"))
			if err := prepareRuntime(ctx, app, logger, fetch); err != nil {
				return err
			}
			if appCfg.ABCI == "socket" {
				if appCfg.Runtime.AutoFetch {
					logger.Error("runtime.auto_fetch is ignored with --abci socket: the app does not see the external cometbft's peers")
				}
				return serveSocket(ctx, app, appCfg.ABCIAddress, logger)
			}
			watch := node.WatchConsensus(logger)
			cometLog := node.FilterShutdown(watch)
			n, err := node.NewComet(cfg, app, cometLog)
			if err != nil {
				return err
			}
			comet.n.Store(n) // auto_fetch asks its peers from now on
			if err := n.Start(); err != nil {
				return fmt.Errorf("start CometBFT: %w", err)
			}
			logger.Info("vchain node started", "home", g.home, "rpc", cfg.RPC.ListenAddress, "height", app.Exec.Height())
			var failed error
			select {
			case <-ctx.Done():
				logger.Info("shutting down")
			case <-watch.Failed():
				// Consensus is gone for good (CometBFT logged why just above); a process
				// that stayed up would look alive while never signing again.
				failed = fmt.Errorf("%w: this node stopped; fix the cause (a full or read-only data directory, a runtime module that does not match the chain) and restart it: it resumes from its last committed block", watch.Err())
				logger.Error("STOPPING: consensus failed", "err", failed)
			}
			app.Exec.Shutdown() // a block waiting for a runtime gives up, so consensus can stop
			cometLog.Stopping()
			node.Stop(n, logger)
			return failed
		},
	}
	f := cmd.Flags()
	f.String("abci", "embedded", `"embedded" (CometBFT in this process) or "socket" (serve the app to an external cometbft)`)
	f.String("abci-address", "tcp://127.0.0.1:26658", "listen address in socket mode")
	f.String("db-backend", "pebble", "app store backend: pebble or goleveldb")
	_ = appV.BindPFlag("abci", f.Lookup("abci"))
	_ = appV.BindPFlag("abci_address", f.Lookup("abci-address"))
	_ = appV.BindPFlag("db_backend", f.Lookup("db-backend"))
	f.Int64("pruning-keep-recent", state.DefaultKeepRecent, "recent heights of state kept for queries and proofs; 0 keeps all, else at least 2 (app.toml pruning.keep_recent)")
	_ = appV.BindPFlag("pruning.keep_recent", f.Lookup("pruning-keep-recent"))
	f.String("console-laddr", "", `serve the read-only web console at host:port (e.g. 127.0.0.1:26670; ":port" binds 127.0.0.1); overrides console.laddr of app.toml; empty: off`)
	_ = appV.BindPFlag("console.laddr", f.Lookup("console-laddr"))
	f.Int64("snapshot-interval", 0, "take a state sync snapshot every this many heights; 0: none (app.toml snapshot.interval)")
	_ = appV.BindPFlag("snapshot.interval", f.Lookup("snapshot-interval"))
	for _, cf := range cometFlags {
		f.String(cf.name, "", cf.usage)
		_ = cometV.BindPFlag(cf.name, f.Lookup(cf.name))
	}
	return cmd
}

// prepareRuntime runs before CometBFT starts (and so before its handshake replays
// anything): it lists every version of the on-chain history this node lacks, then makes
// sure the runtime of the next block is installed and compiled. If it is missing the node
// waits here, saying what to install, because CometBFT's handshake would otherwise block
// inside the node's construction, before RPC and P2P exist. A module whose bytes differ
// from the chain's record stops the node: it must never sign another app hash.
func prepareRuntime(ctx context.Context, app *node.App, log cmtlog.Logger, fetch executor.Fetcher) error {
	if app.Exec.Params() == nil {
		return nil // a new chain: InitChain records the runtime
	}
	missing, err := app.Exec.Missing()
	if err != nil {
		return err
	}
	for _, m := range missing {
		log.Error("runtime version of the chain's history is not installed on this node",
			"version", m.Version, "sha256", m.CodeSHA256, "install", app.Exec.InstallHint(m.Version))
	}
	profiles, err := app.Exec.MissingProfiles()
	if err != nil {
		return err
	}
	for _, p := range profiles {
		log.Error("an execution profile of the chain's history is newer than this vchaind: it will pause there",
			"profile", p, "known", fmt.Sprintf("1..%d", profile.Latest()), "fix", "upgrade vchaind")
	}
	next, nextProfile, err := app.Exec.NextRuntime()
	if err != nil {
		return err
	}
	want, err := runtime.ParseHash(next.CodeSHA256)
	if err != nil {
		return err
	}
	for logged := false; !profile.Knows(nextProfile); logged = true {
		if !logged {
			log.Error(fmt.Sprintf("PAUSED before starting: this vchaind knows profiles 1..%d; release v%d needs profile %d: upgrade vchaind",
				profile.Latest(), next.Version, nextProfile), "height", app.Exec.Height()+1)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped while waiting: runtime v%d needs execution profile %d, this vchaind knows 1..%d", next.Version, nextProfile, profile.Latest())
		case <-time.After(time.Second):
		}
	}
	prof, err := profile.Get(nextProfile)
	if err != nil {
		return err
	}
	var lastFetch time.Time
	for logged := false; ; logged = true {
		_, err = app.Runtimes.Load(ctx, next.Version, want, prof)
		if !errors.Is(err, runtime.ErrNotInstalled) {
			break
		}
		if !logged {
			log.Error("PAUSED before starting: the next block needs a runtime this node has not installed; waiting for it",
				"height", app.Exec.Height()+1, "version", next.Version, "sha256", next.CodeSHA256, "install", app.Exec.InstallHint(next.Version),
				"auto_fetch", fetch != nil)
		}
		if fetch != nil && time.Since(lastFetch) >= executor.FetchRetry {
			lastFetch = time.Now()
			fetchBeforeStart(ctx, fetch, next.Version, want, log)
			continue // installed, or not: look again now
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped while waiting for runtime v%d", next.Version)
		case <-time.After(time.Second):
		}
	}
	if errors.Is(err, runtime.ErrHashMismatch) {
		return fmt.Errorf("runtime v%d: %w; remove that file and install the module the chain expects: %s", next.Version, err, app.Exec.InstallHint(next.Version))
	}
	if err != nil {
		return fmt.Errorf("runtime v%d: %w", next.Version, err)
	}
	log.Info("runtime ready", "version", next.Version, "sha256", next.CodeSHA256, "profile", nextProfile, "height", app.Exec.Height()+1)
	return nil
}

func serveSocket(ctx context.Context, app *node.App, addr string, log cmtlog.Logger) error {
	srv := abciserver.NewSocketServer(addr, app.ABCI)
	srv.SetLogger(log.With("module", "abci-server"))
	if err := srv.Start(); err != nil {
		return fmt.Errorf("serve ABCI on %s: %w", addr, err)
	}
	log.Info("vchain app serving ABCI over a socket", "address", addr, "height", app.Exec.Height())
	<-ctx.Done()
	log.Info("shutting down")
	return srv.Stop()
}
