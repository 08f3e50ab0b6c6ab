package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/home"
)

func openRuntimes(cmd *cobra.Command, g *globals) (*runtime.Manager, error) {
	p := home.Paths{Root: g.home}
	appCfg, err := home.LoadAppConfig(viper.New(), p.AppConfig())
	if err != nil {
		return nil, err
	}
	return runtime.NewManager(cmd.Context(), p.Runtime(), appCfg.RuntimeOptions()...)
}

// validatorAddress reads the home's validator address, or "" if it has no validator key.
func validatorAddress(g *globals) string {
	b, err := os.ReadFile(filepath.Join(g.home, "config", "priv_validator_key.json"))
	if err != nil {
		return ""
	}
	var k struct {
		Address string `json:"address"`
	}
	if json.Unmarshal(b, &k) != nil {
		return ""
	}
	return strings.ToUpper(k.Address)
}

func newRuntimeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "Operator commands: install runtime versions on this node, attest them on chain, list them",
	}
	addKeyringFlags(cmd, g)
	cmd.AddCommand(newInstallCmd(g), newAttestCmd(g), newListCmd(g), newFetchCmd(g))
	return cmd
}

// exitNotAttested is install's exit status when the module was installed but, although
// the node of --home runs, this validator's attestation was not sent or not committed: the
// install is done, the chain does not know it yet.
const exitNotAttested = 3

// probeTimeout bounds the status query install sends first, so an address that drops
// packets gives a clear answer instead of hanging until the OS gives up the connect.
const probeTimeout = 10 * time.Second

