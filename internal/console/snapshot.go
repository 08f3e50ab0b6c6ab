package console

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/internal/client"
)

// RecentBlocks is how many of the latest blocks the console lists.
const RecentBlocks = 20

// Snapshot is everything the page shows, read from the node in one go.
type Snapshot struct {
	Time     time.Time    `json:"time"`
	Node     NodeView     `json:"node"`
	Network  NetworkView  `json:"network"`
	Timeline TimelineView `json:"timeline"`
	Blocks   []BlockView  `json:"blocks"`
	// Errors lists what could not be read this time (the rest is still shown).
	Errors []string `json:"errors,omitempty"`
}

// NodeView is this node.
type NodeView struct {
	Moniker    string    `json:"moniker"`
	ChainID    string    `json:"chain_id"`
	NodeID     string    `json:"node_id"`
	Version    string    `json:"cometbft_version"`
	Height     int64     `json:"height"`
	AppHeight  int64     `json:"app_height"`
	AppHash    string    `json:"app_hash"`
	BlockTime  time.Time `json:"block_time"`
	CatchingUp bool      `json:"catching_up"`
	// HeaderApp is version.app of the latest block's header.
	HeaderApp uint64                `json:"header_app_version"`
	Effective *executor.RuntimeInfo `json:"effective,omitempty"`
	Installed []upgrade.VersionRef  `json:"installed"`
	Profiles  []uint32              `json:"profiles"`
	Paused    *executor.PauseInfo   `json:"paused,omitempty"`
	// PausedSeconds is how long the node has been paused, by this node's clock.
	PausedSeconds float64 `json:"paused_seconds,omitempty"`
}

// ValidatorView is one validator: its consensus power joined with what it attested.
type ValidatorView struct {
	Address  string               `json:"address"`
	Moniker  string               `json:"moniker"`
	Operator string               `json:"operator"`
	Power    int64                `json:"power"`
	Attested []upgrade.VersionRef `json:"attested"`
	Profiles []uint32             `json:"profiles"`
	// Ready: attested the version readiness is checked for (and carries its profile).
	Ready bool `json:"ready"`
}

// NetworkView is the validator set and readiness of the pending, else newest registered,
// version.
type NetworkView struct {
	Validators []ValidatorView `json:"validators"`
	TotalPower int64           `json:"total_power"`
	// Readiness is nil when no version other than the effective one is registered.
	Readiness *ReadinessView         `json:"readiness,omitempty"`
	Releases  []executor.ReleaseInfo `json:"releases"`
}

// ReadinessView is upgrade.Readiness without its per-validator list (ValidatorView has it).
type ReadinessView struct {
	Version       uint64 `json:"version"`
	CodeSHA256    string `json:"code_sha256"`
	Profile       uint32 `json:"profile"`
	AttestedPower int64  `json:"attested_power"`
	TotalPower    int64  `json:"total_power"`
	ThresholdNum  uint64 `json:"threshold_num"`
	ThresholdDen  uint64 `json:"threshold_den"`
	Ready         bool   `json:"ready"`
}

// TimelineView is the switch history and the pending switch.
type TimelineView struct {
	History []executor.HistoryEntry `json:"history"`
	Pending *executor.PendingInfo   `json:"pending,omitempty"`
	// SecondsPerBlock is the mean interval of the recent blocks (0 when unknown).
	SecondsPerBlock float64 `json:"seconds_per_block"`
	// ETASeconds estimates when the pending switch's first block is made.
	ETASeconds float64 `json:"eta_seconds,omitempty"`
}

