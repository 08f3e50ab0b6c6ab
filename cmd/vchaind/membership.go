package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/internal/client"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// proposeAnnotation marks the `admin propose` command: an admin command under it sends its
// message wrapped in a proposal instead of directly.
const proposeAnnotation = "vchain.propose"

// proposing reports whether cmd runs under `admin propose`.
func proposing(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[proposeAnnotation] == "true" {
			return true
		}
	}
	return false
}

// membership reads /membership.
func membership(ctx context.Context, c *client.Client) (*executor.Membership, error) {
	var m executor.Membership
	if err := c.QueryJSON(ctx, "/membership", &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// checkAdminPath refuses, before sending, an admin action sent directly to a chain whose
// admin threshold is above one (or proposed by a key that is no admin).
func checkAdminPath(cmd *cobra.Command, c *client.Client, sender string, m *txv1.TxBody) error {
	mem, err := membership(cmd.Context(), c)
	if err != nil {
		return err
	}
	if !slices.Contains(mem.Admins, sender) {
		return fmt.Errorf("%s is not an admin of this chain (admins: %s)", sender, strings.Join(mem.Admins, ", "))
	}
	if mem.AdminThreshold > 1 && !proposing(cmd) && tx.BodyAction(m) != nil {
		return fmt.Errorf("this chain needs %d of its %d admins to approve an admin action: run `vchaind admin propose %s` instead, then the other admins `vchaind admin approve ID`",
			mem.AdminThreshold, len(mem.Admins), strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" "))
	}
	return nil
}

func newValidatorCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validator",
		Short: "Validator set: list it; add, re-weight, remove validators and rotate operators (admin)",
		Long: `The validator set changes only through admin transactions. CometBFT applies a change
included at height H from H+2; vchain follows the same timing for readiness.

  vchaind validator add --pubkey NEW_HOME/config/priv_validator_key.json --power 10 \
      --operator OPERATOR_ADDRESS --moniker org5 --from admin
  vchaind validator update VALIDATOR --power 0 --from admin      (removes it)
  vchaind validator rotate-operator VALIDATOR --operator NEW_ADDRESS --from admin
  vchaind validator list

The chain refuses a duplicate key, an unknown validator, an empty set, a change of more than
a third of the signing power before earlier changes take force, a key type the consensus
parameters do not allow, a power above CometBFT's maximum, and a change that would drop a
pending switch's readiness below the install threshold. Each command checks these first.`,
	}
	addKeyringFlags(cmd, g)
	cmd.AddCommand(newValidatorAddCmd(g), newValidatorUpdateCmd(g), newValidatorRotateCmd(g), newValidatorListCmd(g))
	return cmd
}