func newInstallCmd(g *globals) *cobra.Command {
	var version uint64
	var replace, noAttest bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "install FILE --version N",
		Short: "Install a runtime version into --home (the node may be running) and attest it on chain",
		Long: `Validate FILE as a vchain runtime module, meter and compile it, and store it as version N
in --home's runtime directory. The running node picks it up without a restart: a node
paused for this version resumes within a second or two.

If the chain has registered a release N with another sha256, the file is refused. Installing
the same bytes again is a no-op; a different file for an installed version is refused
unless --replace, which is never allowed for the effective or the scheduled version.

Then, on a validator's home, an AttestInstall listing every installed version is signed with
the operator key and broadcast to the node of --home (the RPC address in its
config/config.toml, or --node), and install waits for its block.

Exit status:
  0  installed and attested; or installed with --no-attest; or this home's validator is
     not in the chain's validator set (a full node: nothing to attest); or installed
     while the node of --home is not running (installing before a start is a normal
     order of work): a note says it is not attested yet; run 'vchaind runtime attest'
     once the node runs
  3  installed, but NOT attested although the node of --home is running: it did not
     answer at the address dialed within --timeout (it is still starting, or serves
     another address: pass --node), or the attestation failed; the chain does not count
     this validator as having the version until 'vchaind runtime attest' succeeds
  1  not installed (a wrong file for a registered version, a refused --replace...)

Whether the node runs is read from the lock 'vchaind start' holds on its app store
(data/vchain.db/LOCK) for as long as it runs, not guessed from a failed dial: a node that
runs but does not answer is never taken for a stopped one. A running node that does not
answer yet is waited for (one paused before starting CometBFT, waiting for this very
version, answers once it has it).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if version == 0 {
				return errors.New("--version N is required (N >= 1)")
			}
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read module: %w", err)
			}
			return installModule(cmd, g, version, wasm, args[0], installOpts{replace: replace, noAttest: noAttest, timeout: timeout})
		},
	}
	cmd.Flags().Uint64Var(&version, "version", 0, "the version number this module is (required)")
	cmd.Flags().BoolVar(&replace, "replace", false, "replace a different module installed for this version (never the effective or scheduled one)")
	cmd.Flags().BoolVar(&noAttest, "no-attest", false, "install only, without attesting (then 'vchaind runtime attest' once the node runs)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for a running node to answer, and for the attestation's block")
	return cmd
}

// installOpts are runtime install's flags, which runtime fetch shares.
type installOpts struct {
	replace, noAttest bool
	timeout           time.Duration
	// extra joins the JSON answer and, as lines, the text one (runtime fetch's peer).
	extra []field
}

// installModule installs wasm (read from file, a path or where it came from) as version
// into --home and attests it: runtime install's work, which runtime fetch reuses once it
// has the bytes.
func installModule(cmd *cobra.Command, g *globals, version uint64, wasm []byte, file string, o installOpts) error {
	replace, noAttest, timeout := o.replace, o.noAttest, o.timeout
	sum := runtime.Hash(sha256.Sum256(wasm))
	ctx := cmd.Context()
	c, err := client.New(g.node)
	if err != nil {
		return err
	}
	probe, cancel := context.WithTimeout(ctx, probeTimeout)
	st, stErr := c.UpgradeStatus(probe, 0)
	cancel()
	if stErr != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: node %s did not answer (%v): installing without the chain's checks\n", g.node, stErr)
	} else if err := checkRelease(st, version, sum, file); err != nil {
		return err
	}
	mgr, err := openRuntimes(cmd, g)
	if err != nil {
		return err
	}
	defer mgr.Close(ctx)
	if old, err := os.ReadFile(mgr.Path(version)); err == nil && sha256.Sum256(old) != sum {
		if !replace {
			return fmt.Errorf("v%d is already installed with sha256 %x; use --replace to install another file for it", version, sha256.Sum256(old))
		}
		if stErr != nil {
			return errors.New("--replace needs the node to confirm the version is neither effective nor scheduled, and it is not reachable")
		}
		if st.Effective.Version == version || (st.Pending != nil && st.Pending.Version == version) {
			return fmt.Errorf("v%d is effective or scheduled on the chain: replacing its module would stop this node", version)
		}
		if err := os.Remove(mgr.Path(version)); err != nil {
			return err
		}
	}
	if g.output == "text" {
		fmt.Fprintf(cmd.ErrOrStderr(), "validating, metering and compiling %s (%d bytes)...\n", file, len(wasm))
	}
	start := time.Now()
	if _, err := mgr.Install(ctx, version, wasm); err != nil {
		return err
	}
	out := map[string]any{"version": version, "code_sha256": sum.String(), "path": mgr.Path(version), "seconds": time.Since(start).Seconds()}
	fields := []field{
		{"installed", fmt.Sprintf("v%d", version)},
		{"sha256", sum.String()},
		{"path", mgr.Path(version)},
		{"took", time.Since(start).Round(time.Millisecond)},
	}
	for _, f := range o.extra {
		out[f.label] = f.value
		fields = append(fields, f)
	}
	if err := newPrinter(cmd.OutOrStdout(), g).print(out, fields...); err != nil {
		return err
	}
	if noAttest {
		return nil
	}
	if stErr != nil {
		// Installing before the node runs is a normal order of work; a node that
		// runs must answer, and one that is starting (or was paused before
		// starting CometBFT for this very version) answers within moments.
		running, runErr := home.Paths{Root: g.home}.NodeRunning()
		if runErr == nil && !running {
			fmt.Fprintf(cmd.ErrOrStderr(), "note: the node of %s is not running, so v%d is installed but not attested: "+
				"once it runs, run `vchaind runtime attest --home %s`; until then the chain does not count this validator as having v%d\n",
				g.home, version, g.home, version)
			return nil
		}
		if g.output == "text" {
			fmt.Fprintf(cmd.ErrOrStderr(), "the node of %s runs: waiting up to %s for it to answer at %s\n", g.home, timeout, g.node)
		}
		if st, stErr = waitStatus(ctx, c, timeout); stErr != nil {
			why := fmt.Sprintf("the node of %s is running but did not answer at %s within %s (%v): it is still starting, or serves another address", g.home, g.node, timeout, stErr)
			if runErr != nil {
				why = fmt.Sprintf("node at %s not reachable (%v), and whether the node of %s runs is unknown (%v)", g.node, stErr, g.home, runErr)
			}
			return &exitError{code: exitNotAttested, err: fmt.Errorf(
				"installed v%d into %s, but did not attest: %s. Once it answers, run `vchaind runtime attest --home %s` "+
					"(with --node if it serves another address than its config's rpc.laddr); --no-attest installs only",
				version, g.home, why, g.home)}
		}
		if err := checkRelease(st, version, sum, file); err != nil {
			return &exitError{code: exitNotAttested, err: fmt.Errorf("installed v%d into %s, but did not attest: %w; remove %s and install the right file", version, g.home, err, mgr.Path(version))}
		}
	}
	if _, err := attestInstalled(cmd, g, c, mgr, st, timeout); err != nil {
		return &exitError{code: exitNotAttested, err: fmt.Errorf(
			"installed v%d into %s, but the attestation failed: %w; run `vchaind runtime attest --home %s` to send it again", version, g.home, err, g.home)}
	}
	return nil
}

// checkRelease refuses file (sha256 sum) for version if the chain registered that version
// with another sha256.
func checkRelease(st *executor.UpgradeStatus, version uint64, sum runtime.Hash, file string) error {
	for _, r := range st.Releases {
		if r.Version == version && r.CodeSHA256 != sum.String() {
			return fmt.Errorf("the chain registered v%d as sha256 %s; %s has sha256 %s: wrong file for this version", version, r.CodeSHA256, file, sum)
		}
	}
	return nil
}

// waitStatus asks the node for /upgrade/status until it answers or timeout passes, and
// returns the last error then.
func waitStatus(ctx context.Context, c *client.Client, timeout time.Duration) (*executor.UpgradeStatus, error) {
	deadline := time.Now().Add(timeout)
	for {
		probe, cancel := context.WithTimeout(ctx, min(probeTimeout, max(time.Until(deadline), time.Second)))
		st, err := c.UpgradeStatus(probe, 0)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return st, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func newAttestCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "attest",
		Short: "Attest on chain every runtime version installed in --home (after an install that did not attest)",
		Long: `Sign, with the operator key of --home, an AttestInstall listing every version installed
in --home's runtime directory, broadcast it to the node of --home (or --node) and wait for
its block. 'vchaind runtime install' does this after installing; run attest after an
install with --no-attest, on a node that was not running, or one that exited 3.

Fails if the node does not answer or this home's validator is not in the chain's
validator set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			st, err := c.UpgradeStatus(cmd.Context(), 0)
			if err != nil {
				return err
			}
			mgr, err := openRuntimes(cmd, g)
			if err != nil {
				return err
			}
			defer mgr.Close(cmd.Context())
			sent, err := attestInstalled(cmd, g, c, mgr, st, timeout)
			if err == nil && !sent {
				err = fmt.Errorf("the validator of %s (%q) is not in the validator set of the chain at %s: nothing to attest", g.home, validatorAddress(g), g.node)
			}
			return err
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the attestation's block")
	return cmd
}

