package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/modfetch"
)

func newFetchCmd(g *globals) *cobra.Command {
	var from []string
	var noAttest bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "fetch VERSION [--from RPC...]",
		Short: "Download a release's module from peers, check it against the chain's sha256, install and attest it",
		Long: `Download runtime VERSION from other nodes (their /runtime/module query, in chunks), accept
it only if its bytes hash to the sha256 the chain records for release VERSION (read from
the node of --home, never from a peer), then install and attest it exactly as
'vchaind runtime install' does (same checks, same exit statuses, --no-attest included).

Peers are tried in order: --from RPC addresses if given, otherwise the peers the node of
--home is connected to (its /net_info: each peer's advertised rpc.laddr, with an address
like 0.0.0.0 replaced by the IP the peer connects from). The node of --home itself is not
asked: it serves the very runtime directory this command installs into, so it cannot have
a version this home lacks. A peer that lacks the version, does not answer, describes its
module inconsistently or serves other bytes is reported on stderr, and the next is tried.

With runtime.auto_fetch = true in app.toml a node does this by itself (without attesting)
when it would pause for a version it lacks, or sees a scheduled switch to one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			version, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || version == 0 {
				return fmt.Errorf("VERSION %q: want a release number >= 1", args[0])
			}
			ctx := cmd.Context()
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			st, err := c.UpgradeStatus(ctx, 0)
			if err != nil {
				return fmt.Errorf("the chain's sha256 of v%d is needed to check what peers serve: %w", version, err)
			}
			var want runtime.Hash
			var known []string
			for _, r := range st.Releases {
				known = append(known, fmt.Sprintf("v%d", r.Version))
				if r.Version == version {
					if want, err = runtime.ParseHash(r.CodeSHA256); err != nil {
						return fmt.Errorf("release v%d: %w", version, err)
					}
				}
			}
			if want == (runtime.Hash{}) {
				return fmt.Errorf("v%d is not a release registered on the chain (registered: %s): there is no sha256 to check a download against",
					version, strings.Join(known, ", "))
			}
			progress := func(format string, a ...any) { fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", a...) }
			// Already here with the chain's bytes: nothing to download, install's no-op
			// and attestation still run, so fetch can be repeated after exit status 3.
			local := filepath.Join(home.Paths{Root: g.home}.Runtime(), fmt.Sprintf("v%d.wasm", version))
			if b, err := os.ReadFile(local); err == nil && runtime.Hash(sha256.Sum256(b)) == want {
				progress("v%d is already installed in %s with the chain's sha256: nothing to download", version, g.home)
				return installModule(cmd, g, version, b, local, installOpts{noAttest: noAttest, timeout: timeout})
			}
			peers := from
			if len(peers) == 0 {
				if peers, err = modfetch.NetInfoPeers(ctx, c); err != nil {
					return err
				}
				if len(peers) == 0 {
					return fmt.Errorf("the node at %s has no peers advertising an RPC address: name some with --from", g.node)
				}
			}
			progress("fetching v%d (sha256 %s) from %d peers: %s", version, want, len(peers), strings.Join(peers, ", "))
			res, err := modfetch.Download(ctx, version, want, peers, progress)
			var np *modfetch.NoPeerError
			if errors.As(err, &np) {
				return fmt.Errorf("%w; nothing was installed", err)
			}
			if err != nil {
				return err
			}
			return installModule(cmd, g, version, res.Wasm, "v"+args[0]+" from "+res.From, installOpts{noAttest: noAttest, timeout: timeout,
				extra: []field{{"from", res.From}, {"attempts", res.Attempts}, {"size", res.Size}, {"download_seconds", res.Seconds}}})
		},
	}
	cmd.Flags().StringSliceVar(&from, "from", nil, "RPC addresses to fetch from, in order (repeat or comma-separate); default: the peers of the node of --home")
	cmd.Flags().BoolVar(&noAttest, "no-attest", false, "install only, without attesting (then 'vchaind runtime attest' once the node runs)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for a running node to answer, and for the attestation's block")
	return cmd
}
