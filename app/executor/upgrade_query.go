package executor

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/upgrade"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// PendingInfo is the pending switch as /upgrade/status shows it.
type PendingInfo struct {
	upgrade.VersionRef
	StartHeight     int64  `json:"start_height"`
	ScheduledHeight int64  `json:"scheduled_height"`
	Profile         uint32 `json:"profile"`
	// BlocksLeft counts the blocks still executed by the current version.
	BlocksLeft int64 `json:"blocks_left"`
	// Installed says whether this node has the module.
	Installed bool `json:"installed"`
	// ProfileKnown says whether this node's vchaind carries the profile.
	ProfileKnown bool `json:"profile_known"`
}

// ReleaseInfo is a registered release.
type ReleaseInfo struct {
	upgrade.VersionRef
	Note             string `json:"note,omitempty"`
	RegisteredHeight int64  `json:"registered_height"`
	Profile          uint32 `json:"profile"`
	Installed        bool   `json:"installed"`
	ProfileKnown     bool   `json:"profile_known"`
}

// HistoryEntry is one switch: the version effective from Height on. An entry with Aborted
// records a switch attempted at Height whose migration failed: the version it names (the
// previous one) stayed effective.
type HistoryEntry struct {
	Height int64 `json:"height"`
	upgrade.VersionRef
	Profile uint32        `json:"profile"`
	Aborted *AbortedEntry `json:"aborted,omitempty"`
}

// AbortedEntry is a switch aborted because its migration failed.
type AbortedEntry struct {
	upgrade.VersionRef
	Profile         uint32 `json:"profile"`
	FromVersion     uint64 `json:"from_version"`
	ScheduledHeight int64  `json:"scheduled_height"`
	// Code is the failure's result code name (out_of_gas, contract_trap, ...).
	Code    string `json:"code"`
	GasUsed uint64 `json:"gas_used"`
	Reason  string `json:"reason"`
}

func abortedEntry(a *statev1.AbortedSwitch) *AbortedEntry {
	if a == nil {
		return nil
	}
	return &AbortedEntry{VersionRef: ref(a.Version, a.CodeSha256), Profile: a.Profile, FromVersion: a.FromVersion,
		ScheduledHeight: a.ScheduledHeight, Code: codes.Code(a.Code).String(), GasUsed: a.GasUsed, Reason: a.Reason}
}

// VersionAt returns the runtime version that executed height h according to hist, the
// /upgrade/history answer (oldest switch first), or 0 before the first entry.
func VersionAt(hist []HistoryEntry, h int64) uint64 {
	v := uint64(0)
	for _, e := range hist {
		if e.Height <= h {
			v = e.Version
		}
	}
	return v
}

// UpgradeStatus is the JSON answer of /upgrade/status.
type UpgradeStatus struct {
	Height    int64        `json:"height"`
	Effective RuntimeInfo  `json:"effective"`
	Pending   *PendingInfo `json:"pending,omitempty"`
	// Readiness is checked for the version asked in the query data, else the pending one,
	// else none (Version 0: the validators and what they attested).
	Readiness *upgrade.Readiness   `json:"readiness"`
	Releases  []ReleaseInfo        `json:"releases"`
	Installed []upgrade.VersionRef `json:"installed"`
	// Profiles are the execution profiles this node's vchaind carries.
	Profiles []uint32   `json:"profiles"`
	Paused   *PauseInfo `json:"paused,omitempty"`
	// LastAborted is the latest switch aborted because its migration failed, if any.
	LastAborted *HistoryEntry `json:"last_aborted,omitempty"`
}

func ref(v uint64, sha []byte) upgrade.VersionRef {
	return upgrade.VersionRef{Version: v, CodeSHA256: hex.EncodeToString(sha)}
}

func (e *Executor) installedSet() map[upgrade.VersionRef]bool {
	set := map[upgrade.VersionRef]bool{}
	for _, in := range e.installedOrNil() {
		set[upgrade.VersionRef{Version: in.Version, CodeSHA256: in.SHA256.String()}] = true
	}
	return set
}