// readPubKey reads a consensus public key: base64 of the raw ed25519 key, or a CometBFT
// priv_validator_key.json (only its pub_key is read).
func readPubKey(s string) (keyType string, pub []byte, err error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 32 {
		return upgrade.KeyTypeEd25519, b, nil
	}
	raw, err := os.ReadFile(s)
	if err != nil {
		return "", nil, fmt.Errorf("--pubkey %q is neither a base64 ed25519 key (32 bytes) nor a readable priv_validator_key.json: %w", s, err)
	}
	var f struct {
		PubKey struct {
			Type  string `json:"type"`
			Value []byte `json:"value"`
		} `json:"pub_key"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return "", nil, fmt.Errorf("%s: not a priv_validator_key.json: %w", s, err)
	}
	switch f.PubKey.Type {
	case "tendermint/PubKeyEd25519":
		keyType = upgrade.KeyTypeEd25519
	case "tendermint/PubKeySecp256k1":
		keyType = upgrade.KeyTypeSecp256k1
	default:
		return "", nil, fmt.Errorf("%s: pub_key type %q: want tendermint/PubKeyEd25519", s, f.PubKey.Type)
	}
	if _, err := upgrade.ConsensusAddress(keyType, f.PubKey.Value); err != nil {
		return "", nil, fmt.Errorf("%s: %w", s, err)
	}
	return keyType, f.PubKey.Value, nil
}

// checkChange checks, before sending, a change that sets validator addr to power (the
// validator is new when it is not in mem): the rules the chain applies, so a refused change
// is caught here with an explanation. attested says whether addr's attestation counts.
func checkChange(cmd *cobra.Command, c *client.Client, mem *executor.Membership, addr string, power int64) error {
	var signingTotal, change, total int64
	found := false
	for _, v := range mem.Validators {
		signingTotal += v.SigningPower
		p := v.Power
		if v.Address == addr {
			p, found = power, true
		}
		total += p
		change += max(p-v.SigningPower, v.SigningPower-p)
	}
	if !found {
		total += power
		change += power
	}
	if total == 0 {
		return errors.New("the change would leave the validator set empty")
	}
	if power > upgrade.MaxTotalVotingPower || total > upgrade.MaxTotalVotingPower {
		return fmt.Errorf("the set's total power would exceed CometBFT's maximum %d", upgrade.MaxTotalVotingPower)
	}
	if 3*change > signingTotal {
		return fmt.Errorf("with the changes not yet in force this moves %d of the %d voting power signing now, more than a third: make the change in steps (each takes force two blocks after its block)", change, signingTotal)
	}
	st, err := c.UpgradeStatus(cmd.Context(), 0)
	if err != nil {
		return err
	}
	if st.Pending == nil || st.Pending.StartHeight < st.Height+3 {
		return nil // a switch starting before the change takes force is signed by today's set
	}
	r := st.Readiness
	var attested, all int64
	for _, v := range r.Validators {
		p := v.Power
		if v.Address == addr {
			p = power
		}
		all += p
		if v.HasVersion {
			attested += p
		}
	}
	if !found {
		all += power // a new validator has not attested yet
	}
	if uint64(attested)*r.Threshold.Den < r.Threshold.Num*uint64(all) {
		return fmt.Errorf("the pending switch to v%d at height %d would be attested by %d of %d voting power, below the install threshold %s: cancel it (vchaind upgrade cancel), or have the validator install and attest v%d first",
			st.Pending.Version, st.Pending.StartHeight, attested, all, r.Threshold, st.Pending.Version)
	}
	return nil
}

func newValidatorAddCmd(g *globals) *cobra.Command {
	var a adminTx
	var pubkey, operator, moniker string
	var power int64
	cmd := &cobra.Command{
		Use:   "add --pubkey (BASE64 | priv_validator_key.json) --power P --operator ADDRESS [--moniker M] --from admin",
		Short: "Add a validator (it signs from two blocks after the one including this transaction)",
		Long: `Add a validator. --pubkey is its CometBFT consensus key: base64 of the ed25519 public key,
or the new node's config/priv_validator_key.json (only the public key is read). --operator is
the account that signs its install attestations (vchaind runtime attest). Its power counts
for upgrade readiness only once it has attested.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keyType, pub, err := readPubKey(pubkey)
			if err != nil {
				return err
			}
			op, err := tx.ParseAddress(operator)
			if err != nil {
				return fmt.Errorf("--operator: %w", err)
			}
			if power <= 0 {
				return errors.New("--power must be at least 1")
			}
			addr, _ := upgrade.ConsensusAddress(keyType, pub)
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			mem, err := membership(cmd.Context(), c)
			if err != nil {
				return err
			}
			params, err := c.Params(cmd.Context())
			if err != nil {
				return err
			}
			if !slices.Contains(params.PubKeyTypes, keyType) {
				return fmt.Errorf("key type %s is not allowed by the chain's consensus parameters (%v)", keyType, params.PubKeyTypes)
			}
			for _, v := range mem.Validators {
				if v.Address == addr {
					return fmt.Errorf("validator %s (%s) is in the set already: use `vchaind validator update %s --power P`", addr, v.Moniker, addr)
				}
			}
			if err := checkChange(cmd, c, mem, addr, power); err != nil {
				return fmt.Errorf("refusing to add %s: %w", addr, err)
			}
			return a.send(cmd, g, c, func(b *txv1.TxBody) {
				b.Msg = &txv1.TxBody_AddValidator{AddValidator: &txv1.AddValidator{PubKeyType: keyType, PubKey: pub, Power: power, Operator: op.String(), Moniker: moniker}}
			})
		},
	}
	cmd.Flags().StringVar(&pubkey, "pubkey", "", "consensus public key: base64 ed25519, or a priv_validator_key.json")
	cmd.Flags().Int64Var(&power, "power", 0, "voting power")
	cmd.Flags().StringVar(&operator, "operator", "", "operator account address (hex) that attests for the validator")
	cmd.Flags().StringVar(&moniker, "moniker", "", "a name for people")
	_ = cmd.MarkFlagRequired("pubkey")
	_ = cmd.MarkFlagRequired("power")
	_ = cmd.MarkFlagRequired("operator")
	a.flags(cmd, "change")
	return cmd
}

// findValidator returns the validator addr names in mem (refusing an unknown one).
func findValidator(mem *executor.Membership, s string) (*executor.ValidatorInfo, error) {
	addr, err := tx.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("validator: %w", err)
	}
	for i, v := range mem.Validators {
		if v.Address == addr.String() && v.Power > 0 {
			return &mem.Validators[i], nil
		}
	}
	return nil, fmt.Errorf("%s is not in the validator set (vchaind validator list)", addr)
}

