package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vchain/vchain/internal/localnet"
)

func newTestnetCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:         "testnet",
		Annotations: offline,
		Short:       "Create and run a multi-node network of real vchaind processes on this machine",
		Long: `A testnet is a directory with one home per node, a shared genesis and a manifest
(testnet.json). Each node runs as its own vchaind process with its own log and PID file.

  vchaind testnet init --validators 4 --output .localnet/testnet
  vchaind testnet start .localnet/testnet
  vchaind testnet status .localnet/testnet --watch 1s
  vchaind testnet stop .localnet/testnet

The admin key is in the keyring of node0: pass --home DIR/node0 to the client commands
(they dial the RPC address in that home's config, tcp://127.0.0.1:26601 by default).`,
	}
	cmd.AddCommand(newTestnetInitCmd(g), newTestnetStartCmd(g), newTestnetStopCmd(g), newTestnetStatusCmd(g))
	return cmd
}

func newTestnetInitCmd(g *globals) *cobra.Command {
	var o localnet.Options
	var out, runtimePath string
	cmd := &cobra.Command{
		Use:   "init --validators N [--full-nodes M] --output DIR",
		Short: "Create a testnet: homes, shared genesis, ports, peers, keys",
		Long: `Create one home per node under DIR with a shared genesis (admin, install threshold,
runtime v1 and its sha256), distinct ports (node i: base+10i for p2p, +1 RPC, +2 ABCI,
+3 metrics, +4 the read-only web console on 127.0.0.1), every node peered with every other, each validator's operator key registered
in the genesis, and the admin key in the keyring of node0. The keyrings use the test backend
(plain files, config/client.toml says so): a testnet is for testing.

With --hosts h0,h1,... (one per node) the nodes listen on all interfaces and reach each
other at those hosts: copy DIR/nodeI to machine hI and run 'vchaind start --home DIR/nodeI'
there. With --docker, the hosts are the service names (node0, node1...), as the
docker-compose.yml at the repository root expects.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--output DIR is required")
			}
			wasm, err := readRuntime(&runtimePath)
			if err != nil {
				return err
			}
			o.Runtime = wasm
			if g.output == "text" {
				o.Progress = func(s string) { fmt.Fprintln(cmd.ErrOrStderr(), s) }
			}
			m, err := localnet.Init(cmd.Context(), out, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: keyring backend test: the keys of every node in %s are unencrypted files; use it for test networks only\n", out)
			// --output is this command's directory, so there is no JSON form: testnet.json is it.
			fmt.Fprintf(cmd.OutOrStdout(), "testnet %s in %s: %d nodes\nnext: vchaind testnet start %s\n", m.ChainID, m.Dir(), len(m.Nodes), out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Validators, "validators", 4, "number of validators")
	f.IntVar(&o.FullNodes, "full-nodes", 0, "number of full nodes (not in the validator set)")
	f.StringVar(&out, "output", "", "directory to create (required)")
	f.StringVar(&o.ChainID, "chain-id", "vchain-testnet", "chain id")
	f.IntVar(&o.BasePort, "base-port", 26600, "first port; node i uses base+10i .. base+10i+4 (p2p, rpc, abci, metrics, console)")
	f.DurationVar(&o.TimeoutCommit, "timeout-commit", 0, "CometBFT timeout_commit (default: CometBFT's 1s)")
	f.BoolVar(&o.Docker, "docker", false, "lay out for the repository's docker-compose.yml (listen on 0.0.0.0, peers by service name)")
	f.StringSliceVar(&o.Hosts, "hosts", nil, "one host or IP per node, for a network across machines (nodes listen on 0.0.0.0)")
	f.StringVar(&runtimePath, "runtime", "", "runtime v1 module (default: build/contracts/v1.wasm)")
	f.Int64Var(&o.SnapshotInterval, "snapshot-interval", 100, "every node takes a state sync snapshot every this many heights (app.toml snapshot.interval); 0: none")
	return cmd
}

func newTestnetStartCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "start DIR [NODE...]",
		Short: "Start every node (or the named ones) as its own process and wait until each answers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, nodes, err := pick(args)
			if err != nil {
				return err
			}
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			for _, n := range nodes {
				pid, err := m.StartNode(bin, n)
				if err != nil {
					return err
				}
				console := ""
				if u := n.ConsoleURL(); u != "" {
					console = ", console " + u
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: started, pid %d, rpc %s%s, log %s/%s\n", n.Name, pid, n.RPCAddr(), console, m.HomeOf(n), localnet.LogFile)
			}
			for _, n := range nodes {
				if err := m.WaitRPC(cmd.Context(), n, timeout); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d nodes answering; watch them with: vchaind testnet status %s --watch 1s\n", len(nodes), args[0])
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for each node's RPC")
	return cmd
}

func newTestnetStopCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "stop DIR [NODE...]",
		Short: "Stop every node (or the named ones): SIGTERM, then SIGKILL after --timeout",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, nodes, err := pick(args)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				pid, running := m.PID(n)
				if err := m.StopNode(n, timeout); err != nil {
					return err
				}
				if running {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: stopped (pid %d)\n", n.Name, pid)
				}
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Second, "grace period before SIGKILL")
	return cmd
}

func newTestnetStatusCmd(g *globals) *cobra.Command {
	var watch time.Duration
	cmd := &cobra.Command{
		Use:   "status DIR",
		Short: "A table of every node: height, app hash, runtime version, paused, peers (--watch to refresh)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := localnet.Load(args[0])
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			for {
				st := m.StatusAll(ctx, 2*time.Second)
				if g.output == "json" {
					if err := newPrinter(cmd.OutOrStdout(), g).print(st); err != nil {
						return err
					}
				} else {
					if watch > 0 {
						fmt.Fprint(cmd.OutOrStdout(), "\033[H\033[2J")
						fmt.Fprintf(cmd.OutOrStdout(), "%s  (every %s, Ctrl-C to stop)\n", time.Now().Format("15:04:05"), watch)
					}
					printTestnetStatus(cmd.OutOrStdout(), st)
				}
				if watch == 0 {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(watch):
				}
			}
		},
	}
	cmd.Flags().DurationVar(&watch, "watch", 0, "refresh every interval until Ctrl-C")
	return cmd
}

func printTestnetStatus(w io.Writer, st []localnet.Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPID\tHEIGHT\tAPP HASH\tRUNTIME\tPAUSED\tPEERS\tNOTE")
	for _, s := range st {
		pid, paused, hash := "-", "no", s.AppHash
		if s.Local {
			pid = fmt.Sprint(s.PID)
		}
		if s.Paused {
			paused = fmt.Sprintf("YES (needs v%d)", s.PausedFor)
		}
		if len(hash) > 16 {
			hash = hash[:16]
		}
		note := s.Err
		switch {
		case !s.Up:
			note = "not running"
		case s.CatchingUp:
			note = "catching up"
		case !s.Local && note == "":
			note = "no local process (a container or another host)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\tv%d\t%s\t%d\t%s\n", s.Name, pid, s.Height, hash, s.Runtime, paused, s.Peers, note)
	}
	tw.Flush()
}

// pick loads the testnet of args[0] and returns the nodes named by args[1:] (all when none).
func pick(args []string) (*localnet.Manifest, []localnet.Node, error) {
	m, err := localnet.Load(args[0])
	if err != nil {
		return nil, nil, err
	}
	if len(args) == 1 {
		return m, m.Nodes, nil
	}
	var out []localnet.Node
	for _, name := range args[1:] {
		n, ok := m.Node(name)
		if !ok {
			return nil, nil, fmt.Errorf("no node %q in this testnet", name)
		}
		out = append(out, n)
	}
	return m, out, nil
}
