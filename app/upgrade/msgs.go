package upgrade

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/contracts/abi"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// Event types of the lifecycle.
const (
	EventReleaseRegistered = "release_registered"
	EventInstallAttested   = "install_attested"
	EventUpgradeScheduled  = "upgrade_scheduled"
	EventUpgradeCancelled  = "upgrade_cancelled"
	EventRuntimeSwitched   = "runtime_switched"
)

// Context is what a handler knows of the transaction and the chain.
type Context struct {
	// Height is the height of the block containing the transaction.
	Height    int64
	Sender    string
	Threshold genesis.Fraction
	// PubKeyTypes are the consensus key types the chain's consensus parameters allow.
	PubKeyTypes []string
}

// Result is a handler's outcome: events on success, or a refusal. Err is reserved for
// node failures (the store could not be read), which must stop block execution.
type Result struct {
	Events  []abi.Event
	Refusal *codes.Error
}

func refuse(c codes.Code, format string, args ...any) (Result, error) {
	return Result{Refusal: codes.Errorf(c, format, args...)}, nil
}

func ok(events ...abi.Event) (Result, error) { return Result{Events: events}, nil }

func event(typ string, kv ...string) abi.Event {
	e := abi.Event{Type: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, abi.Attr{Key: kv[i], Value: kv[i+1]})
	}
	return e
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }
func i(v int64) string  { return strconv.FormatInt(v, 10) }

// RegisterRelease records a release; registering the same release again is a no-op.
func (k Keeper) RegisterRelease(c Context, m *txv1.RegisterRelease) (Result, error) {
	old, err := k.Release(m.Version)
	if err != nil {
		return Result{}, err
	}
	sha := hex.EncodeToString(m.CodeSha256)
	if old != nil {
		if hex.EncodeToString(old.CodeSha256) != sha || old.Profile != m.Profile {
			return refuse(codes.ReleaseConflict, "version %d is already registered with sha256 %x and profile %d; a release never changes: register a new version number", m.Version, old.CodeSha256, old.Profile)
		}
		return ok()
	}
	// A profile this node's binary does not carry is recorded all the same: what the chain
	// accepts must not depend on the binary. Readiness keeps it from being scheduled until
	// enough validators attest a binary that carries it.
	if err := k.SetRelease(&statev1.Release{Version: m.Version, CodeSha256: m.CodeSha256, Note: m.Note, RegisteredHeight: c.Height, Profile: m.Profile}); err != nil {
		return Result{}, err
	}
	return ok(event(EventReleaseRegistered, "version", u(m.Version), "code_sha256", sha, "profile", u(uint64(m.Profile)), "height", i(c.Height), "note", m.Note))
}

// StartHeight resolves an activation to the first height of the new version, given the
// height of the block containing the schedule (claims 2 and 8 of the method: "next block"
// is the block after it, and "in N blocks" counts from it).
func StartHeight(containing int64, m *txv1.ScheduleUpgrade) int64 {
	switch a := m.Activation.(type) {
	case *txv1.ScheduleUpgrade_NextBlock:
		return containing + 1
	case *txv1.ScheduleUpgrade_Height:
		return a.Height
	case *txv1.ScheduleUpgrade_InBlocks:
		return containing + int64(a.InBlocks)
	}
	return 0
}

// ScheduleUpgrade makes a registered, ready release the pending switch. The last schedule
// in a block wins.
func (k Keeper) ScheduleUpgrade(c Context, m *txv1.ScheduleUpgrade) (Result, error) {
	rel, err := k.Release(m.Version)
	if err != nil {
		return Result{}, err
	}
	if rel == nil {
		return refuse(codes.UnknownRelease, "version %d is not registered: register it first (vchaind upgrade register %d --file FILE)", m.Version, m.Version)
	}
	start := StartHeight(c.Height, m)
	if start <= c.Height {
		return refuse(codes.BadActivation, "start height %d is not after this block (%d)", start, c.Height)
	}
	eff, err := k.Effective()
	if err != nil {
		return Result{}, err
	}
	if eff.Version == rel.Version {
		return refuse(codes.BadActivation, "version %d is already effective (since height %d); to drop a pending switch use cancel", rel.Version, eff.SinceHeight)
	}
	// Readiness counts the validators that will sign the start height, with the changes
	// already made to the set (an update at H signs from H+2).
	r, err := k.ReadinessAt(start, c.Height, rel.Version, rel.CodeSha256, rel.Profile, c.Threshold)
	if err != nil {
		return Result{}, err
	}
	if !r.Ready {
		return refuse(codes.NotReady, "version %d (sha256 %x, profile %d) is attested by validators with %d of %d voting power; the install threshold is %s",
			rel.Version, rel.CodeSha256, rel.Profile, r.AttestedPower, r.TotalPower, c.Threshold)
	}
	prev, err := k.Pending()
	if err != nil {
		return Result{}, err
	}
	if err := k.SetPending(&statev1.PendingSwitch{Version: rel.Version, CodeSha256: rel.CodeSha256, StartHeight: start, ScheduledHeight: c.Height, Profile: rel.Profile}); err != nil {
		return Result{}, err
	}
	ev := event(EventUpgradeScheduled, "version", u(rel.Version), "code_sha256", hex.EncodeToString(rel.CodeSha256),
		"profile", u(uint64(rel.Profile)), "start_height", i(start), "scheduled_height", i(c.Height), "from_version", u(eff.Version))
	if prev != nil {
		ev.Attrs = append(ev.Attrs, abi.Attr{Key: "replaces_version", Value: u(prev.Version)}, abi.Attr{Key: "replaces_start_height", Value: i(prev.StartHeight)})
	}
	return ok(ev)
}

// CancelUpgrade drops the pending switch.
func (k Keeper) CancelUpgrade(c Context, _ *txv1.CancelUpgrade) (Result, error) {
	p, err := k.Pending()
	if err != nil {
		return Result{}, err
	}
	if p == nil {
		return refuse(codes.NothingToCancel, "no runtime switch is pending")
	}
	k.ClearPending()
	return ok(event(EventUpgradeCancelled, "version", u(p.Version), "code_sha256", hex.EncodeToString(p.CodeSha256),
		"start_height", i(p.StartHeight), "height", i(c.Height)))
}

// AttestInstall records what a validator's node has installed (after Authorize).
func (k Keeper) AttestInstall(c Context, m *txv1.AttestInstall) (Result, error) {
	a := &statev1.Attestation{Validator: strings.ToUpper(m.Validator), Height: c.Height, Profiles: slices.Sorted(slices.Values(m.Profiles))}
	for _, v := range m.Versions {
		a.Versions = append(a.Versions, &statev1.RuntimeVersion{Version: v.Version, CodeSha256: v.CodeSha256})
	}
	slices.SortFunc(a.Versions, func(x, y *statev1.RuntimeVersion) int { return cmp.Compare(x.Version, y.Version) })
	var list []string
	for _, v := range a.Versions {
		list = append(list, fmt.Sprintf("%d:%x", v.Version, v.CodeSha256))
	}
	if err := k.SetAttestation(a); err != nil {
		return Result{}, err
	}
	profiles := make([]string, len(a.Profiles))
	for j, p := range a.Profiles {
		profiles[j] = u(uint64(p))
	}
	return ok(event(EventInstallAttested, "validator", a.Validator, "versions", strings.Join(list, ","),
		"profiles", strings.Join(profiles, ","), "height", i(c.Height)))
}
