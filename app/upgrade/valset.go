package upgrade

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/cometbft/cometbft/crypto/secp256k1"

	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// The validator set has three records, because CometBFT applies a validator update
// returned at height H from H+2 (H+1 is already signed by the set that H chose):
//
//   - the latest set (keyValidators): every accepted change applied. It decides what a
//     new change is checked against (duplicate keys, unknown validators, an empty set), who
//     may attest, and it is the set that signs every height from the next block but one.
//   - the active set (keyActiveValidators): the set signing the current block.
//   - the changes of each block not yet in force (valUpdatesKey(H)): what FinalizeBlock
//     returned to CometBFT at H, applied to the active set at the start of H+2.
//
// A validator's operator and moniker are not consensus data: a rotation changes them in
// both sets at once.

// Key types CometBFT knows for validators.
const (
	KeyTypeEd25519   = "ed25519"
	KeyTypeSecp256k1 = "secp256k1"
)

// MaxTotalVotingPower is CometBFT's bound on a validator set's total power
// (types.MaxTotalVotingPower): an update beyond it halts CometBFT, so the app refuses it.
const MaxTotalVotingPower = int64(^uint64(0)>>1) / 8

var (
	keyActiveValidators = []byte("upgrade/validators_active") // ValidatorSet in force
	prefixValUpdates    = "upgrade/valupdates/"               // + u64 height -> ValidatorSet changed at that height
)

func valUpdatesKey(h int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixValUpdates), uint64(h))
}

// ConsensusAddress is the CometBFT address (upper-case hex) of a consensus key: for
// ed25519 the first 20 bytes of its sha256, for secp256k1 RIPEMD160(SHA256(key)).
func ConsensusAddress(keyType string, pub []byte) (string, error) {
	switch keyType {
	case KeyTypeEd25519:
		if len(pub) != 32 {
			return "", fmt.Errorf("an ed25519 key is 32 bytes, not %d", len(pub))
		}
		sum := sha256.Sum256(pub)
		return fmt.Sprintf("%X", sum[:20]), nil
	case KeyTypeSecp256k1:
		if len(pub) != secp256k1.PubKeySize {
			return "", fmt.Errorf("a secp256k1 key is %d bytes (compressed), not %d", secp256k1.PubKeySize, len(pub))
		}
		return secp256k1.PubKey(pub).Address().String(), nil
	}
	return "", fmt.Errorf("key type %q: want %s or %s", keyType, KeyTypeEd25519, KeyTypeSecp256k1)
}

// ActiveValidators returns the set signing the current block.
func (k Keeper) ActiveValidators() ([]*statev1.Validator, error) {
	var vs statev1.ValidatorSet
	if _, err := get(k.s, keyActiveValidators, &vs); err != nil {
		return nil, err
	}
	return vs.Validators, nil
}

// SetActiveValidators records the set signing the current block.
func (k Keeper) SetActiveValidators(vs []*statev1.Validator) error {
	return k.put(keyActiveValidators, &statev1.ValidatorSet{Validators: vs})
}

// blockUpdates returns the changes made at height h, nil when none are waiting.
func (k Keeper) blockUpdates(h int64) ([]*statev1.Validator, error) {
	var vs statev1.ValidatorSet
	if _, err := get(k.s, valUpdatesKey(h), &vs); err != nil {
		return nil, err
	}
	return vs.Validators, nil
}

// applyUpdates returns set with updates applied: power 0 removes, a known address takes
// the new power, an unknown one joins at the end. latest supplies the operator and moniker
// of a joining validator (a rotation may have changed them since the update was made).
func applyUpdates(set, updates, latest []*statev1.Validator) []*statev1.Validator {
	out := slices.Clone(set)
	for _, u := range updates {
		i := indexOf(out, u.Address)
		switch {
		case u.Power == 0 && i >= 0:
			out = slices.Delete(out, i, i+1)
		case u.Power == 0:
		case i >= 0:
			v := *out[i]
			v.Power = u.Power
			out[i] = &v
		default:
			v := *u
			if j := indexOf(latest, u.Address); j >= 0 {
				v.Operator, v.Moniker = latest[j].Operator, latest[j].Moniker
			}
			out = append(out, &v)
		}
	}
	return out
}

