package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/internal/client"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// lifecycleGas is the gas limit of lifecycle transactions (they use executor.GasLifecycleMsg).
const lifecycleGas = 100_000

// adminTx holds the flags of commands that sign a lifecycle transaction.
type adminTx struct {
	from    string
	timeout time.Duration
}

func (a *adminTx) flags(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&a.from, "from", "", "key that signs the "+what+" (an admin key for register, schedule and cancel)")
	cmd.Flags().DurationVar(&a.timeout, "timeout", 30*time.Second, "how long to wait for the block")
	_ = cmd.MarkFlagRequired("from")
}

// send signs a transaction carrying the message setMsg fills in, submits it, waits and prints.
func (a *adminTx) send(cmd *cobra.Command, g *globals, c *client.Client, setMsg func(*txv1.TxBody)) error {
	key, err := signingKey(cmd, g, a.from)
	if err != nil {
		return err
	}
	if setMsg, err = adminMsg(cmd, c, key.Address.String(), setMsg); err != nil {
		return err
	}
	raw, nonce, err := c.Sign(cmd.Context(), key, "", 0, lifecycleGas, setMsg)
	if err != nil {
		return err
	}
	_, err = submit(cmd, g, c, raw, nonce, a.timeout)
	return err
}

func newUpgradeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Admin commands: register releases, check readiness, schedule or cancel a runtime switch",
		Long: `The runtime version a chain executes changes only through these transactions, so every
node switches at the same height. A typical upgrade:

  vchaind runtime install build/contracts/v2.wasm --version 2     (on every node)
  vchaind upgrade register 2 --file build/contracts/v2.wasm --from admin
  vchaind upgrade status --version 2                              (readiness)
  vchaind upgrade schedule 2 --in 10 --from admin

A downgrade is the same schedule command with a lower, registered version.`,
	}
	addKeyringFlags(cmd, g)
	cmd.AddCommand(newRegisterCmd(g), newStatusCmd(g), newScheduleCmd(g), newCancelCmd(g), newHistoryCmd(g), newSimulateCmd(g))
	return cmd
}

