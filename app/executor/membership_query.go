package executor

import (
	"encoding/base64"
	"encoding/hex"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/app/upgrade"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// ValidatorInfo is one validator as /membership shows it.
type ValidatorInfo struct {
	Address    string `json:"address"`
	Moniker    string `json:"moniker,omitempty"`
	Operator   string `json:"operator"`
	PubKeyType string `json:"pub_key_type"`
	PubKey     string `json:"pub_key"` // base64, as CometBFT's genesis and priv_validator_key.json write it
	// Power is the validator's power after every accepted change; SigningPower is its power
	// in the set signing the next block (0: not signing yet, or any more). They differ
	// for two blocks after a change (an update at H is in force from H+2).
	Power        int64 `json:"power"`
	SigningPower int64 `json:"signing_power"`
	// SinceHeight is the first height the validator signs (or signed).
	SinceHeight int64                `json:"since_height"`
	Attested    []upgrade.VersionRef `json:"attested"`
	Profiles    []uint32             `json:"profiles"`
	// AttestedHeight is the height of the validator's last attestation, 0 if none counts.
	AttestedHeight int64 `json:"attested_height"`
}

// ProposalInfo is an admin proposal as /membership shows it.
type ProposalInfo struct {
	ID             uint64   `json:"id"`
	Action         string   `json:"action"`
	Detail         string   `json:"detail"`
	Proposer       string   `json:"proposer"`
	Approvals      []string `json:"approvals"`
	ProposedHeight int64    `json:"proposed_height"`
	ExpiresHeight  int64    `json:"expires_height"`
	ExecutedHeight int64    `json:"executed_height,omitempty"`
	// Status is waiting, executed or expired.
	Status string `json:"status"`
}

// Membership is the JSON answer of /membership: the validators (every one in the latest
// set or still signing), the admins and the proposals.
type Membership struct {
	Height         int64           `json:"height"`
	Validators     []ValidatorInfo `json:"validators"`
	TotalPower     int64           `json:"total_power"`
	Admins         []string        `json:"admins"`
	AdminThreshold uint32          `json:"admin_threshold"`
	ProposalExpiry uint64          `json:"proposal_expiry_blocks"`
	Proposals      []ProposalInfo  `json:"proposals"`
}

func (e *Executor) membership() (*Membership, *codes.Error) {
	if e.Params() == nil {
		return nil, codes.Errorf(QueryNotFound, "the chain has not been initialised")
	}
	k := upgrade.NewKeeper(state.NewCache(e.committed()))
	out := &Membership{Height: e.store.Height()}
	latest, err := k.Validators()
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "%v", err)
	}
	// The set signing the next block: the active set with the changes that take force then.
	next := e.NextHeight()
	if err := k.BeginBlockValidators(next); err != nil {
		return nil, codes.Errorf(QueryFailed, "%v", err)
	}
	signing, err := k.ActiveValidators()
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "%v", err)
	}
	add := func(v *statev1.Validator) error {
		vi := ValidatorInfo{Address: v.Address, Moniker: v.Moniker, Operator: v.Operator, PubKeyType: v.PubKeyType,
			PubKey: base64.StdEncoding.EncodeToString(v.PubKey), SinceHeight: v.SinceHeight}
		for _, s := range signing {
			if s.Address == v.Address {
				vi.SigningPower = s.Power
			}
		}
		if a, err := k.Attestation(v.Address); err != nil {
			return err
		} else if a != nil && (v.SinceHeight == 0 || a.Height >= v.SinceHeight-2) {
			vi.Profiles, vi.AttestedHeight = a.Profiles, a.Height
			for _, iv := range a.Versions {
				vi.Attested = append(vi.Attested, upgrade.VersionRef{Version: iv.Version, CodeSHA256: hex.EncodeToString(iv.CodeSha256)})
			}
		}
		out.Validators = append(out.Validators, vi)
		return nil
	}
	for _, v := range latest {
		vi := v
		if err := add(vi); err != nil {
			return nil, codes.Errorf(QueryFailed, "%v", err)
		}
		out.Validators[len(out.Validators)-1].Power = v.Power
		out.TotalPower += v.Power
	}
	for _, v := range signing { // removed, still signing for a block or two
		if !containsAddr(latest, v.Address) {
			if err := add(v); err != nil {
				return nil, codes.Errorf(QueryFailed, "%v", err)
			}
		}
	}
	admins, err := k.AdminSet()
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "%v", err)
	}
	out.Admins, out.AdminThreshold, out.ProposalExpiry = admins.Admins, admins.Threshold, admins.ProposalExpiry
	err = eachRecord(e.store, upgrade.ProposalPrefix, func(_ []byte, p *statev1.Proposal) {
		var a txv1.AdminAction
		_ = a.Unmarshal(p.Action) // a corrupt action shows as "none"
		pi := ProposalInfo{ID: p.Id, Action: upgrade.ActionName(&a), Proposer: p.Proposer, Approvals: p.Approvals,
			ProposedHeight: p.ProposedHeight, ExpiresHeight: p.ExpiresHeight, ExecutedHeight: p.ExecutedHeight, Status: "waiting"}
		if b := tx.ActionBody(&a); b != nil {
			pi.Detail = b.String()
		}
		switch {
		case p.ExecutedHeight != 0:
			pi.Status = "executed"
		case next > p.ExpiresHeight:
			pi.Status = "expired"
		}
		out.Proposals = append(out.Proposals, pi)
	})
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "%v", err)
	}
	return out, nil
}

func containsAddr(vs []*statev1.Validator, addr string) bool {
	for _, v := range vs {
		if v.Address == addr {
			return true
		}
	}
	return false
}