// CodeCount is how many transactions of a block ended with a result code.
type CodeCount struct {
	Code  uint32 `json:"code"`
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// BlockView is one recent block.
type BlockView struct {
	Height     int64     `json:"height"`
	Time       time.Time `json:"time"`
	AppVersion uint64    `json:"app_version"`
	Txs        int       `json:"txs"`
	// Failed counts the failed transactions by code; nil when the results are not known
	// yet (a block the node has not executed, for example while it is paused).
	Failed []CodeCount `json:"failed"`
	Known  bool        `json:"results_known"`
}

// collector reads snapshots from one node, remembering the results of past blocks (they
// never change) so each poll asks only for the new ones.
type collector struct {
	c       *client.Client
	results map[int64][]CodeCount
}

func (k *collector) snapshot(ctx context.Context) *Snapshot {
	s := &Snapshot{Time: time.Now().UTC(), Blocks: []BlockView{}}
	fail := func(what string, err error) {
		s.Errors = append(s.Errors, fmt.Sprintf("%s: %v", what, err))
	}
	st, err := k.c.RPC.Status(ctx)
	if err != nil {
		fail("node RPC /status", err)
		return s
	}
	s.Node.Moniker, s.Node.ChainID, s.Node.NodeID = st.NodeInfo.Moniker, st.NodeInfo.Network, string(st.NodeInfo.DefaultNodeID)
	s.Node.Version = st.NodeInfo.Version
	s.Node.Height, s.Node.AppHash = st.SyncInfo.LatestBlockHeight, fmt.Sprintf("%X", st.SyncInfo.LatestAppHash)
	s.Node.BlockTime, s.Node.CatchingUp = st.SyncInfo.LatestBlockTime, st.SyncInfo.CatchingUp

	if err := k.blocks(ctx, s); err != nil {
		fail("recent blocks", err)
	}
	if err := k.runtime(ctx, s); err != nil {
		fail("upgrade status", err)
	}
	if err := k.validators(ctx, s); err != nil {
		fail("validators", err)
	}
	return s
}

// blocks fills the recent blocks and the block interval.
func (k *collector) blocks(ctx context.Context, s *Snapshot) error {
	top := s.Node.Height
	if top < 1 {
		return nil
	}
	info, err := k.c.RPC.BlockchainInfo(ctx, max(1, top-RecentBlocks+1), top)
	if err != nil {
		return err
	}
	for _, m := range info.BlockMetas { // newest first
		b := BlockView{Height: m.Header.Height, Time: m.Header.Time, AppVersion: m.Header.Version.App, Txs: m.NumTxs}
		b.Failed, b.Known = k.failures(ctx, b.Height)
		s.Blocks = append(s.Blocks, b)
	}
	if len(s.Blocks) > 0 {
		s.Node.HeaderApp = s.Blocks[0].AppVersion
	}
	if n := len(s.Blocks); n > 1 {
		span := s.Blocks[0].Time.Sub(s.Blocks[n-1].Time).Seconds()
		s.Timeline.SecondsPerBlock = span / float64(n-1)
	}
	for h := range k.results { // keep the cache as small as the list
		if h < top-4*RecentBlocks {
			delete(k.results, h)
		}
	}
	return nil
}

// failures counts a block's failed transactions by code; false when the node has no
// results for it yet.
func (k *collector) failures(ctx context.Context, h int64) ([]CodeCount, bool) {
	if f, ok := k.results[h]; ok {
		return f, true
	}
	res, err := k.c.RPC.BlockResults(ctx, &h)
	if err != nil {
		return nil, false
	}
	byCode := map[uint32]int{}
	for _, r := range res.TxsResults {
		if r.Code != 0 {
			byCode[r.Code]++
		}
	}
	f := []CodeCount{}
	for c, n := range byCode {
		f = append(f, CodeCount{Code: c, Name: codes.Code(c).String(), Count: n})
	}
	slices.SortFunc(f, func(a, b CodeCount) int { return int(a.Code) - int(b.Code) })
	k.results[h] = f
	return f, true
}

// runtime fills this node's runtime, the timeline and readiness from the app's queries.
func (k *collector) runtime(ctx context.Context, s *Snapshot) error {
	us, err := k.c.UpgradeStatus(ctx, 0)
	if err != nil {
		return err
	}
	eff := us.Effective
	s.Node.AppHeight, s.Node.Effective, s.Node.Installed, s.Node.Profiles = us.Height, &eff, us.Installed, us.Profiles
	if s.Node.Installed == nil {
		s.Node.Installed = []upgrade.VersionRef{}
	}
	if us.Paused != nil {
		s.Node.Paused = us.Paused
		s.Node.PausedSeconds = time.Since(us.Paused.Since).Seconds()
	}
	s.Network.Releases = us.Releases
	if s.Network.Releases == nil {
		s.Network.Releases = []executor.ReleaseInfo{}
	}
	s.Timeline.Pending = us.Pending
	if p := us.Pending; p != nil && s.Timeline.SecondsPerBlock > 0 {
		s.Timeline.ETASeconds = float64(max(p.BlocksLeft, 0)) * s.Timeline.SecondsPerBlock
	}
	if err := k.c.QueryJSON(ctx, "/upgrade/history", &s.Timeline.History); err != nil {
		return err
	}
	// Readiness of the pending version; with none, of the newest release that is not the
	// effective version (what the admin would schedule next).
	r := us.Readiness
	if us.Pending == nil {
		var next *executor.ReleaseInfo
		for i, rel := range us.Releases {
			if rel.Version != eff.Version && (next == nil || rel.RegisteredHeight > next.RegisteredHeight ||
				(rel.RegisteredHeight == next.RegisteredHeight && rel.Version > next.Version)) {
				next = &us.Releases[i]
			}
		}
		if next != nil {
			nus, err := k.c.UpgradeStatus(ctx, next.Version)
			if err != nil {
				return err
			}
			r = nus.Readiness
		}
	}
	if r == nil {
		return nil
	}
	if r.Version != 0 {
		s.Network.Readiness = &ReadinessView{Version: r.Version, CodeSHA256: r.CodeSHA256, Profile: r.Profile,
			AttestedPower: r.AttestedPower, TotalPower: r.TotalPower, ThresholdNum: r.Threshold.Num, ThresholdDen: r.Threshold.Den, Ready: r.Ready}
	}
	for _, v := range r.Validators {
		vv := ValidatorView{Address: strings.ToUpper(v.Address), Moniker: v.Moniker, Operator: v.Operator, Power: v.Power,
			Attested: v.Attested, Profiles: v.Profiles, Ready: r.Version != 0 && v.HasVersion}
		if vv.Attested == nil {
			vv.Attested = []upgrade.VersionRef{}
		}
		s.Network.Validators = append(s.Network.Validators, vv)
	}
	return nil
}

// validators sets the consensus power of each validator from CometBFT's own set (the
// power that signs), adding any validator the app's record lacks.
func (k *collector) validators(ctx context.Context, s *Snapshot) error {
	page, perPage := 1, 100
	res, err := k.c.RPC.Validators(ctx, nil, &page, &perPage)
	if err != nil {
		return err
	}
	byAddr := map[string]int{}
	for i, v := range s.Network.Validators {
		byAddr[v.Address] = i
	}
	s.Network.TotalPower = 0
	for _, v := range res.Validators {
		addr := strings.ToUpper(v.Address.String())
		s.Network.TotalPower += v.VotingPower
		if i, ok := byAddr[addr]; ok {
			s.Network.Validators[i].Power = v.VotingPower
			continue
		}
		s.Network.Validators = append(s.Network.Validators, ValidatorView{Address: addr, Power: v.VotingPower,
			Attested: []upgrade.VersionRef{}})
	}
	if s.Network.Validators == nil {
		s.Network.Validators = []ValidatorView{}
	}
	if res.Total > perPage {
		return errors.New("more than 100 validators: the table lists the first 100")
	}
	return nil
}
