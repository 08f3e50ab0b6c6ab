// Package lightclient verifies a node's answers instead of believing them: it follows the
// chain's headers with CometBFT's light client (validator signatures from a trusted
// header on) and checks a /state query's proof against the app hash of a header the light
// client verified. The CLI's `query state --prove` is its user.
//
// Trust model. The light client needs one header it trusts (a height and its hash), from
// a source the user trusts: --trust-height/--trust-hash. Without them, on first use, it
// trusts the queried node's own latest header and says so on stderr (trust on first use:
// a node that lies from the very first contact is not detected). Every header it verifies
// is kept in a trusted store in the home (<home>/light-client.db), so later uses start
// from what was verified before and need no flags. Headers are verified by the signatures
// of the validators the trusted header names (CometBFT's skipping verification, 1/3 trust
// level), as long as the trusted header is within the trusting period.
package lightclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/cometbft/cometbft/light"
	"github.com/cometbft/cometbft/light/provider"
	lighthttp "github.com/cometbft/cometbft/light/provider/http"
	lightdb "github.com/cometbft/cometbft/light/store/db"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttypes "github.com/cometbft/cometbft/types"
)

// DefaultTrustPeriod is how long a verified header is trusted to verify newer ones (the
// CometBFT light client's own default): validators that signed it may have left since.
const DefaultTrustPeriod = 168 * time.Hour

// DefaultHeaderWait bounds the wait for the header that carries a queried height's app
// hash (the next block's), which a live chain commits within a few block times.
const DefaultHeaderWait = 30 * time.Second

// StoreDir is where a home keeps the light client's trusted headers: a goleveldb
// directory beside config/ and data/ (not inside data/, which marks a node's home).
func StoreDir(homeRoot string) string { return filepath.Join(homeRoot, "light-client.db") }

// keyChainID records which chain the trusted store follows (the light store's own keys
// are "lb/<chain id>/..." and "size").
var keyChainID = []byte("vchain/chain_id")

// Options configure Open.
type Options struct {
	// Home is the home directory whose trusted store is used (created if missing).
	Home string
	// Node is the RPC address of the node queried: the light client's primary.
	Node string
	// Witnesses are RPC addresses of other nodes the light client cross-checks headers
	// with (a fork is detected when one disagrees). Empty: the node itself, which adds no
	// cross-check (CometBFT's light client requires at least one witness).
	Witnesses []string
	// TrustHeight and TrustHash, both set, name a header to trust; it replaces whatever
	// the store trusts (the user is always right). Both unset: the store's latest header,
	// or on first use the node's own latest header (with a warning on Warn).
	TrustHeight int64
	TrustHash   []byte
	// TrustPeriod is how long a trusted header may be used (DefaultTrustPeriod if 0).
	TrustPeriod time.Duration
	// HeaderWait bounds the wait for a header the node has not committed yet
	// (DefaultHeaderWait if 0).
	HeaderWait time.Duration
	// Warn receives the trust-on-first-use warning (nowhere if nil).
	Warn io.Writer
}

// Verifier is a light client of one chain, over one node's RPC.
type Verifier struct {
	lc      *light.Client
	db      dbm.DB
	rpc     *rpchttp.HTTP
	chainID string
	wait    time.Duration
	// TrustedOnFirstUse is set when Open trusted the node's own header.
	TrustedOnFirstUse bool
}

// Open opens the home's trusted store and starts a light client of the node's chain.
func Open(ctx context.Context, o Options) (*Verifier, error) {
	if (o.TrustHeight == 0) != (len(o.TrustHash) == 0) {
		return nil, errors.New("--trust-height and --trust-hash go together: give both (a header you trust) or neither")
	}
	if o.TrustHeight < 0 {
		return nil, fmt.Errorf("--trust-height %d: must be at least 1", o.TrustHeight)
	}
	if len(o.TrustHash) != 0 && len(o.TrustHash) != 32 {
		return nil, fmt.Errorf("--trust-hash is %d bytes, want 32 (a block hash, 64 hex digits)", len(o.TrustHash))
	}
	if o.TrustPeriod == 0 {
		o.TrustPeriod = DefaultTrustPeriod
	}
	if o.HeaderWait == 0 {
		o.HeaderWait = DefaultHeaderWait
	}
	rpc, err := rpchttp.New(o.Node, "/websocket")
	if err != nil {
		return nil, fmt.Errorf("RPC client for %s: %w", o.Node, err)
	}
	st, err := rpc.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w (is `vchaind start` running there? see --node)", o.Node, err)
	}
	// The chain id comes from the node, unverified; what binds it is the trusted header
	// (its hash covers the chain id) and, once trusted, the store's record below.
	chainID := st.NodeInfo.Network

	dir := StoreDir(o.Home)
	db, err := dbm.NewDB("light-client", dbm.GoLevelDBBackend, o.Home)
	if err != nil {
		return nil, fmt.Errorf("open the light client's trusted store %s: %w (another `query --prove` running with this home?)", dir, err)
	}
	v := &Verifier{db: db, rpc: rpc, chainID: chainID, wait: o.HeaderWait}
	if err := v.start(ctx, o, dir); err != nil {
		_ = db.Close()
		return nil, err
	}
	return v, nil
}

