package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	cmtlog "github.com/cometbft/cometbft/libs/log"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/node"
)

// cometRef holds the CometBFT node once it exists, so the auto_fetch Fetcher, set before
// (prepareRuntime may need it), asks its peers from then on.
type cometRef struct{ n atomic.Pointer[nm.Node] }

func (r *cometRef) Switch() *p2p.Switch {
	if n := r.n.Load(); n != nil {
		return n.Switch()
	}
	return nil
}

// autoFetcher returns the Fetcher runtime.auto_fetch asks for, set on the executor, or
// nil when it is off.
func autoFetcher(c home.AppConfig, app *node.App, comet *cometRef, log cmtlog.Logger) executor.Fetcher {
	if !c.Runtime.AutoFetch || c.ABCI == "socket" {
		return nil
	}
	f := node.AutoFetcher(comet.Switch, c.Runtime.FetchFromList(), app.Runtimes, log)
	app.Exec.SetFetcher(f)
	return f
}

// fetchBeforeStart is one auto_fetch attempt of prepareRuntime's wait, before CometBFT
// runs: only runtime.fetch_from can be asked then.
func fetchBeforeStart(ctx context.Context, fetch executor.Fetcher, version uint64, sha runtime.Hash, log cmtlog.Logger) {
	tried := time.Now()
	rep, err := fetch(ctx, version, sha)
	if err == nil {
		log.Info("auto_fetch: runtime fetched and installed before starting", "version", version, "from", rep.From,
			"tried_at", tried.UTC().Format(time.RFC3339), "peers", fmt.Sprint(rep.Peers))
		return
	}
	if len(rep.Peers) == 0 {
		err = fmt.Errorf("no address to ask: CometBFT, and so its peers, starts only once the runtime is here; set runtime.fetch_from in app.toml: %w", err)
	}
	log.Error("PAUSED before starting: auto_fetch could not get the runtime; trying again", "version", version,
		"tried_at", tried.UTC().Format(time.RFC3339), "peers", fmt.Sprint(rep.Peers), "retry_in", executor.FetchRetry.String(), "err", err)
}