func newValidatorUpdateCmd(g *globals) *cobra.Command {
	var a adminTx
	var power int64
	cmd := &cobra.Command{
		Use:   "update VALIDATOR --power P --from admin",
		Short: "Set a validator's voting power; --power 0 removes it (its node keeps running as a full node)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if power < 0 {
				return errors.New("--power must be 0 (remove) or more")
			}
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			mem, err := membership(cmd.Context(), c)
			if err != nil {
				return err
			}
			v, err := findValidator(mem, args[0])
			if err != nil {
				return err
			}
			if err := checkChange(cmd, c, mem, v.Address, power); err != nil {
				return fmt.Errorf("refusing to set %s to power %d: %w", v.Address, power, err)
			}
			return a.send(cmd, g, c, func(b *txv1.TxBody) {
				b.Msg = &txv1.TxBody_UpdateValidator{UpdateValidator: &txv1.UpdateValidator{Validator: v.Address, Power: power}}
			})
		},
	}
	cmd.Flags().Int64Var(&power, "power", -1, "new voting power (0 removes the validator)")
	_ = cmd.MarkFlagRequired("power")
	a.flags(cmd, "change")
	return cmd
}

func newValidatorRotateCmd(g *globals) *cobra.Command {
	var a adminTx
	var operator string
	cmd := &cobra.Command{
		Use:   "rotate-operator VALIDATOR --operator ADDRESS --from admin",
		Short: "Give a validator a new operator account; the old one's attestations are refused from then on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := tx.ParseAddress(operator)
			if err != nil {
				return fmt.Errorf("--operator: %w", err)
			}
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			mem, err := membership(cmd.Context(), c)
			if err != nil {
				return err
			}
			v, err := findValidator(mem, args[0])
			if err != nil {
				return err
			}
			if v.Operator == op.String() {
				return fmt.Errorf("%s is already the operator of %s", op, v.Address)
			}
			return a.send(cmd, g, c, func(b *txv1.TxBody) {
				b.Msg = &txv1.TxBody_RotateOperator{RotateOperator: &txv1.RotateOperator{Validator: v.Address, Operator: op.String()}}
			})
		},
	}
	cmd.Flags().StringVar(&operator, "operator", "", "the new operator account address (hex)")
	_ = cmd.MarkFlagRequired("operator")
	a.flags(cmd, "rotation")
	return cmd
}

func newValidatorListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "The validators: address, power, operator, moniker, attested versions and profiles, since height",
		Long: `The validators: every one in the set after the accepted changes, and any removed one still
signing. POWER is after every accepted change, SIGNING the power in the set signing the next
block (they differ for two blocks after a change).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			mem, err := membership(cmd.Context(), c)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return newPrinter(cmd.OutOrStdout(), g).print(mem.Validators)
			}
			printValidators(cmd.OutOrStdout(), mem)
			return nil
		},
	}
}

func printValidators(w io.Writer, mem *executor.Membership) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tMONIKER\tPOWER\tSIGNING\tOPERATOR\tATTESTED\tPROFILES\tSINCE")
	for _, v := range mem.Validators {
		att, profiles := attestedColumns(v.Attested, v.Profiles)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%d\n", v.Address, v.Moniker, v.Power, v.SigningPower, v.Operator, att, profiles, v.SinceHeight)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nheight %d, total power %d\n", mem.Height, mem.TotalPower)
}

func newAdminCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Admin set and approvals: propose an admin action, approve one, list proposals",
		Long: `With an admin threshold of M of N (genesis app_state.admin_threshold), an admin action is
