package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/internal/client"
)

// DefaultSimulateBlocks is how many recent blocks `upgrade simulate` re-executes by
// default and `upgrade schedule` re-executes for its summary.
const DefaultSimulateBlocks = 20

func newSimulateCmd(g *globals) *cobra.Command {
	var blocks int64
	cmd := &cobra.Command{
		Use:   "simulate VERSION [--blocks N]",
		Short: "Dry run: re-execute the last N blocks with VERSION on the node and report what would differ",
		Long: `Re-execute the last N blocks with the registered VERSION, read-only, inside the node of
--home (or --node), which must have VERSION installed: the node takes its state of height
latest-N, runs VERSION's migration (if any), then executes the blocks' transactions with
VERSION into a scratch copy that is dropped. Nothing touches its committed state or
consensus.

It reports the migration's gas and the number of keys it changed, every transaction whose
code, result data or gas used would differ from what the chain recorded (height, index,
hash, recorded vs simulated), and totals. N is at most the node's kept history
(pruning.keep_recent minus one). A node runs one dry run at a time and bounds it to 8
seconds: past that it fails and says to ask for fewer blocks.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			version, err := parseVersion(args[0])
			if err != nil {
				return err
			}
			if blocks <= 0 {
				return fmt.Errorf("--blocks %d: want 1 or more", blocks)
			}
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			rep, err := c.DryRun(cmd.Context(), version, blocks, false)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return newPrinter(cmd.OutOrStdout(), g).print(rep)
			}
			printDryRun(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	cmd.Flags().Int64Var(&blocks, "blocks", DefaultSimulateBlocks, "how many of the last blocks to re-execute")
	return cmd
}

// dryRunSummary is the one line `upgrade schedule` prints before sending.
func dryRunSummary(r *executor.DryRunReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dry run of v%d over blocks %d..%d (%d txs): %d would differ (code %d, data %d, gas %d), gas used %d -> %d",
		r.Version, r.BaseHeight+1, r.LastHeight, r.Txs, r.DifferingTxs, r.DifferCode, r.DifferData, r.DifferGas,
		r.GasUsedRecorded, r.GasUsedSimulated)
	b.WriteString("; migration: ")
	b.WriteString(migrationText(r))
	return b.String()
}

func migrationText(r *executor.DryRunReport) string {
	switch m := r.Migration; {
	case m == nil:
		return fmt.Sprintf("none (v%d is already effective)", r.Version)
	case !m.Ran:
		return fmt.Sprintf("none (v%d exports no migration)", r.Version)
	case m.Error != "":
		return fmt.Sprintf("FAILS after %d gas, the switch would abort: %s", m.GasUsed, m.Error)
	default:
		return fmt.Sprintf("%d gas, %d keys changed (from v%d)", m.GasUsed, m.KeysChanged, r.FromVersion)
	}
}

func printDryRun(w io.Writer, r *executor.DryRunReport) {
	fmt.Fprintf(w, "candidate:  v%d (sha256 %s, profile %d), effective at the start: v%d\n", r.Version, r.CodeSHA256, r.Profile, r.FromVersion)
	fmt.Fprintf(w, "blocks:     %d..%d (%d blocks from the state of height %d), %d txs, %d ms (%.1f blocks/s)\n",
		r.BaseHeight+1, r.LastHeight, r.Blocks, r.BaseHeight, r.Txs, r.ElapsedMillis, r.BlocksPerSecond)
	fmt.Fprintf(w, "migration:  %s\n", migrationText(r))
	fmt.Fprintf(w, "gas used:   recorded %d, simulated %d\n", r.GasUsedRecorded, r.GasUsedSimulated)
	more := ""
	if r.TruncatedDiffList {
		more = " (list truncated)"
	}
	fmt.Fprintf(w, "differing:  %d txs%s (code %d, data %d, gas %d)\n", r.DifferingTxs, more, r.DifferCode, r.DifferData, r.DifferGas)
	if len(r.Differing) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HEIGHT\tINDEX\tHASH\tCODE\tGAS USED\tDATA")
	var changed []executor.TxDiff
	for _, d := range r.Differing {
		data := "same"
		if string(d.Recorded.Data) != string(d.Simulated.Data) {
			data = "changed (below)"
			changed = append(changed, d)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", d.Height, d.Index, d.Hash,
			change(d.Recorded.CodeName, d.Simulated.CodeName), change(fmt.Sprint(d.Recorded.GasUsed), fmt.Sprint(d.Simulated.GasUsed)), data)
	}
	tw.Flush()
	for _, d := range changed {
		fmt.Fprintf(w, "\nheight %d index %d:\n  recorded:  %s\n  simulated: %s\n", d.Height, d.Index, clip(string(d.Recorded.Data)), clip(string(d.Simulated.Data)))
	}
}

func change(a, b string) string {
	if a == b {
		return a
	}
	return a + " -> " + b
}

func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 300 {
		return s[:297] + "..."
	}
	return s
}

// printScheduleDryRun prints, before `upgrade schedule` sends, the one-line summary of a
// dry run of version over the last DefaultSimulateBlocks blocks (fewer on a young
// chain). A dry run that cannot run (the node lacks the module, say) is a note, not a
// refusal: the readiness check is what decides whether to send.
func printScheduleDryRun(cmd *cobra.Command, c *client.Client, version uint64) {
	rep, err := c.DryRun(cmd.Context(), version, DefaultSimulateBlocks, true)
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "dry run of v%d not done: %v (--no-simulate skips it)\n", version, err)
		return
	}
	fmt.Fprintln(cmd.ErrOrStderr(), dryRunSummary(rep))
}
