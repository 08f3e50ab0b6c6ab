package testnet

import (
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/vchain/vchain/internal/client"
)

// This file decides whether a validator killed with SIGKILL came back: the chaos of the
// soak (soak.go) and TestProcessKillBeforeSwitch ask it, from what the killed node itself
// reports rather than what the network agreed on without it.

// KillLook is one look at the network after a killed validator was restarted.
type KillLook struct {
	// Victim is the restarted node's latest height (/status); -1 while it does not answer.
	Victim int64
	// Others holds the latest height of each other validator, read after Victim; -1 for
	// one that did not answer.
	Others map[string]int64
	// AppHeight and AppHash are the last height the victim's own app committed and its app
	// hash there (/abci_info); AppHeight 0: not read.
	AppHeight int64
	AppHash   string
	// PeerHashes holds, for each other validator that answered, the app hash it computed
	// itself for AppHeight (its /block_results); one missing was not read.
	PeerHashes map[string]string
}

// AtTip reports whether the look saw the victim at the tip: at least as high as every
// other validator that answered, their heights read after its own (so at the moment it
// was read, none was higher). A look where no other validator answered has no tip to
// compare with.
func (l KillLook) AtTip() bool {
	answered := false
	for _, h := range l.Others {
		if h < 0 {
			continue
		}
		answered = true
		if l.Victim < h {
			return false
		}
	}
	return answered && l.Victim >= 0
}

// KillVerdict is what the looks after a kill show.
type KillVerdict int

const (
	// KillPending: the victim has not been seen at the tip with its app hash compared yet.
	KillPending KillVerdict = iota
	// KillSurvived: the victim was seen at the tip, and its own app's hash at its last
	// height equals what every other validator computed for that height.
	KillSurvived
	// KillDiverged: the victim's app hash differs from another validator's at the same
	// height; no later look can undo that.
	KillDiverged
)

// JudgeKill reads the looks taken after a kill, in order, and says whether the victim
// survived it, with the evidence or the reason in words. A kill still pending when its
// caller stops looking did not survive.
func JudgeKill(looks []KillLook) (KillVerdict, string) {
	var seenAtTip bool
	for _, l := range looks {
		if l.AppHeight <= 0 {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(l.PeerHashes)) {
			if got := l.PeerHashes[name]; got != l.AppHash {
				return KillDiverged, fmt.Sprintf("its app hash at height %d is %s, %s computed %s", l.AppHeight, l.AppHash, name, got)
			}
		}
	}
	for _, l := range looks {
		if !l.AtTip() {
			continue
		}
		seenAtTip = true
		if l.AppHeight <= 0 || l.AppHeight < l.Victim-1 {
			continue // its app lags its block store: not yet the hash of the tip
		}
		if len(l.PeerHashes) > 0 && everyAnswered(l) {
			return KillSurvived, fmt.Sprintf("at the tip (height %d, the others at most %d), app hash %s at height %d as on %s",
				l.Victim, slices.Max(slices.Collect(maps.Values(l.Others))), l.AppHash, l.AppHeight,
				strings.Join(slices.Sorted(maps.Keys(l.PeerHashes)), ", "))
		}
	}
	if seenAtTip {
		return KillPending, "seen at the tip, but its app hash was never compared with every other validator's"
	}
	last := int64(-1)
	if len(looks) > 0 {
		last = looks[len(looks)-1].Victim
	}
	return KillPending, fmt.Sprintf("never seen back at the tip (last height %d, -1: not answering)", last)
}

// CountSurvived returns how many of kills survived.
func CountSurvived(kills []Kill) int {
	n := 0
	for _, k := range kills {
		if k.Survived {
			n++
		}
	}
	return n
}

// AppInfo returns the last height the node's app committed and its app hash there, from
// the app itself (/abci_info).
func AppInfo(ctx context.Context, c *client.Client) (int64, string, error) {
	info, err := c.RPC.ABCIInfo(ctx)
	if err != nil {
		return 0, "", fmt.Errorf("abci_info: %w", err)
	}
	return info.Response.LastBlockHeight, fmt.Sprintf("%X", info.Response.LastBlockAppHash), nil
}

// AppHashAt returns the app hash the node's app returned for height h when it executed
// it (its /block_results): what that node computed, not what consensus recorded.
func AppHashAt(ctx context.Context, c *client.Client, h int64) (string, error) {
	res, err := c.RPC.BlockResults(ctx, &h)
	if err != nil {
		return "", fmt.Errorf("block_results %d: %w", h, err)
	}
	return fmt.Sprintf("%X", res.AppHash), nil
}

// handshakeLineRe matches CometBFT's line, at start-up, giving the height the app had committed.
var handshakeLineRe = regexp.MustCompile(`ABCI Handshake App Info\s+.*height=(\d+)`)

// HandshakeHeight returns the height the app had committed when the node started, from
// the first handshake line logged after offset in the node's log: for a killed node, the
// last height its app had committed when it died.
func HandshakeHeight(logPath string, offset int64) (int64, error) {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return 0, fmt.Errorf("read the node's log: %w", err)
	}
	m := handshakeLineRe.FindSubmatch(b[min(offset, int64(len(b))):])
	if m == nil {
		return 0, fmt.Errorf("%s logged no ABCI handshake after offset %d", logPath, offset)
	}
	h, err := strconv.ParseInt(string(m[1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("handshake height %q: %w", m[1], err)
	}
	return h, nil
}

// everyAnswered reports whether l holds the app hash of every other validator that
// answered its height.
func everyAnswered(l KillLook) bool {
	for name, h := range l.Others {
		if _, ok := l.PeerHashes[name]; h >= 0 && !ok {
			return false
		}
	}
	return true
}
