package upgrade

import (
	"encoding/hex"
	"slices"

	"github.com/vchain/vchain/app/codes"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// Event types of membership.
const (
	EventValidatorAdded   = "validator_added"
	EventValidatorUpdated = "validator_updated"
	EventValidatorRemoved = "validator_removed"
	EventOperatorRotated  = "operator_rotated"
)

// AddValidator adds a validator to the latest set; it signs from the block after next.
func (k Keeper) AddValidator(c Context, m *txv1.AddValidator) (Result, error) {
	if !slices.Contains(c.PubKeyTypes, m.PubKeyType) {
		return refuse(codes.KeyTypeNotAllowed, "key type %q is not allowed by the consensus parameters (validator.pub_key_types: %v)", m.PubKeyType, c.PubKeyTypes)
	}
	addr, err := ConsensusAddress(m.PubKeyType, m.PubKey)
	if err != nil {
		// checkMsg refuses a malformed key before a block; this is a second guard.
		return refuse(codes.InvalidMessage, "add_validator: %v", err)
	}
	if m.Power > MaxTotalVotingPower {
		return refuse(codes.PowerOverflow, "power %d exceeds CometBFT's maximum total voting power %d", m.Power, MaxTotalVotingPower)
	}
	latest, err := k.Validators()
	if err != nil {
		return Result{}, err
	}
	if v := findKey(latest, m.PubKeyType, m.PubKey); v != nil || indexOf(latest, addr) >= 0 {
		if v == nil {
			v = latest[indexOf(latest, addr)]
		}
		return refuse(codes.DuplicateValidatorKey, "consensus key %X is already validator %s (in the set, or added earlier in this block): a key joins once; to change its power use update", m.PubKey, describe(v))
	}
	v := &statev1.Validator{Address: addr, Power: m.Power, Operator: normAddr(m.Operator), Moniker: m.Moniker,
		PubKeyType: m.PubKeyType, PubKey: m.PubKey, SinceHeight: c.Height + 2}
	if err := k.SetValidators(append(slices.Clone(latest), v)); err != nil {
		return Result{}, err
	}
	if r, err := k.checkSet(c); r.Refusal != nil || err != nil {
		return r, err
	}
	return ok(event(EventValidatorAdded, "validator", addr, "power", i(m.Power), "operator", v.Operator, "moniker", m.Moniker,
		"pub_key", hex.EncodeToString(m.PubKey), "since_height", i(v.SinceHeight), "height", i(c.Height)))
}

// UpdateValidator sets a validator's power; 0 removes it.
func (k Keeper) UpdateValidator(c Context, m *txv1.UpdateValidator) (Result, error) {
	addr := normAddr(m.Validator)
	if m.Power > MaxTotalVotingPower {
		return refuse(codes.PowerOverflow, "power %d exceeds CometBFT's maximum total voting power %d", m.Power, MaxTotalVotingPower)
	}
	latest, err := k.Validators()
	if err != nil {
		return Result{}, err
	}
	j := indexOf(latest, addr)
	if j < 0 {
		return refuse(codes.UnknownValidator, "%s is not in the validator set (vchaind validator list shows it)", addr)
	}
	old := latest[j]
	next := slices.Clone(latest)
	typ := EventValidatorUpdated
	if m.Power == 0 {
		next = slices.Delete(next, j, j+1)
		typ = EventValidatorRemoved
	} else {
		v := *old
		v.Power = m.Power
		next[j] = &v
	}
	if err := k.SetValidators(next); err != nil {
		return Result{}, err
	}
	if r, err := k.checkSet(c); r.Refusal != nil || err != nil {
		return r, err
	}
	return ok(event(typ, "validator", addr, "power", i(m.Power), "old_power", i(old.Power), "moniker", old.Moniker,
		"effective_height", i(c.Height+2), "height", i(c.Height)))
}

// RotateOperator gives a validator a new operator account, in force at once: the old
// account's attestations are refused from the next transaction.
func (k Keeper) RotateOperator(c Context, m *txv1.RotateOperator) (Result, error) {
	addr, op := normAddr(m.Validator), normAddr(m.Operator)
	latest, err := k.Validators()
	if err != nil {
		return Result{}, err
	}
	j := indexOf(latest, addr)
	if j < 0 {
		return refuse(codes.UnknownValidator, "%s is not in the validator set (vchaind validator list shows it)", addr)
	}
	old := latest[j].Operator
	rotate := func(vs []*statev1.Validator) []*statev1.Validator {
		out := slices.Clone(vs)
		if j := indexOf(out, addr); j >= 0 {
			v := *out[j]
			v.Operator = op
			out[j] = &v
		}
		return out
	}
	if err := k.SetValidators(rotate(latest)); err != nil {
		return Result{}, err
	}
	active, err := k.ActiveValidators()
	if err != nil {
		return Result{}, err
	}
	if err := k.SetActiveValidators(rotate(active)); err != nil {
		return Result{}, err
	}
	return ok(event(EventOperatorRotated, "validator", addr, "operator", op, "old_operator", old, "height", i(c.Height)))
}

// checkSet checks the latest set after a change of block c.Height: it must not be empty
// nor exceed CometBFT's total power; the power changed between the set signing this block
// and the set signing from c.Height+2 must be at most a third of the former (so the two
// overlap by more than two thirds: a light client trusting one can verify the other); and
// a pending switch whose start height the change reaches must stay ready.
func (k Keeper) checkSet(c Context) (Result, error) {
	latest, err := k.Validators()
	if err != nil {
		return Result{}, err
	}
	if len(latest) == 0 {
		return refuse(codes.EmptyValidatorSet, "the change would leave the validator set empty: CometBFT cannot run without a validator")
	}
	var total int64
	for _, v := range latest {
		if total += v.Power; total > MaxTotalVotingPower {
			return refuse(codes.PowerOverflow, "the set's total power would exceed CometBFT's maximum %d", MaxTotalVotingPower)
		}
	}
	active, err := k.ActiveValidators()
	if err != nil {
		return Result{}, err
	}
	// Powers are at most MaxTotalVotingPower (2^60), so three times a sum of two sets'
	// powers stays within int64.
	if d, t := powerChange(active, latest), totalPower(active); 3*d > t {
		return refuse(codes.PowerChangeTooLarge, "the changes waiting to take force would move %d of the %d voting power now signing, more than a third: make the change in steps, one every two blocks", d, t)
	}
	p, err := k.Pending()
	if err != nil || p == nil || p.StartHeight < c.Height+2 {
		return Result{}, err
	}
	r, err := k.ReadinessAt(p.StartHeight, c.Height, p.Version, p.CodeSha256, p.Profile, c.Threshold)
	if err != nil {
		return Result{}, err
	}
	if !r.Ready {
		return refuse(codes.SwitchWouldBeUnready, "the pending switch to version %d at height %d would be attested by %d of %d voting power, below the install threshold %s: cancel it, or have the new validator install and attest the version first",
			p.Version, p.StartHeight, r.AttestedPower, r.TotalPower, c.Threshold)
	}
	return Result{}, nil
}
