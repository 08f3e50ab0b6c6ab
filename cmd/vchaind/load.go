package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/loadgen"
)

func newLoadCmd(g *globals) *cobra.Command {
	var nodes []string
	var cfg loadgen.BenchConfig
	var kvstore bool
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Send a measured transaction load and report throughput, latency and block intervals",
		Long: `Send transactions from --senders senders (new keys, signed kv.set calls) through the
nodes' RPC, for --duration, at --rate transactions per second in total (0: as fast as the
nodes accept them). Sender i uses node i mod len(--nodes). Then wait for the accepted ones
to commit and report sent/accepted/committed/failed, committed tx/s, broadcast-to-commit
latency percentiles and block interval percentiles.

With --presign N each sender signs its first N transactions before the clock starts, so
a load tool on the nodes' own machine does not take their CPU to sign while it measures.

With --kvstore it sends plain "key=value" transactions to CometBFT's kvstore application,
so both apps are measured by the same tool.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(nodes) == 0 {
				nodes = []string{g.node}
			}
			for _, n := range nodes {
				c, err := client.New(n)
				if err != nil {
					return err
				}
				cfg.Clients = append(cfg.Clients, c)
			}
			if kvstore {
				cfg.Target = loadgen.KVStore
			} else {
				id, err := cfg.Clients[0].ChainID(cmd.Context())
				if err != nil {
					return err
				}
				cfg.ChainID = id
			}
			dir, err := os.MkdirTemp("", "vchain-load-keys")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			cfg.KeyDir = dir
			if g.output == "text" {
				cfg.Progress = func(sent, committed int, h int64) {
					fmt.Fprintf(cmd.ErrOrStderr(), "\rsent %d, committed %d, height %d   ", sent, committed, h)
				}
			}
			r, err := loadgen.Bench(cmd.Context(), cfg)
			if g.output == "text" {
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			if err != nil {
				return err
			}
			if err := newPrinter(cmd.OutOrStdout(), g).print(r,
				field{"sent / accepted / rejected", fmt.Sprintf("%d / %d / %d", r.Sent, r.Accepted, r.Rejected)},
				field{"committed / failed", fmt.Sprintf("%d / %d", r.Committed, r.Failed)},
				field{"committed tx/s", fmt.Sprintf("%.1f over %.1fs", r.CommittedTPS, r.Seconds)},
				field{"latency p50 / p90 / p99", fmt.Sprintf("%.0f / %.0f / %.0f ms", r.LatencyP50, r.LatencyP90, r.LatencyP99)},
				field{"block interval p50 / p99", fmt.Sprintf("%.0f / %.0f ms over %d blocks (%d..%d)", r.IntervalP50, r.IntervalP99, r.Blocks, r.FirstHeight, r.LastHeight)},
				field{"first error", r.FirstError},
			); err != nil {
				return err
			}
			if r.Failed > 0 {
				return &exitError{code: 2, err: fmt.Errorf("%d transactions failed", r.Failed)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&nodes, "nodes", nil, "RPC addresses to spread senders over (default: --node)")
	f.IntVar(&cfg.Senders, "senders", 16, "concurrent senders")
	f.Float64Var(&cfg.Rate, "rate", 0, "total tx/s (0: as fast as possible)")
	f.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long to send")
	f.DurationVar(&cfg.Drain, "drain", 30*time.Second, "how long to wait afterwards for commits")
	f.IntVar(&cfg.Presign, "presign", 0, "transactions each sender makes before the clock starts (then it signs as it sends)")
	f.BoolVar(&kvstore, "kvstore", false, "send kvstore transactions to a CometBFT kvstore network")
	return cmd
}
