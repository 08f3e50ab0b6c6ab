package main

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vchain/vchain/internal/lightclient"
)

const queryStateLong = `Print the raw value stored under a contract's key, as the node answers it
(ABCI query /state/CONTRACT with KEY as data).

With --prove the answer is verified, not believed: the node sends the value (or
nothing, for an absent key) with a Merkle proof (docs/proofs.md), and vchaind checks
that proof against the app hash in the header of the next height, a header that
CometBFT's light client has verified by the validators' signatures. A value, an
absence or a proof changed by the node or on the way fails, with a non-zero exit and
a message starting "verification failed". On success it prints the value and
"verified at height H" (H: the height whose state the value is).

Trust model: the light client verifies new headers from a header it already trusts.
  --trust-height/--trust-hash  name that header (obtain the hash from a source you
                               trust: another node, an explorer, a colleague).
  neither, first use           the node's own latest header is trusted, with a
                               warning on stderr (trust on first use: a node lying
                               from the start is not caught).
  neither, later uses          the headers verified before, kept in
                               <home>/light-client.db, are the starting point.
A trusted header older than --trust-period cannot verify newer ones (validators
may have changed since): give --trust-height/--trust-hash again. --witness adds
nodes whose headers are compared with the queried node's (a fork is refused).`

// proveFlags are query state's verification flags.
type proveFlags struct {
	on          bool
	trustHeight int64
	trustHash   string
	trustPeriod time.Duration
	witnesses   []string
	wait        time.Duration
}

func (p *proveFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&p.on, "prove", false, "verify the answer with its proof against a header verified by the light client (see above)")
	f.Int64Var(&p.trustHeight, "trust-height", 0, "height of a header to trust (with --trust-hash); replaces the headers trusted in the home")
	f.StringVar(&p.trustHash, "trust-hash", "", "hash (hex) of the header at --trust-height, from a source you trust")
	f.DurationVar(&p.trustPeriod, "trust-period", lightclient.DefaultTrustPeriod, "how long a trusted header may verify newer ones")
	f.StringSliceVar(&p.witnesses, "witness", nil, "RPC address of another node to cross-check headers with (repeatable; default: none besides the node)")
	f.DurationVar(&p.wait, "header-wait", lightclient.DefaultHeaderWait, "how long to wait for the next block, whose header carries the answer's app hash")
}

// wanted says whether the command goes to runProvenState: --prove or any of its flags
// (which, without --prove, are refused there rather than ignored).
func (p *proveFlags) wanted(cmd *cobra.Command) bool {
	if p.on {
		return true
	}
	for _, name := range []string{"trust-height", "trust-hash", "trust-period", "witness", "header-wait"} {
		if cmd.Flags().Changed(name) {
			return true
		}
	}
	return false
}

// runProvenState is query state --prove.
func runProvenState(cmd *cobra.Command, g *globals, p *proveFlags, contract, key string) error {
	var hash []byte
	if p.trustHash != "" {
		var err error
		if hash, err = hex.DecodeString(strings.TrimPrefix(strings.ToLower(p.trustHash), "0x")); err != nil {
			return fmt.Errorf("--trust-hash %q: not hex: %w", p.trustHash, err)
		}
	}
	if !p.on {
		return fmt.Errorf("--trust-height, --trust-hash, --trust-period, --witness and --header-wait need --prove")
	}
	v, err := lightclient.Open(cmd.Context(), lightclient.Options{
		Home: g.home, Node: g.node, Witnesses: p.witnesses,
		TrustHeight: p.trustHeight, TrustHash: hash, TrustPeriod: p.trustPeriod, HeaderWait: p.wait,
		Warn: cmd.ErrOrStderr(),
	})
	if err != nil {
		return err
	}
	defer v.Close()
	r, err := v.QueryState(cmd.Context(), contract, []byte(key))
	if err != nil {
		return err
	}
	verified := fmt.Sprintf("verified at height %d (app hash %X in header %d, hash %X, verified by the light client)",
		r.Height, r.AppHash, r.HeaderHeight, r.HeaderHash)
	if g.output == "text" {
		if r.Present {
			fmt.Fprintln(cmd.OutOrStdout(), printable(r.Value))
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "absent: contract %q has no key %q\n", contract, key)
		}
		fmt.Fprintln(cmd.OutOrStdout(), verified)
		return nil
	}
	out := map[string]any{
		"contract": contract, "key": key, "present": r.Present, "height": r.Height, "verified": true,
		"header_height": r.HeaderHeight, "header_hash": fmt.Sprintf("%X", r.HeaderHash), "app_hash": fmt.Sprintf("%X", r.AppHash),
		"chain_id": v.ChainID(), "trusted_on_first_use": v.TrustedOnFirstUse, "proof_bytes": r.ProofBytes,
	}
	if r.Present {
		out["value"] = printable(r.Value)
	}
	return newPrinter(cmd.OutOrStdout(), g).print(out)
}
