package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/p2p"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/internal/modfetch"
)

// AutoFetcher is the executor's Fetcher of a node with runtime.auto_fetch: it asks the
// peers CometBFT's switch (sw returns it, or nil before CometBFT exists) is connected to
// now, at the RPC address each advertises, then the addresses of extra
// (runtime.fetch_from); it takes the first copy that hashes to the chain's sha256 and
// installs it into rm. It does not attest: the node holds no operator key ('vchaind
// runtime attest' does that).
func AutoFetcher(sw func() *p2p.Switch, extra []string, rm *runtime.Manager, log cmtlog.Logger) executor.Fetcher {
	return func(ctx context.Context, version uint64, sha runtime.Hash) (executor.FetchReport, error) {
		var rep executor.FetchReport
		if s := sw(); s != nil {
			for _, p := range s.Peers().List() {
				ni, ok := p.NodeInfo().(p2p.DefaultNodeInfo)
				if !ok {
					continue
				}
				if a, ok := modfetch.PeerRPC(ni.Other.RPCAddress, p.RemoteIP().String()); ok {
					rep.Peers = append(rep.Peers, a)
				}
			}
		}
		sort.Strings(rep.Peers) // the peer set's order is its map's: sorted logs read better
		for _, a := range extra {
			if !slices.Contains(rep.Peers, a) {
				rep.Peers = append(rep.Peers, a)
			}
		}
		log.Info("auto_fetch: fetching runtime from peers", "runtime_version", version, "sha256", sha.String(), "peers", fmt.Sprint(rep.Peers))
		res, err := modfetch.Download(ctx, version, sha, rep.Peers, func(format string, a ...any) {
			log.Debug("auto_fetch: " + fmt.Sprintf(format, a...))
		})
		// Each peer passed over (wrong bytes above all) is an error of its own in the log,
		// named, whether another peer served the module or none did.
		attempts := []modfetch.Attempt(nil)
		var np *modfetch.NoPeerError
		if errors.As(err, &np) {
			attempts = np.Attempts
		} else if res != nil {
			attempts = res.Attempts
		}
		for _, a := range attempts {
			if a.Err != "" {
				log.Error("auto_fetch: a peer did not serve the runtime", "runtime_version", version, "peer", a.Peer, "err", a.Err)
			}
		}
		if err != nil {
			return rep, err
		}
		if _, err := rm.Install(ctx, version, res.Wasm); err != nil {
			return rep, fmt.Errorf("install v%d fetched from %s: %w", version, res.From, err)
		}
		rep.From = res.From
		return rep, nil
	}
}
