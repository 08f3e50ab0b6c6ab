package node

import (
	"context"
	"sync"

	abcicli "github.com/cometbft/cometbft/abci/client"
	abcitypes "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/proxy"
)

// concurrentChecks is a ClientCreator like proxy.NewConnSyncLocalClientCreator, except
// that CheckTx and Query are not serialised: CometBFT calls them from one goroutine per RPC
// request and per gossiping peer, and the app is safe for concurrent CheckTx and Query.
// With one lock per connection, every transaction a node admits, from its clients or by
// gossip, waits behind the signature checks of all the others, one at a time; under load
// most broadcast_tx_sync requests spent their time waiting for that lock.
//
// The mempool keeps its own guarantees: it holds its update lock exclusively while a
// block is committed and the mempool rechecked (rechecks are sent one at a time), and
// shared while a transaction is first checked, and it deduplicates a transaction before
// asking the app. The order in which two concurrent transactions enter the mempool is
// then the order their checks finish; the app's admission (a sender's nonces) and
// PrepareProposal's nonce ordering do not depend on it.
//
// Every other call (consensus, snapshots, Info, Commit...) keeps its connection's lock.
type concurrentChecks struct{ app abcitypes.Application }

// NewConcurrentCheckClientCreator returns the ClientCreator described at concurrentChecks.
func NewConcurrentCheckClientCreator(app abcitypes.Application) proxy.ClientCreator {
	return concurrentChecks{app: app}
}

func (c concurrentChecks) NewABCIClient() (abcicli.Client, error) {
	return &checkClient{Client: abcicli.NewLocalClient(nil, c.app), app: c.app}, nil
}

// checkClient is a local client whose CheckTx and Query skip the connection's lock.
type checkClient struct {
	abcicli.Client // the locked local client, for every other call
	app            abcitypes.Application

	mu sync.RWMutex
	cb abcicli.Callback
}

func (c *checkClient) SetResponseCallback(cb abcicli.Callback) {
	c.mu.Lock()
	c.cb = cb
	c.mu.Unlock()
	c.Client.SetResponseCallback(cb)
}

func (c *checkClient) CheckTx(ctx context.Context, req *abcitypes.RequestCheckTx) (*abcitypes.ResponseCheckTx, error) {
	return c.app.CheckTx(ctx, req)
}

// CheckTxAsync answers at once, as the local client does: the global callback sees the
// response before CheckTxAsync returns, and so does a callback set on the ReqRes later.
func (c *checkClient) CheckTxAsync(ctx context.Context, req *abcitypes.RequestCheckTx) (*abcicli.ReqRes, error) {
	res, err := c.app.CheckTx(ctx, req)
	if err != nil {
		return nil, err
	}
	rq, rs := abcitypes.ToRequestCheckTx(req), abcitypes.ToResponseCheckTx(res)
	c.mu.RLock()
	cb := c.cb
	c.mu.RUnlock()
	if cb != nil {
		cb(rq, rs)
	}
	rr := abcicli.NewReqRes(rq)
	rr.Response = rs
	rr.InvokeCallback() // no callback yet: marks it answered, so SetCallback calls at once
	rr.Done()
	return rr, nil
}

func (c *checkClient) Query(ctx context.Context, req *abcitypes.RequestQuery) (*abcitypes.ResponseQuery, error) {
	return c.app.Query(ctx, req)
}