func indexOf(vs []*statev1.Validator, addr string) int {
	return slices.IndexFunc(vs, func(v *statev1.Validator) bool { return v.Address == addr })
}

// BeginBlockValidators brings the active set to height h: the changes made at h-2 take
// force now (CometBFT's timing).
func (k Keeper) BeginBlockValidators(h int64) error {
	ups, err := k.blockUpdates(h - 2)
	if err != nil || len(ups) == 0 {
		return err
	}
	active, err := k.ActiveValidators()
	if err != nil {
		return err
	}
	latest, err := k.Validators()
	if err != nil {
		return err
	}
	k.s.Delete(valUpdatesKey(h - 2))
	return k.SetActiveValidators(applyUpdates(active, ups, latest))
}

// EndBlockValidators returns the validator updates of block h: the difference between
// before, the latest set when the block began, and the latest set now. It is one entry per
// changed validator, in address order, so CometBFT never sees a key twice in a block (two
// changes of one validator in a block merge into its final power) nor the removal of a key
// it does not know (added and removed in the same block: no update). It records them to
// take force at h+2.
func (k Keeper) EndBlockValidators(h int64, before []*statev1.Validator) ([]*statev1.Validator, error) {
	after, err := k.Validators()
	if err != nil {
		return nil, err
	}
	var ups []*statev1.Validator
	for _, v := range after {
		if i := indexOf(before, v.Address); i < 0 || before[i].Power != v.Power {
			ups = append(ups, v)
		}
	}
	for _, v := range before {
		if indexOf(after, v.Address) < 0 {
			gone := *v
			gone.Power = 0
			ups = append(ups, &gone)
		}
	}
	if len(ups) == 0 {
		return nil, nil
	}
	slices.SortFunc(ups, func(a, b *statev1.Validator) int { return cmp.Compare(a.Address, b.Address) })
	return ups, k.put(valUpdatesKey(h), &statev1.ValidatorSet{Validators: ups})
}

// SigningSet returns the set that signs height start, as known in block now: the latest
// set from now+2 on; before that, the active set with the changes already returned to
// CometBFT that take force by start.
func (k Keeper) SigningSet(start, now int64) ([]*statev1.Validator, error) {
	latest, err := k.Validators()
	if err != nil || start >= now+2 {
		return latest, err
	}
	set, err := k.ActiveValidators()
	if err != nil {
		return nil, err
	}
	for h := now - 1; h+2 <= start; h++ {
		ups, err := k.blockUpdates(h)
		if err != nil {
			return nil, err
		}
		set = applyUpdates(set, ups, latest)
	}
	return set, nil
}

func totalPower(vs []*statev1.Validator) int64 {
	var t int64
	for _, v := range vs {
		t += v.Power
	}
	return t
}

// powerChange is the voting power that differs between two sets: the sum over validators
// of the absolute difference of their power (a validator absent from a set has power 0).
func powerChange(from, to []*statev1.Validator) int64 {
	var d int64
	for _, v := range to {
		old := int64(0)
		if i := indexOf(from, v.Address); i >= 0 {
			old = from[i].Power
		}
		d += max(v.Power-old, old-v.Power)
	}
	for _, v := range from {
		if indexOf(to, v.Address) < 0 {
			d += v.Power
		}
	}
	return d
}

// findKey returns the validator of latest holding the consensus key, or nil.
func findKey(vs []*statev1.Validator, keyType string, pub []byte) *statev1.Validator {
	for _, v := range vs {
		if v.PubKeyType == keyType && bytes.Equal(v.PubKey, pub) {
			return v
		}
	}
	return nil
}

func describe(v *statev1.Validator) string {
	if v.Moniker != "" {
		return fmt.Sprintf("%s (%s)", v.Address, v.Moniker)
	}
	return v.Address
}

func normAddr(s string) string { return strings.ToUpper(s) }
