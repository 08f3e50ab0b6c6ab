package upgrade

import (
	"fmt"

	"github.com/vchain/vchain/app/state"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// Store is what the keeper reads and writes: a block's or a transaction's write set.
type Store interface {
	state.Reader
	Set(key, value []byte)
	Delete(key []byte)
}

// Keeper reads and writes the lifecycle records. It holds no state of its own.
type Keeper struct{ s Store }

// NewKeeper returns a keeper over s.
func NewKeeper(s Store) Keeper { return Keeper{s: s} }

type message interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

// get decodes key into m; it reports false when the key is absent.
func get(r state.Reader, key []byte, m message) (bool, error) {
	raw, err := r.Get(key)
	if err != nil || raw == nil {
		return false, err
	}
	if err := m.Unmarshal(raw); err != nil {
		return false, fmt.Errorf("record %q is corrupt: %w", key, err)
	}
	return true, nil
}

func (k Keeper) put(key []byte, m message) error {
	raw, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	k.s.Set(key, raw)
	return nil
}

// Effective returns the effective runtime record.
func (k Keeper) Effective() (*statev1.EffectiveRuntime, error) {
	var e statev1.EffectiveRuntime
	ok, err := get(k.s, state.KeyEffectiveRuntime, &e)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no effective runtime recorded: the chain has not been initialised")
	}
	return &e, nil
}

// SetEffective records the effective runtime and its entry in the history.
func (k Keeper) SetEffective(e *statev1.EffectiveRuntime) error {
	if err := k.put(state.KeyEffectiveRuntime, e); err != nil {
		return err
	}
	return k.put(historyKey(e.SinceHeight), &statev1.RuntimeVersion{Version: e.Version, CodeSha256: e.CodeSha256, Profile: e.Profile})
}

// Release returns the release of version, or nil.
func (k Keeper) Release(version uint64) (*statev1.Release, error) {
	var r statev1.Release
	ok, err := get(k.s, releaseKey(version), &r)
	if !ok || err != nil {
		return nil, err
	}
	return &r, nil
}

// SetRelease records a release.
func (k Keeper) SetRelease(r *statev1.Release) error { return k.put(releaseKey(r.Version), r) }

// Pending returns the pending switch, or nil.
func (k Keeper) Pending() (*statev1.PendingSwitch, error) {
	var p statev1.PendingSwitch
	ok, err := get(k.s, keyPending, &p)
	if !ok || err != nil {
		return nil, err
	}
	return &p, nil
}

// SetPending records the pending switch, replacing any other.
func (k Keeper) SetPending(p *statev1.PendingSwitch) error { return k.put(keyPending, p) }

// ClearPending removes the pending switch.
func (k Keeper) ClearPending() { k.s.Delete(keyPending) }

// Validators returns the validator set.
func (k Keeper) Validators() ([]*statev1.Validator, error) {
	var vs statev1.ValidatorSet
	if _, err := get(k.s, keyValidators, &vs); err != nil {
		return nil, err
	}
	return vs.Validators, nil
}

// SetValidators records the validator set.
func (k Keeper) SetValidators(vs []*statev1.Validator) error {
	return k.put(keyValidators, &statev1.ValidatorSet{Validators: vs})
}

// Attestation returns what validator last attested, or nil.
func (k Keeper) Attestation(validator string) (*statev1.Attestation, error) {
	var a statev1.Attestation
	ok, err := get(k.s, attestKey(validator), &a)
	if !ok || err != nil {
		return nil, err
	}
	return &a, nil
}

// SetAttestation records an attestation.
func (k Keeper) SetAttestation(a *statev1.Attestation) error { return k.put(attestKey(a.Validator), a) }
