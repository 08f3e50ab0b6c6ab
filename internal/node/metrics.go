package node

import (
	"fmt"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vchain/vchain/app/metrics"
)

// EnableMetrics registers the app's metrics on the registry CometBFT serves at
// [instrumentation] prometheus_listen_addr, when cfg turns Prometheus on, so one scrape
// returns CometBFT's series and vchain's (labelled, like CometBFT's, with the chain id).
// With Prometheus off it does nothing and the app records nothing.
func EnableMetrics(cfg *cmtcfg.Config, app *App) error {
	if !cfg.Instrumentation.IsPrometheusEnabled() {
		return nil
	}
	doc, err := cmttypes.GenesisDocFromFile(cfg.GenesisFile())
	if err != nil {
		return fmt.Errorf("metrics: read the chain id: %w", err)
	}
	m, err := metrics.New(prometheus.DefaultRegisterer, doc.ChainID, metrics.Sources{
		Pause:     app.Exec.PausedFor,
		Instances: app.Runtimes.InstanceStats,
	})
	if err != nil {
		return err
	}
	app.ABCI.SetMetrics(m)
	app.Store.OnSave(m.Saved)
	return nil
}
