package executor

import (
	"slices"

	"github.com/vchain/vchain/app/metrics"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/upgrade"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// RuntimeMetrics reads the runtime lifecycle from committed state (through the genesis
// writes before the first block) and this node's runtime directory, for the metrics the
// ABCI adapter refreshes after each commit. Readiness is of the pending version, else of
// the newest registered release, so a dashboard shows attestations arriving before the
// admin schedules anything.
func (e *Executor) RuntimeMetrics() (metrics.Runtime, error) {
	p := e.Params()
	if p == nil {
		return metrics.Runtime{}, nil // InitChain has not run: nothing to report yet
	}
	r := metrics.Runtime{Height: e.store.Height(), ThresholdNum: p.App.InstallThreshold.Num, ThresholdDen: p.App.InstallThreshold.Den}
	k := upgrade.NewKeeper(state.NewCache(e.committed()))
	eff, err := k.Effective()
	if err != nil {
		return r, err
	}
	r.EffectiveVersion, r.EffectiveProfile, r.EffectiveSince = eff.Version, eff.Profile, eff.SinceHeight
	for _, in := range e.installedOrNil() {
		if !slices.Contains(r.Installed, in.Version) {
			r.Installed = append(r.Installed, in.Version)
		}
	}
	slices.Sort(r.Installed)

	pend, err := k.Pending()
	if err != nil {
		return r, err
	}
	var version uint64
	var sha []byte
	var prof uint32
	if pend != nil {
		r.PendingVersion, r.PendingProfile, r.PendingStartHeight = pend.Version, pend.Profile, pend.StartHeight
		r.PendingBlocksLeft = max(0, pend.StartHeight-r.Height-1)
		version, sha, prof = pend.Version, pend.CodeSha256, pend.Profile
	} else {
		// Releases are keyed by big-endian version: the last one listed is the newest.
		if err := eachRecord(e.store, upgrade.ReleasePrefix, func(_ []byte, rel *statev1.Release) {
			version, sha, prof = rel.Version, rel.CodeSha256, rel.Profile
		}); err != nil {
			return r, err
		}
	}
	if version == 0 {
		return r, nil // before the first commit the genesis release is not in the store yet
	}
	rd, err := k.Readiness(version, sha, prof, p.App.InstallThreshold)
	if err != nil {
		return r, err
	}
	r.ReadinessVersion, r.AttestedPower, r.TotalPower, r.Ready = version, rd.AttestedPower, rd.TotalPower, rd.Ready
	return r, nil
}
