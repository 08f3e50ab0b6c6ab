package upgrade

import (
	"encoding/hex"

	"github.com/vchain/vchain/contracts/abi"
	"github.com/vchain/vchain/internal/crashpoint"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// BeginBlock applies the pending switch whose start height is h, before any transaction of
// block h executes: the new effective version, its history entry and the removal of the
// pending record are written into the block's write set, so they commit with the block or
// not at all. It returns the runtime_switched event, or nil when nothing switched.
func (k Keeper) BeginBlock(h int64) (*abi.Event, error) {
	p, err := k.Pending()
	if err != nil || p == nil || p.StartHeight > h {
		return nil, err
	}
	// p.StartHeight < h cannot happen (a schedule always starts after its block, and every
	// block passes here); applying it late is still the only consistent choice.
	prev, err := k.Effective()
	if err != nil {
		return nil, err
	}
	if err := k.SetEffective(&statev1.EffectiveRuntime{Version: p.Version, CodeSha256: p.CodeSha256, SinceHeight: h, Profile: p.Profile}); err != nil {
		return nil, err
	}
	k.ClearPending()
	crashpoint.Hit(crashpoint.SwitchBlock, h)
	ev := event(EventRuntimeSwitched, "version", u(p.Version), "code_sha256", hex.EncodeToString(p.CodeSha256),
		"profile", u(uint64(p.Profile)), "height", i(h), "from_version", u(prev.Version), "scheduled_height", i(p.ScheduledHeight))
	return &ev, nil
}

// EndBlock returns the runtime version the header of block h+1 must carry when a switch
// starts there: CometBFT copies ConsensusParamUpdates.Version.App returned at h into the
// header of h+1.
func (k Keeper) EndBlock(h int64) (version uint64, switching bool, err error) {
	p, err := k.Pending()
	if err != nil || p == nil || p.StartHeight != h+1 {
		return 0, false, err
	}
	return p.Version, true, nil
}
