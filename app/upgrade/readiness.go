package upgrade

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"slices"

	"github.com/vchain/vchain/app/genesis"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// VersionRef is a runtime version and its sha256 (hex), as shown to people and scripts.
type VersionRef struct {
	Version    uint64 `json:"version"`
	CodeSHA256 string `json:"code_sha256"`
}

// ValidatorReadiness is one validator's part in a readiness check.
type ValidatorReadiness struct {
	Address  string       `json:"address"`
	Moniker  string       `json:"moniker,omitempty"`
	Operator string       `json:"operator"`
	Power    int64        `json:"power"`
	Attested []VersionRef `json:"attested"`
	// Profiles are the execution profiles this validator's vchaind carries, as attested.
	Profiles []uint32 `json:"profiles"`
	// HasVersion: this validator attested exactly the version and sha256 checked, and a
	// binary that carries the release's profile.
	HasVersion bool `json:"has_version"`
	// HasProfile: this validator's binary carries the release's profile.
	HasProfile bool `json:"has_profile"`
}

// Readiness says whether enough voting power has installed a release.
type Readiness struct {
	Version       uint64               `json:"version"`
	CodeSHA256    string               `json:"code_sha256"`
	Profile       uint32               `json:"profile"`
	AttestedPower int64                `json:"attested_power"`
	TotalPower    int64                `json:"total_power"`
	Threshold     genesis.Fraction     `json:"threshold"`
	Ready         bool                 `json:"ready"`
	Validators    []ValidatorReadiness `json:"validators"`
}

// Readiness checks version/sha/profile against the attestations of the validator set: a
// validator counts when it attested the module and a binary carrying the profile; ready when
// attested power * den >= num * total power (exact integer arithmetic).
//
// It counts the latest validator set: the set that signs every height from the block after
// next, where a switch scheduled now can start at the earliest but one.
func (k Keeper) Readiness(version uint64, sha []byte, profile uint32, th genesis.Fraction) (*Readiness, error) {
	vals, err := k.Validators()
	if err != nil {
		return nil, err
	}
	return k.readinessOver(vals, version, sha, profile, th)
}

// ReadinessAt is Readiness counted over the set that will sign height start, as known in
// block now (see SigningSet): the set that will run the new version's first block.
func (k Keeper) ReadinessAt(start, now int64, version uint64, sha []byte, profile uint32, th genesis.Fraction) (*Readiness, error) {
	vals, err := k.SigningSet(start, now)
	if err != nil {
		return nil, err
	}
	return k.readinessOver(vals, version, sha, profile, th)
}

// readinessOver counts vals. An attestation counts only when made after the validator
// joined (a validator removed and added again attests again), and a validator outside vals
// counts nothing whatever it attested.
func (k Keeper) readinessOver(vals []*statev1.Validator, version uint64, sha []byte, profile uint32, th genesis.Fraction) (*Readiness, error) {
	r := &Readiness{Version: version, CodeSHA256: hex.EncodeToString(sha), Profile: profile, Threshold: th}
	for _, v := range vals {
		vr := ValidatorReadiness{Address: v.Address, Moniker: v.Moniker, Operator: v.Operator, Power: v.Power}
		a, err := k.Attestation(v.Address)
		if err != nil {
			return nil, err
		}
		hasModule := false
		if a != nil && v.SinceHeight > 0 && a.Height < v.SinceHeight-2 {
			a = nil // attested before it (last) joined
		}
		if a != nil {
			vr.Profiles = a.Profiles
			vr.HasProfile = slices.Contains(a.Profiles, profile)
			for _, iv := range a.Versions {
				vr.Attested = append(vr.Attested, VersionRef{Version: iv.Version, CodeSHA256: hex.EncodeToString(iv.CodeSha256)})
				if iv.Version == version && bytes.Equal(iv.CodeSha256, sha) {
					hasModule = true
				}
			}
		}
		vr.HasVersion = hasModule && vr.HasProfile
		r.TotalPower += v.Power
		if vr.HasVersion {
			r.AttestedPower += v.Power
		}
		r.Validators = append(r.Validators, vr)
	}
	lhs := new(big.Int).Mul(big.NewInt(r.AttestedPower), new(big.Int).SetUint64(th.Den))
	rhs := new(big.Int).Mul(big.NewInt(r.TotalPower), new(big.Int).SetUint64(th.Num))
	r.Ready = r.TotalPower > 0 && lhs.Cmp(rhs) >= 0
	return r, nil
}
