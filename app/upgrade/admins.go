package upgrade

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/contracts/abi"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// Event types of the admin set and its proposals.
const (
	EventAdminsChanged    = "admins_changed"
	EventProposalCreated  = "proposal_created"
	EventProposalApproved = "proposal_approved"
	EventProposalExecuted = "proposal_executed"
)

var (
	keyAdmins       = []byte("upgrade/admins")        // AdminSet
	keyNextProposal = []byte("upgrade/proposal_next") // u64: the id the next proposal gets
)

const prefixProposal = "upgrade/proposal/" // + u64 id -> Proposal

func proposalKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixProposal), id)
}

// ProposalPrefix is the key prefix of every proposal, in id order.
var ProposalPrefix = []byte(prefixProposal)

// AdminSet returns who administers the chain. InitChain records it from the genesis.
func (k Keeper) AdminSet() (*statev1.AdminSet, error) {
	var a statev1.AdminSet
	ok, err := get(k.s, keyAdmins, &a)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no admin set recorded: the chain has not been initialised")
	}
	return &a, nil
}

// SetAdminSet records the admin set.
func (k Keeper) SetAdminSet(a *statev1.AdminSet) error { return k.put(keyAdmins, a) }

// Proposal returns proposal id, or nil.
func (k Keeper) Proposal(id uint64) (*statev1.Proposal, error) {
	var p statev1.Proposal
	ok, err := get(k.s, proposalKey(id), &p)
	if !ok || err != nil {
		return nil, err
	}
	return &p, nil
}

// isAdminAction reports whether m is an action only admins take (directly with a
// threshold of one, through a proposal otherwise).
func isAdminAction(m any) bool {
	switch m.(type) {
	case *txv1.TxBody_RegisterRelease, *txv1.TxBody_ScheduleUpgrade, *txv1.TxBody_CancelUpgrade,
		*txv1.TxBody_AddValidator, *txv1.TxBody_UpdateValidator, *txv1.TxBody_RotateOperator, *txv1.TxBody_SetAdmins:
		return true
	}
	return false
}

// IsMembership reports whether m changes the validator or admin set, or is a proposal or
// approval: CheckTx runs these against committed state, so it refuses what the block
// would refuse.
func IsMembership(m any) bool {
	switch m.(type) {
	case *txv1.TxBody_AddValidator, *txv1.TxBody_UpdateValidator, *txv1.TxBody_RotateOperator, *txv1.TxBody_SetAdmins,
		*txv1.TxBody_Propose, *txv1.TxBody_Approve:
		return true
	}
	return false
}

// Authorize checks who may send m, before anything else (CheckTx uses it too): admins
// for admin actions, proposals and approvals (an admin action directly only while the
// admin threshold is one), a validator's own operator for its attestation.
func (k Keeper) Authorize(sender string, m any) (*codes.Error, error) {
	switch m := m.(type) {
	case *txv1.TxBody_Call:
		return nil, nil
	case *txv1.TxBody_AttestInstall:
		return k.authorizeAttestation(sender, m.AttestInstall)
	}
	admins, err := k.AdminSet()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(admins.Admins, sender) {
		return codes.Errorf(codes.Unauthorized, "%s is not an admin of this chain", sender), nil
	}
	if isAdminAction(m) && admins.Threshold > 1 {
		return codes.Errorf(codes.NeedsApproval, "this chain needs %d of its %d admins to approve an admin action: propose it (vchaind admin propose ...)", admins.Threshold, len(admins.Admins)), nil
	}
	return nil, nil
}

// authorizeAttestation admits an attestation signed by the current operator of a validator
// of the latest set (one just added may attest at once; after a rotation the old operator
// is refused).
func (k Keeper) authorizeAttestation(sender string, a *txv1.AttestInstall) (*codes.Error, error) {
	vals, err := k.Validators()
	if err != nil {
		return nil, err
	}
	want := strings.ToUpper(a.Validator)
	i := slices.IndexFunc(vals, func(v *statev1.Validator) bool { return v.Address == want })
	if i < 0 {
		return codes.Errorf(codes.UnknownValidator, "%s is not in the validator set", want), nil
	}
	if vals[i].Operator != sender {
		return codes.Errorf(codes.Unauthorized, "attestations for validator %s must be signed by its operator %s, not %s", want, vals[i].Operator, sender), nil
	}
	return nil, nil
}

// Deliver applies a lifecycle, membership or admin message (after Authorize).
func (k Keeper) Deliver(c Context, m any) (Result, error) {
	switch m := m.(type) {
	case *txv1.TxBody_AttestInstall:
		return k.AttestInstall(c, m.AttestInstall)
	case *txv1.TxBody_Propose:
		return k.Propose(c, m.Propose)
	case *txv1.TxBody_Approve:
		return k.Approve(c, m.Approve)
	}
	return k.apply(c, m)
}

// apply executes an admin action.
func (k Keeper) apply(c Context, m any) (Result, error) {
	switch m := m.(type) {
	case *txv1.TxBody_RegisterRelease:
		return k.RegisterRelease(c, m.RegisterRelease)
	case *txv1.TxBody_ScheduleUpgrade:
		return k.ScheduleUpgrade(c, m.ScheduleUpgrade)
	case *txv1.TxBody_CancelUpgrade:
		return k.CancelUpgrade(c, m.CancelUpgrade)
	case *txv1.TxBody_AddValidator:
		return k.AddValidator(c, m.AddValidator)
	case *txv1.TxBody_UpdateValidator:
		return k.UpdateValidator(c, m.UpdateValidator)
	case *txv1.TxBody_RotateOperator:
		return k.RotateOperator(c, m.RotateOperator)
	case *txv1.TxBody_SetAdmins:
		return k.SetAdmins(c, m.SetAdmins)
	}
	return Result{}, fmt.Errorf("message type %T passed decoding but has no handler", m)
}