// attestInstalled broadcasts this validator's attestation of every installed version and
// waits for its block. It sends nothing, and says so, when the home's validator is not in
// the chain's validator set (sent is false).
func attestInstalled(cmd *cobra.Command, g *globals, c *client.Client, mgr *runtime.Manager, st *executor.UpgradeStatus, timeout time.Duration) (sent bool, err error) {
	val := validatorAddress(g)
	inSet := false
	for _, v := range st.Readiness.Validators {
		inSet = inSet || v.Address == val
	}
	if val == "" || !inSet {
		fmt.Fprintln(cmd.ErrOrStderr(), "not a validator of this chain: no attestation sent")
		return false, nil
	}
	list, err := mgr.List()
	if err != nil {
		return false, err
	}
	versions := map[uint64][32]byte{}
	for _, in := range list {
		versions[in.Version] = in.SHA256
	}
	a := adminTx{from: home.OperatorKey, timeout: timeout}
	if g.output == "text" {
		fmt.Fprintf(cmd.ErrOrStderr(), "attesting %d installed versions for validator %s\n", len(versions), val)
	}
	return true, a.send(cmd, g, c, client.AttestMsg(val, versions))
}

func newListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List installed runtime versions: sha256, attested on chain, effective or scheduled",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mgr, err := openRuntimes(cmd, g)
			if err != nil {
				return err
			}
			defer mgr.Close(cmd.Context())
			list, err := mgr.List()
			if err != nil {
				return err
			}
			type row struct {
				Version    uint64 `json:"version"`
				CodeSHA256 string `json:"code_sha256"`
				Attested   bool   `json:"attested"`
				Registered bool   `json:"registered"`
				State      string `json:"state"`
			}
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			st, stErr := c.UpgradeStatus(cmd.Context(), 0)
			val := validatorAddress(g)
			var rows []row
			for _, in := range list {
				r := row{Version: in.Version, CodeSHA256: in.SHA256.String(), State: "-"}
				if stErr == nil {
					for _, v := range st.Readiness.Validators {
						for _, a := range v.Attested {
							r.Attested = r.Attested || (v.Address == val && a.Version == in.Version && a.CodeSHA256 == r.CodeSHA256)
						}
					}
					for _, rel := range st.Releases {
						r.Registered = r.Registered || (rel.Version == in.Version && rel.CodeSHA256 == r.CodeSHA256)
					}
					switch {
					case st.Effective.Version == in.Version && st.Effective.CodeSHA256 == r.CodeSHA256:
						r.State = fmt.Sprintf("effective since %d", st.Effective.SinceHeight)
					case st.Pending != nil && st.Pending.Version == in.Version:
						r.State = fmt.Sprintf("scheduled from %d", st.Pending.StartHeight)
					}
				}
				rows = append(rows, r)
			}
			if g.output == "json" {
				return newPrinter(cmd.OutOrStdout(), g).print(rows)
			}
			if stErr != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: node %s not reachable: on-chain columns unknown\n", g.node)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tSHA256\tREGISTERED\tATTESTED\tSTATE")
			for _, r := range rows {
				fmt.Fprintf(tw, "v%d\t%s\t%v\t%v\t%s\n", r.Version, r.CodeSHA256, r.Registered, r.Attested, r.State)
			}
			return tw.Flush()
		},
	}
}