// upgradeStatus answers /upgrade/status; data may name a version to check readiness for.
func (e *Executor) upgradeStatus(data []byte) (any, *codes.Error) {
	p := e.Params()
	if p == nil {
		return nil, codes.Errorf(QueryNotFound, "the chain has not been initialised")
	}
	// Through the genesis writes, as /runtime reads: until the first block commits, the
	// effective runtime is recorded only there.
	k := upgrade.NewKeeper(state.NewCache(e.committed()))
	eff, err := k.Effective()
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "%v", err)
	}
	installed := e.installedSet()
	st := UpgradeStatus{Height: e.store.Height(), Profiles: profile.Supported(), Paused: e.Paused()}
	st.Effective = RuntimeInfo{Version: eff.Version, CodeSHA256: hex.EncodeToString(eff.CodeSha256), SinceHeight: eff.SinceHeight,
		Profile: eff.Profile, ProfileKnown: profile.Knows(eff.Profile), Installed: installed[ref(eff.Version, eff.CodeSha256)]}
	for r := range installed {
		st.Installed = append(st.Installed, r)
	}
	sortRefs(st.Installed)
	pend, err := k.Pending()
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "%v", err)
	}
	version, sha, prof := uint64(0), []byte(nil), uint32(0)
	if pend != nil {
		st.Pending = &PendingInfo{VersionRef: ref(pend.Version, pend.CodeSha256), StartHeight: pend.StartHeight,
			ScheduledHeight: pend.ScheduledHeight, Profile: pend.Profile, BlocksLeft: pend.StartHeight - st.Height - 1,
			Installed: installed[ref(pend.Version, pend.CodeSha256)], ProfileKnown: profile.Knows(pend.Profile)}
		version, sha, prof = pend.Version, pend.CodeSha256, pend.Profile
	}
	if st.Releases, err = e.releases(installed); err != nil {
		return nil, codes.Errorf(QueryFailed, "%v", err)
	}
	if st.LastAborted, err = e.lastAborted(); err != nil {
		return nil, codes.Errorf(QueryFailed, "%v", err)
	}
	if len(data) > 0 {
		v, err := strconv.ParseUint(string(data), 10, 64)
		if err != nil {
			return nil, codes.Errorf(QueryBad, "/upgrade/status: data %q is not a version number", data)
		}
		rel, err := k.Release(v)
		if err != nil {
			return nil, codes.Errorf(QueryFailed, "%v", err)
		}
		if rel == nil {
			return nil, codes.Errorf(QueryNotFound, "version %d is not registered", v)
		}
		version, sha, prof = rel.Version, rel.CodeSha256, rel.Profile
	}
	if st.Readiness, err = k.Readiness(version, sha, prof, p.App.InstallThreshold); err != nil {
		return nil, codes.Errorf(QueryFailed, "%v", err)
	}
	return st, nil
}

// eachRecord calls fn with every committed record under prefix, in key order, decoded.
func eachRecord[T any, P interface {
	*T
	Unmarshal([]byte) error
}](s *state.Store, prefix []byte, fn func(key []byte, rec P)) error {
	var decodeErr error
	err := s.Iterate(prefix, func(k, v []byte) bool {
		rec := P(new(T))
		if decodeErr = rec.Unmarshal(v); decodeErr != nil {
			decodeErr = fmt.Errorf("record %q is corrupt: %w", k, decodeErr)
			return false
		}
		fn(k, rec)
		return true
	})
	if err != nil {
		return err
	}
	return decodeErr
}

func (e *Executor) releases(installed map[upgrade.VersionRef]bool) ([]ReleaseInfo, error) {
	var out []ReleaseInfo
	err := eachRecord(e.store, upgrade.ReleasePrefix, func(_ []byte, r *statev1.Release) {
		vr := ref(r.Version, r.CodeSha256)
		out = append(out, ReleaseInfo{VersionRef: vr, Note: r.Note, RegisteredHeight: r.RegisteredHeight, Profile: r.Profile,
			Installed: installed[vr], ProfileKnown: profile.Knows(r.Profile)})
	})
	return out, err
}

