package main

import (
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
		Short: "Operator commands: install runtime versions on this node and list them",
	}
	cmd.AddCommand(newInstallCmd(g), newListCmd(g))
	return cmd
}

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
the operator key and broadcast (skip with --no-attest).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if version == 0 {
				return errors.New("--version N is required (N >= 1)")
			}
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read module: %w", err)
			}
			sum := runtime.Hash(sha256.Sum256(wasm))
			ctx := cmd.Context()
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			st, stErr := c.UpgradeStatus(ctx, 0)
			if stErr != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: node %s not reachable (%v): installing without the chain's checks and without attesting\n", g.node, stErr)
			} else {
				for _, r := range st.Releases {
					if r.Version == version && r.CodeSHA256 != sum.String() {
						return fmt.Errorf("the chain registered v%d as sha256 %s; %s has sha256 %s: wrong file for this version", version, r.CodeSHA256, args[0], sum)
					}
				}
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
				fmt.Fprintf(cmd.ErrOrStderr(), "validating, metering and compiling %s (%d bytes)...\n", args[0], len(wasm))
			}
			start := time.Now()
			if _, err := mgr.Install(ctx, version, wasm); err != nil {
				return err
			}
			out := map[string]any{"version": version, "code_sha256": sum.String(), "path": mgr.Path(version), "seconds": time.Since(start).Seconds()}
			if err := newPrinter(cmd.OutOrStdout(), g).print(out,
				field{"installed", fmt.Sprintf("v%d", version)},
				field{"sha256", sum.String()},
				field{"path", mgr.Path(version)},
				field{"took", time.Since(start).Round(time.Millisecond)},
			); err != nil {
				return err
			}
			if noAttest || stErr != nil {
				return nil
			}
			return attestInstalled(cmd, g, c, mgr, st, timeout)
		},
	}
	cmd.Flags().Uint64Var(&version, "version", 0, "the version number this module is (required)")
	cmd.Flags().BoolVar(&replace, "replace", false, "replace a different module installed for this version (never the effective or scheduled one)")
	cmd.Flags().BoolVar(&noAttest, "no-attest", false, "do not broadcast an attestation")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the attestation's block")
	return cmd
}

// attestInstalled broadcasts this validator's attestation of every installed version.
func attestInstalled(cmd *cobra.Command, g *globals, c *client.Client, mgr *runtime.Manager, st *executor.UpgradeStatus, timeout time.Duration) error {
	val := validatorAddress(g)
	inSet := false
	for _, v := range st.Readiness.Validators {
		inSet = inSet || v.Address == val
	}
	if val == "" || !inSet {
		fmt.Fprintln(cmd.ErrOrStderr(), "not a validator of this chain: no attestation sent")
		return nil
	}
	list, err := mgr.List()
	if err != nil {
		return err
	}
	versions := map[uint64][32]byte{}
	for _, in := range list {
		versions[in.Version] = in.SHA256
	}
	a := adminTx{from: home.OperatorKey, timeout: timeout}
	if g.output == "text" {
		fmt.Fprintf(cmd.ErrOrStderr(), "attesting %d installed versions for validator %s\n", len(versions), val)
	}
	return a.send(cmd, g, c, client.AttestMsg(val, versions))
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