func newRegisterCmd(g *globals) *cobra.Command {
	var a adminTx
	var file, shaHex, note string
	var prof uint32
	cmd := &cobra.Command{
		Use:   "register VERSION (--file FILE | --sha256 HEX) [--profile P] --from admin",
		Short: "Register a release on chain: VERSION is the module with this sha256, run under execution profile P",
		Long: `Register a release on chain: VERSION is the module with this sha256, executed under
execution profile P (the rules outside the module: instruction and host prices, memory cap,
call depth, minimum gas, float rule). The default is the newest profile this vchaind knows.
A release naming a profile can be scheduled only once validators holding the install
threshold of voting power run a vchaind that carries it (see upgrade status).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			version, err := parseVersion(args[0])
			if err != nil {
				return err
			}
			var sum runtime.Hash
			switch {
			case file != "" && shaHex != "":
				return errors.New("give --file or --sha256, not both")
			case file != "":
				b, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("read module: %w", err)
				}
				sum = sha256.Sum256(b)
			case shaHex != "":
				if sum, err = runtime.ParseHash(shaHex); err != nil {
					return err
				}
			default:
				return errors.New("give the module with --file FILE, or its hash with --sha256 HEX")
			}
			if prof == 0 {
				return errors.New("--profile must be 1 or more")
			}
			if !profile.Knows(prof) {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: this vchaind knows profiles 1..%d, not %d; the release can be scheduled once enough validators run a vchaind that does\n", profile.Latest(), prof)
			}
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			return a.send(cmd, g, c, func(b *txv1.TxBody) {
				b.Msg = &txv1.TxBody_RegisterRelease{RegisterRelease: &txv1.RegisterRelease{Version: version, CodeSha256: sum[:], Note: note, Profile: prof}}
			})
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "the module file (its sha256 is registered)")
	cmd.Flags().StringVar(&shaHex, "sha256", "", "the module's sha256, hex")
	cmd.Flags().StringVar(&note, "note", "", "a note stored with the release (at most 256 bytes)")
	cmd.Flags().Uint32Var(&prof, "profile", profile.Latest(), "the execution profile the release runs under")
	a.flags(cmd, "registration")
	return cmd
}

func newStatusCmd(g *globals) *cobra.Command {
	var version uint64
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Effective version, pending switch, releases, and each validator's attested installs and readiness",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			st, err := c.UpgradeStatus(cmd.Context(), version)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return newPrinter(cmd.OutOrStdout(), g).print(st)
			}
			printStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	cmd.Flags().Uint64Var(&version, "version", 0, "check readiness for this registered version (default: the pending one)")
	return cmd
}

func printStatus(w io.Writer, st *executor.UpgradeStatus) {
	e := st.Effective
	fmt.Fprintf(w, "height:     %d\n", st.Height)
	fmt.Fprintf(w, "effective:  v%d (sha256 %s, profile %d) since height %d\n", e.Version, e.CodeSHA256, e.Profile, e.SinceHeight)
	if p := st.Pending; p != nil {
		fmt.Fprintf(w, "pending:    v%d (sha256 %s, profile %d) from height %d, %d blocks left; installed on this node: %v; profile known: %v\n",
			p.Version, p.CodeSHA256, p.Profile, p.StartHeight, p.BlocksLeft, p.Installed, p.ProfileKnown)
	} else {
		fmt.Fprintln(w, "pending:    none")
	}
	if a := st.LastAborted; a != nil {
		fmt.Fprintf(w, "aborted:    %s\n", abortedLine(a))
	}
	if p := st.Paused; p != nil {
		fmt.Fprintf(w, "PAUSED:     this node cannot execute block %d since %s: %s\n            fix: %s\n",
			p.Height, p.Since.Format(time.RFC3339), p.Reason, p.Install)
	}
	var rel []string
	for _, r := range st.Releases {
		rel = append(rel, fmt.Sprintf("v%d %s profile %d", r.Version, r.CodeSHA256[:12], r.Profile))
	}
	fmt.Fprintf(w, "releases:   %s\n", strings.Join(rel, ", "))
	if r := st.Readiness; r != nil {
		printReadiness(w, r)
	}
}

func printReadiness(w io.Writer, r *upgrade.Readiness) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "VALIDATOR\tMONIKER\tPOWER\tATTESTED\tPROFILES"
	if r.Version != 0 {
		head += fmt.Sprintf("\tHAS v%d + PROFILE %d", r.Version, r.Profile)
	}
	fmt.Fprintln(tw, head)
	for _, v := range r.Validators {
		att, profiles := attestedColumns(v.Attested, v.Profiles)
		line := fmt.Sprintf("%s\t%s\t%d\t%s\t%s", v.Address, v.Moniker, v.Power, att, profiles)
		if r.Version != 0 {
			line += "\t" + map[bool]string{true: "yes", false: "no"}[v.HasVersion]
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	if r.Version != 0 {
		verdict := "NOT READY"
		if r.Ready {
			verdict = "READY"
		}
		fmt.Fprintf(w, "\nreadiness of v%d (sha256 %s, profile %d): %d of %d voting power attested both, threshold %s: %s\n",
			r.Version, r.CodeSHA256, r.Profile, r.AttestedPower, r.TotalPower, r.Threshold, verdict)
	}
}

func newScheduleCmd(g *globals) *cobra.Command {
	var a adminTx
	var nextBlock, force, noSimulate bool
	var height int64
	var inBlocks uint64
	cmd := &cobra.Command{
		Use:   "schedule VERSION (--next-block | --height H | --in BLOCKS) --from admin",
		Short: "Schedule the switch to a registered version (upgrade or downgrade), refusing unless validators are ready",
		Long: `Schedule the switch to VERSION. --next-block: from the block after the one that
includes this transaction; --in N: N blocks after that block; --height H: from height H.

Before sending, the readiness of VERSION is checked: validators holding at least the install
threshold of voting power must have attested its exact sha256. If not, the readiness table
is printed and nothing is sent (--force skips this check; the chain checks again anyway).
Then a one-line summary of a dry run of VERSION over the last 20 blocks is printed to
stderr (see upgrade simulate; --no-simulate skips it).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			version, err := parseVersion(args[0])
			if err != nil {
				return err
			}
			n := 0
			for _, set := range []bool{nextBlock, height != 0, inBlocks != 0} {
				if set {
					n++
				}
			}
			if n != 1 {
				return errors.New("give exactly one of --next-block, --height H, --in BLOCKS")
			}
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			st, err := c.UpgradeStatus(cmd.Context(), version)
			var qe *client.QueryError
			switch {
			case errors.As(err, &qe) && qe.Code == executor.QueryNotFound:
				return fmt.Errorf("version %d is not registered: register it first with `vchaind upgrade register %d --file FILE --from admin`", version, version)
			case err != nil:
				return err
			}
			if height != 0 && height <= st.Height+1 {
				return fmt.Errorf("--height %d is not in the future: the chain is at %d and the transaction lands in %d at the earliest", height, st.Height, st.Height+1)
			}
			if !st.Readiness.Ready {
				if !force {
					printReadiness(cmd.ErrOrStderr(), st.Readiness)
					return fmt.Errorf("refusing to schedule v%d: validators with %d of %d voting power have installed it and run a vchaind carrying its profile %d, the threshold is %s (install it on more nodes or upgrade their vchaind, or --force to let the chain decide)",
						version, st.Readiness.AttestedPower, st.Readiness.TotalPower, st.Readiness.Profile, st.Readiness.Threshold)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: v%d is not ready (%d of %d voting power); sending anyway (--force): the chain will refuse it\n",
					version, st.Readiness.AttestedPower, st.Readiness.TotalPower)
			}
			if !noSimulate {
				printScheduleDryRun(cmd, c, version)
			}
			return a.send(cmd, g, c, func(b *txv1.TxBody) {
				s := &txv1.ScheduleUpgrade{Version: version}
				switch {
				case nextBlock:
					s.Activation = &txv1.ScheduleUpgrade_NextBlock{NextBlock: true}
				case height != 0:
					s.Activation = &txv1.ScheduleUpgrade_Height{Height: height}
				default:
					s.Activation = &txv1.ScheduleUpgrade_InBlocks{InBlocks: inBlocks}
				}
				b.Msg = &txv1.TxBody_ScheduleUpgrade{ScheduleUpgrade: s}
			})
		},
	}
	cmd.Flags().BoolVar(&nextBlock, "next-block", false, "switch from the block after the one including this transaction")
	cmd.Flags().Int64Var(&height, "height", 0, "switch from this height")
	cmd.Flags().Uint64Var(&inBlocks, "in", 0, "switch this many blocks after the one including this transaction")
	cmd.Flags().BoolVar(&force, "force", false, "send even if the readiness check fails (the chain still refuses it)")
	cmd.Flags().BoolVar(&noSimulate, "no-simulate", false, "do not print the summary of a dry run over the last 20 blocks before sending (see upgrade simulate)")
	a.flags(cmd, "schedule")
	return cmd
}