// History returns every switch recorded in committed state, in height order.
func (e *Executor) History() ([]HistoryEntry, error) {
	var out []HistoryEntry
	err := eachRecord(e.store, upgrade.HistoryPrefix, func(k []byte, rv *statev1.RuntimeVersion) {
		out = append(out, HistoryEntry{Height: upgrade.HeightOfHistoryKey(k), VersionRef: ref(rv.Version, rv.CodeSha256), Profile: rv.Profile,
			Aborted: abortedEntry(rv.Aborted)})
	})
	return out, err
}

// lastAborted returns the latest history entry of an aborted switch, or nil.
func (e *Executor) lastAborted() (*HistoryEntry, error) {
	hist, err := e.History()
	if err != nil {
		return nil, err
	}
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Aborted != nil {
			return &hist[i], nil
		}
	}
	return nil, nil
}

// Missing lists the versions this node needs and has not installed: every version in the
// committed history, and the pending one. A node checks it at start-up, before replaying.
func (e *Executor) Missing() ([]upgrade.VersionRef, error) {
	hist, err := e.History()
	if err != nil {
		return nil, err
	}
	need := map[upgrade.VersionRef]bool{}
	for _, h := range hist {
		need[h.VersionRef] = true
		if h.Aborted != nil {
			// Replaying its height runs (and fails) the aborted version's migration.
			need[h.Aborted.VersionRef] = true
		}
	}
	if p, err := upgrade.NewKeeper(state.NewCache(e.store)).Pending(); err != nil {
		return nil, err
	} else if p != nil {
		need[ref(p.Version, p.CodeSha256)] = true
	}
	installed := e.installedSet()
	var out []upgrade.VersionRef
	for r := range need {
		if !installed[r] {
			out = append(out, r)
		}
	}
	sortRefs(out)
	return out, nil
}

// NextRuntime is the runtime the next block (NextHeight) executes with, and its profile.
func (e *Executor) NextRuntime() (upgrade.VersionRef, uint32, error) {
	k := upgrade.NewKeeper(state.NewCache(e.store))
	if p, err := k.Pending(); err != nil {
		return upgrade.VersionRef{}, 0, err
	} else if p != nil && p.StartHeight <= e.NextHeight() {
		return ref(p.Version, p.CodeSha256), p.Profile, nil
	}
	eff, err := e.EffectiveRuntime()
	if err != nil {
		return upgrade.VersionRef{}, 0, err
	}
	return ref(eff.Version, eff.CodeSha256), eff.Profile, nil
}

// MissingProfiles lists the execution profiles of the chain's history and of the pending
// switch that this node's vchaind does not carry: replaying or reaching those heights
// needs a newer binary.
func (e *Executor) MissingProfiles() ([]uint32, error) {
	var need []uint32
	add := func(p uint32) {
		if !profile.Knows(p) && !slices.Contains(need, p) {
			need = append(need, p)
		}
	}
	err := eachRecord(e.store, upgrade.HistoryPrefix, func(_ []byte, rv *statev1.RuntimeVersion) {
		add(rv.Profile)
		if rv.Aborted != nil {
			add(rv.Aborted.Profile)
		}
	})
	if err != nil {
		return nil, err
	}
	if p, err := upgrade.NewKeeper(state.NewCache(e.store)).Pending(); err != nil {
		return nil, err
	} else if p != nil {
		add(p.Profile)
	}
	slices.Sort(need)
	return need, nil
}

func sortRefs(rs []upgrade.VersionRef) {
	slices.SortFunc(rs, func(a, b upgrade.VersionRef) int {
		return cmp.Or(cmp.Compare(a.Version, b.Version), cmp.Compare(a.CodeSHA256, b.CodeSHA256))
	})
}