func (v *Verifier) start(ctx context.Context, o Options, dir string) error {
	known, err := v.db.Get(keyChainID)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	if known != nil && string(known) != v.chainID && o.TrustHeight == 0 {
		return fmt.Errorf("node %s runs chain %q, the trusted headers in %s are of chain %q: query a node of that chain, "+
			"or pass --trust-height/--trust-hash of a header of %q to trust it instead", o.Node, v.chainID, dir, known, v.chainID)
	}
	primary, err := lighthttp.New(v.chainID, o.Node)
	if err != nil {
		return fmt.Errorf("light client provider %s: %w", o.Node, err)
	}
	witnesses := []provider.Provider{}
	for _, w := range append([]string{}, o.Witnesses...) {
		p, err := lighthttp.New(v.chainID, w)
		if err != nil {
			return fmt.Errorf("light client witness %s: %w", w, err)
		}
		witnesses = append(witnesses, p)
	}
	if len(witnesses) == 0 {
		witnesses = append(witnesses, primary)
	}
	if known != nil && string(known) != v.chainID {
		// New trust options for another chain: the old chain's headers are no use.
		if err := v.reset(); err != nil {
			return fmt.Errorf("clear %s: %w", dir, err)
		}
	}
	store := lightdb.New(v.db, v.chainID)
	last, err := store.LastLightBlockHeight()
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	opts := []light.Option{light.Logger(nopLogger())}
	switch {
	case o.TrustHeight > 0:
		trust := light.TrustOptions{Period: o.TrustPeriod, Height: o.TrustHeight, Hash: o.TrustHash}
		// Checked first on a scratch store: the light client clears its store when trust
		// options disagree with it, and a mistyped hash must not wipe the headers trusted
		// so far (the next query would then fall back to trusting the node).
		if _, err := light.NewClient(ctx, v.chainID, trust, primary, witnesses, lightdb.New(dbm.NewMemDB(), v.chainID), opts...); err != nil {
			return verifyErr("the header at --trust-height %d: %w (the headers trusted in %s are kept)", o.TrustHeight, err, dir)
		}
		if v.lc, err = light.NewClient(ctx, v.chainID, trust, primary, witnesses, store, opts...); err != nil {
			return verifyErr("the header at --trust-height %d: %w", o.TrustHeight, err)
		}
	case last > 0:
		v.lc, err = light.NewClientFromTrustedStore(v.chainID, o.TrustPeriod, primary, witnesses, store, opts...)
		if err != nil {
			return fmt.Errorf("light client from %s: %w", dir, err)
		}
	default:
		lb, err := primary.LightBlock(ctx, 0)
		if err != nil {
			return fmt.Errorf("node %s: latest header: %w", o.Node, err)
		}
		if o.Warn != nil {
			fmt.Fprintf(o.Warn, "WARNING: no trusted header yet in %s: trusting node %s's own header at height %d (hash %X) on first use.\n"+
				"  Everything verified from now on is only as good as that header. Check the hash with a source you trust,\n"+
				"  or pass --trust-height/--trust-hash of a header you obtained elsewhere. Later queries start from the headers kept there.\n",
				dir, o.Node, lb.Height, lb.Hash())
		}
		v.TrustedOnFirstUse = true
		v.lc, err = light.NewClient(ctx, v.chainID, light.TrustOptions{Period: o.TrustPeriod, Height: lb.Height, Hash: lb.Hash()},
			primary, witnesses, store, opts...)
		if err != nil {
			return verifyErr("the node's own header at height %d: %w", lb.Height, err)
		}
	}
	if err := v.db.SetSync(keyChainID, []byte(v.chainID)); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	return nil
}

// reset deletes every key of the store (headers of another chain).
func (v *Verifier) reset() error {
	it, err := v.db.Iterator(nil, nil)
	if err != nil {
		return err
	}
	var keys [][]byte
	for ; it.Valid(); it.Next() {
		keys = append(keys, append([]byte(nil), it.Key()...))
	}
	if err := it.Close(); err != nil {
		return err
	}
	for _, k := range keys {
		if err := v.db.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the trusted store.
func (v *Verifier) Close() error { return v.db.Close() }

// ChainID is the chain the verifier follows.
func (v *Verifier) ChainID() string { return v.chainID }

// Header returns the header at height, verified by the light client from its trusted
// header. It first waits (up to the header wait) for the node to commit height.
func (v *Verifier) Header(ctx context.Context, height int64) (*cmttypes.LightBlock, error) {
	deadline := time.Now().Add(v.wait)
	for {
		st, err := v.rpc.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("node status: %w", err)
		}
		if st.SyncInfo.LatestBlockHeight >= height {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the node is at height %d and did not commit height %d within %s", st.SyncInfo.LatestBlockHeight, height, v.wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	lb, err := v.lc.VerifyLightBlockAtHeight(ctx, height, time.Now())
	if err != nil {
		var expired light.ErrOldHeaderExpired
		if errors.As(err, &expired) {
			return nil, verifyErr("header %d: %w (the trusted header is older than the trusting period: pass --trust-height/--trust-hash of a recent header you trust)", height, err)
		}
		return nil, verifyErr("header %d: %w", height, err)
	}
	return lb, nil
}