func newCancelCmd(g *globals) *cobra.Command {
	var a adminTx
	cmd := &cobra.Command{
		Use:   "cancel --from admin",
		Short: "Cancel the pending runtime switch",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			return a.send(cmd, g, c, func(b *txv1.TxBody) {
				b.Msg = &txv1.TxBody_CancelUpgrade{CancelUpgrade: &txv1.CancelUpgrade{}}
			})
		},
	}
	a.flags(cmd, "cancellation")
	return cmd
}

// historyOutput is what `upgrade history -o json` prints: the switches in state, and the
// scheduled one that is not in that list until its start block has executed.
type historyOutput struct {
	History []executor.HistoryEntry `json:"history"`
	Pending *executor.PendingInfo   `json:"pending"`
}

func newHistoryCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "Every runtime switch: from which height each version executed, and the pending one",
		Long: `Every runtime switch in the chain's state: from which height each version executes,
oldest first. A scheduled switch enters that list only once its start block has executed,
so the pending one, if any, is shown after it (JSON: "pending", null when none).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			h, err := history(cmd.Context(), c)
			if err != nil {
				return err
			}
			fields := make([]field, 0, len(h.History)+1)
			for _, e := range h.History {
				what := fmt.Sprintf("v%d (sha256 %s, profile %d)", e.Version, e.CodeSHA256, e.Profile)
				if e.Aborted != nil {
					what += "; " + abortedLine(&e)
				}
				fields = append(fields, field{"from height " + strconv.FormatInt(e.Height, 10), what})
			}
			if p := h.Pending; p != nil {
				when := "the next block"
				switch {
				case p.BlocksLeft == 1:
					when = "after 1 more block"
				case p.BlocksLeft > 1:
					when = fmt.Sprintf("after %d more blocks", p.BlocksLeft)
				}
				fields = append(fields, field{"pending", fmt.Sprintf("v%d (sha256 %s, profile %d) from height %d (%s)", p.Version, p.CodeSHA256, p.Profile, p.StartHeight, when)})
			}
			return newPrinter(cmd.OutOrStdout(), g).print(h, fields...)
		},
	}
}

// history reads the switch history and the pending switch. They are two queries, so a
// block may commit between them: the status is read first, and a pending switch the
// history already holds (its start block executed in between) is dropped.
func history(ctx context.Context, c *client.Client) (*historyOutput, error) {
	st, err := c.UpgradeStatus(ctx, 0)
	if err != nil {
		return nil, err
	}
	out := &historyOutput{Pending: st.Pending}
	if err := c.QueryJSON(ctx, "/upgrade/history", &out.History); err != nil {
		return nil, err
	}
	if n := len(out.History); out.Pending != nil && n > 0 && out.History[n-1].Height >= out.Pending.StartHeight {
		out.Pending = nil
	}
	return out, nil
}

// abortedLine says which switch a history entry aborted, and why.
func abortedLine(e *executor.HistoryEntry) string {
	a := e.Aborted
	return fmt.Sprintf("switch to v%d ABORTED at height %d: its migration (from v%d) failed after %d gas: %s; v%d kept",
		a.Version, e.Height, a.FromVersion, a.GasUsed, a.Reason, e.Version)
}

func parseVersion(s string) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "v"), 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("version %q: want a number >= 1", s)
	}
	return v, nil
}

// attestedColumns renders a validator's attested versions ("v2:1a2b3c4d ...") and
// profiles for a table, "-" for none.
func attestedColumns(attested []upgrade.VersionRef, profiles []uint32) (string, string) {
	att, prof := "-", "-"
	if len(attested) > 0 {
		parts := make([]string, len(attested))
		for i, a := range attested {
			parts[i] = fmt.Sprintf("v%d:%s", a.Version, a.CodeSHA256[:8])
		}
		att = strings.Join(parts, " ")
	}
	if len(profiles) > 0 {
		prof = fmt.Sprint(profiles)
	}
	return att, prof
}