// SetAdmins replaces the admin set and threshold, keeping the proposal expiry.
func (k Keeper) SetAdmins(c Context, m *txv1.SetAdmins) (Result, error) {
	old, err := k.AdminSet()
	if err != nil {
		return Result{}, err
	}
	admins := make([]string, len(m.Admins))
	for j, a := range m.Admins {
		admins[j] = normAddr(a)
	}
	if err := k.SetAdminSet(&statev1.AdminSet{Admins: admins, Threshold: m.Threshold, ProposalExpiry: old.ProposalExpiry}); err != nil {
		return Result{}, err
	}
	return ok(event(EventAdminsChanged, "admins", strings.Join(admins, ","), "threshold", u(uint64(m.Threshold)),
		"old_admins", strings.Join(old.Admins, ","), "old_threshold", u(uint64(old.Threshold)), "height", i(c.Height)))
}

// Propose records an action with the proposer's approval; with a threshold of one it
// executes at once.
func (k Keeper) Propose(c Context, m *txv1.Propose) (Result, error) {
	admins, err := k.AdminSet()
	if err != nil {
		return Result{}, err
	}
	raw, err := k.s.Get(keyNextProposal)
	if err != nil {
		return Result{}, err
	}
	id := uint64(1)
	if raw != nil {
		if len(raw) != 8 {
			return Result{}, fmt.Errorf("record %q is corrupt", keyNextProposal)
		}
		id = binary.BigEndian.Uint64(raw)
	}
	k.s.Set(keyNextProposal, binary.BigEndian.AppendUint64(nil, id+1))
	action, err := m.Action.Marshal()
	if err != nil {
		return Result{}, fmt.Errorf("encode proposal action: %w", err)
	}
	p := &statev1.Proposal{Id: id, Action: action, Proposer: c.Sender, Approvals: []string{c.Sender},
		ProposedHeight: c.Height, ExpiresHeight: c.Height + int64(admins.ProposalExpiry)}
	created := event(EventProposalCreated, "id", u(id), "action", ActionName(m.Action), "proposer", c.Sender,
		"expires_height", i(p.ExpiresHeight), "height", i(c.Height))
	return k.approved(c, p, admins, created)
}

// Approve adds the sender's approval; the action executes when approvals reach the
// threshold. A refused action refuses the approval too (nothing is recorded), so the
// admins can approve again once the action can run (e.g. once validators have attested).
func (k Keeper) Approve(c Context, m *txv1.Approve) (Result, error) {
	p, err := k.Proposal(m.Id)
	if err != nil {
		return Result{}, err
	}
	if p == nil {
		return refuse(codes.UnknownProposal, "no proposal %d (vchaind admin proposals lists them)", m.Id)
	}
	if p.ExecutedHeight != 0 {
		return refuse(codes.UnknownProposal, "proposal %d executed at height %d already", m.Id, p.ExecutedHeight)
	}
	if c.Height > p.ExpiresHeight {
		return refuse(codes.ProposalExpired, "proposal %d expired at height %d: propose it again", m.Id, p.ExpiresHeight)
	}
	if slices.Contains(p.Approvals, c.Sender) {
		return refuse(codes.AlreadyApproved, "%s approved proposal %d already", c.Sender, m.Id)
	}
	admins, err := k.AdminSet()
	if err != nil {
		return Result{}, err
	}
	p.Approvals = append(p.Approvals, c.Sender)
	return k.approved(c, p, admins, event(EventProposalApproved, "id", u(p.Id), "approver", c.Sender, "height", i(c.Height)))
}

// approved records p after an approval and executes its action when the approvals of
// current admins reach the threshold (an approval by an admin since removed no longer
// counts).
func (k Keeper) approved(c Context, p *statev1.Proposal, admins *statev1.AdminSet, ev abi.Event) (Result, error) {
	count := 0
	for _, a := range p.Approvals {
		if slices.Contains(admins.Admins, a) {
			count++
		}
	}
	events := []abi.Event{ev}
	if count >= int(admins.Threshold) {
		var action txv1.AdminAction
		if err := action.Unmarshal(p.Action); err != nil {
			return Result{}, fmt.Errorf("proposal %d: stored action is corrupt: %w", p.Id, err)
		}
		body := tx.ActionBody(&action)
		if body == nil {
			return Result{}, fmt.Errorf("proposal %d: stored action is empty", p.Id)
		}
		// The action runs as it would sent directly, with every check it has (readiness
		// is counted now, at execution, not when proposed).
		res, err := k.apply(c, body.Msg)
		if err != nil || res.Refusal != nil {
			if res.Refusal != nil {
				res.Refusal.Msg = fmt.Sprintf("proposal %d reached %d of %d approvals but its %s was refused: %s", p.Id, count, admins.Threshold, ActionName(&action), res.Refusal.Msg)
			}
			return res, err
		}
		p.ExecutedHeight = c.Height
		events = append(events, res.Events...)
		events = append(events, event(EventProposalExecuted, "id", u(p.Id), "action", ActionName(&action), "approvals", strconv.Itoa(count), "height", i(c.Height)))
	}
	if err := k.put(proposalKey(p.Id), p); err != nil {
		return Result{}, err
	}
	return ok(events...)
}

// ActionName names an admin action for people ("schedule_upgrade").
func ActionName(a *txv1.AdminAction) string {
	b := tx.ActionBody(a)
	if b == nil || b.Msg == nil {
		return "none"
	}
	return tx.MsgName(b.Msg)
}