proposed by one admin and executes in the block where approvals of current admins reach M,
with every check it has applied then (readiness for a schedule); it expires after
app_state.proposal_expiry_blocks blocks.

  vchaind admin propose upgrade schedule 2 --in 20 --from alice
  vchaind admin proposals
  vchaind admin approve 1 --from bob
  vchaind admin propose set-admins --admin ADDR --admin ADDR --threshold 1 --from alice`,
	}
	addKeyringFlags(cmd, g)
	propose := &cobra.Command{
		Use:         "propose",
		Short:       "Propose an admin action (any admin command below) for the other admins to approve",
		Annotations: map[string]string{proposeAnnotation: "true"},
	}
	up := &cobra.Command{Use: "upgrade", Short: "Propose a release registration, a schedule or a cancel"}
	up.AddCommand(newRegisterCmd(g), newScheduleCmd(g), newCancelCmd(g))
	val := &cobra.Command{Use: "validator", Short: "Propose a validator change"}
	val.AddCommand(newValidatorAddCmd(g), newValidatorUpdateCmd(g), newValidatorRotateCmd(g))
	propose.AddCommand(up, val, newSetAdminsCmd(g))
	cmd.AddCommand(propose, newApproveCmd(g), newProposalsCmd(g), newSetAdminsCmd(g))
	return cmd
}

func newSetAdminsCmd(g *globals) *cobra.Command {
	var a adminTx
	var admins []string
	var threshold uint32
	cmd := &cobra.Command{
		Use:   "set-admins --admin ADDRESS [--admin ADDRESS ...] --threshold M --from admin",
		Short: "Replace the admin set and its approval threshold",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var list []string
			for _, s := range admins {
				addr, err := tx.ParseAddress(s)
				if err != nil {
					return fmt.Errorf("--admin: %w", err)
				}
				if slices.Contains(list, addr.String()) {
					return fmt.Errorf("--admin %s given twice", addr)
				}
				list = append(list, addr.String())
			}
			if len(list) == 0 || threshold == 0 || int(threshold) > len(list) {
				return fmt.Errorf("--threshold %d: must be between 1 and the %d admins", threshold, len(list))
			}
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			return a.send(cmd, g, c, func(b *txv1.TxBody) {
				b.Msg = &txv1.TxBody_SetAdmins{SetAdmins: &txv1.SetAdmins{Admins: list, Threshold: threshold}}
			})
		},
	}
	cmd.Flags().StringArrayVar(&admins, "admin", nil, "an admin address (repeat for each)")
	cmd.Flags().Uint32Var(&threshold, "threshold", 1, "how many admins must approve an action")
	a.flags(cmd, "change")
	return cmd
}

func newApproveCmd(g *globals) *cobra.Command {
	var a adminTx
	cmd := &cobra.Command{
		Use:   "approve ID --from admin",
		Short: "Approve a proposal; it executes in the block where approvals reach the threshold",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || id == 0 {
				return fmt.Errorf("proposal id %q: want a number >= 1", args[0])
			}
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			mem, err := membership(cmd.Context(), c)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(mem.Proposals, func(p executor.ProposalInfo) bool { return p.ID == id })
			if i < 0 {
				return fmt.Errorf("no proposal %d (vchaind admin proposals)", id)
			}
			if p := mem.Proposals[i]; p.Status != "waiting" {
				return fmt.Errorf("proposal %d is %s", id, p.Status)
			}
			return a.send(cmd, g, c, func(b *txv1.TxBody) { b.Msg = &txv1.TxBody_Approve{Approve: &txv1.Approve{Id: id}} })
		},
	}
	a.flags(cmd, "approval")
	return cmd
}

func newProposalsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "proposals",
		Short: "The admins, the threshold, and every proposal with its approvals and status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client.New(g.node)
			if err != nil {
				return err
			}
			mem, err := membership(cmd.Context(), c)
			if err != nil {
				return err
			}
			type out struct {
				Admins    []string                `json:"admins"`
				Threshold uint32                  `json:"admin_threshold"`
				Expiry    uint64                  `json:"proposal_expiry_blocks"`
				Proposals []executor.ProposalInfo `json:"proposals"`
			}
			if g.output == "json" {
				return newPrinter(cmd.OutOrStdout(), g).print(out{mem.Admins, mem.AdminThreshold, mem.ProposalExpiry, mem.Proposals})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "admins: %s (%d of %d must approve; proposals expire after %d blocks)\n\n", strings.Join(mem.Admins, ", "), mem.AdminThreshold, len(mem.Admins), mem.ProposalExpiry)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tACTION\tSTATUS\tAPPROVALS\tPROPOSED\tEXPIRES\tDETAIL")
			for _, p := range mem.Proposals {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%s\n", p.ID, p.Action, p.Status, len(p.Approvals), p.ProposedHeight, p.ExpiresHeight, p.Detail)
			}
			return tw.Flush()
		},
	}
}

// adminMsg checks an admin message before it is signed (the sender is an admin; a direct
// action needs a threshold of one) and, under `admin propose`, wraps it in a proposal.
func adminMsg(cmd *cobra.Command, c *client.Client, sender string, setMsg func(*txv1.TxBody)) (func(*txv1.TxBody), error) {
	probe := &txv1.TxBody{}
	setMsg(probe)
	switch probe.Msg.(type) {
	case *txv1.TxBody_AttestInstall, *txv1.TxBody_Call:
		return setMsg, nil
	}
	if err := checkAdminPath(cmd, c, sender, probe); err != nil {
		return nil, err
	}
	if !proposing(cmd) {
		return setMsg, nil
	}
	return func(b *txv1.TxBody) {
		setMsg(b)
		b.Msg = &txv1.TxBody_Propose{Propose: &txv1.Propose{Action: tx.BodyAction(b)}}
	}, nil
}
