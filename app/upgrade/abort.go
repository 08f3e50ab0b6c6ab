package upgrade

import (
	"encoding/hex"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/contracts/abi"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// Events of a switch's migration (see app/executor/migrate.go).
const (
	EventRuntimeMigrated      = "runtime_migrated"
	EventRuntimeSwitchAborted = "runtime_switch_aborted"
)

// AbortSwitch records that the switch pending for height h failed its migration: the
// pending record is removed, the effective record is left as it is (the previous version
// keeps executing), and the history gets an entry at h naming that version and the aborted
// attempt, so a replaying node knows it must run (and see fail) the same migration.
// attempt carries the failure; its version fields are filled from the pending record.
// It returns the runtime_switch_aborted event, or nil when nothing was pending at h.
func (k Keeper) AbortSwitch(h int64, attempt *statev1.AbortedSwitch) (*abi.Event, error) {
	p, err := k.Pending()
	if err != nil || p == nil || p.StartHeight > h {
		return nil, err
	}
	prev, err := k.Effective()
	if err != nil {
		return nil, err
	}
	attempt.Version, attempt.CodeSha256, attempt.Profile, attempt.ScheduledHeight = p.Version, p.CodeSha256, p.Profile, p.ScheduledHeight
	if err := k.put(historyKey(h), &statev1.RuntimeVersion{Version: prev.Version, CodeSha256: prev.CodeSha256, Profile: prev.Profile, Aborted: attempt}); err != nil {
		return nil, err
	}
	k.ClearPending()
	ev := event(EventRuntimeSwitchAborted, "version", u(p.Version), "code_sha256", hex.EncodeToString(p.CodeSha256),
		"height", i(h), "from_version", u(attempt.FromVersion), "kept_version", u(prev.Version),
		"code", codes.Code(attempt.Code).String(), "gas_used", u(attempt.GasUsed), "reason", attempt.Reason)
	return &ev, nil
}
