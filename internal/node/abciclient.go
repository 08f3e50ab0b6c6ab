package node

import (
	"context"
	"sync"
	"time"

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
	cc := &checkClient{Client: abcicli.NewLocalClient(nil, c.app), app: c.app, window: checkWindow}
	cc.pre, _ = c.app.(Preverifier)
	cc.idle = sync.NewCond(&cc.bmu)
	return cc, nil
}

// Preverifier is an Application that checks several transactions for less than the sum of
// checking each, by some work done once for all of them (vchain verifies their signatures
// as one batch). PreverifyTxs decides nothing: CheckTx still checks each transaction.
type Preverifier interface {
	PreverifyTxs(txs [][]byte)
}

// Batching of new transactions' checks, for a Preverifier: the first check to arrive waits
// up to checkWindow for others, or until checkBatch have arrived.
const (
	checkWindow = 3 * time.Millisecond
	checkBatch  = 64
)

// checkClient is a local client whose CheckTx and Query skip the connection's lock.
//
// For a Preverifier app it answers the checks of new transactions asynchronously, as a
// socket client does: CheckTxAsync queues the check and returns, and the queue is
// preverified and checked as one batch, each answer reaching the mempool through the
// request's callback. A node checks every transaction once, from its clients or its peers,
// and a signature verified in a batch of eight costs about 60% of one verified alone; a
// gossiping peer's connection does not wait for the check either. One goroutine answers
// the batches, in the order the checks arrived, so transactions enter the mempool in that
// order. Rechecks, which CometBFT sends one at a time after a block, are answered at once.
//
// Flush (which CometBFT calls with the mempool locked, before Commit and the recheck that
// follows it) ends the window at once and waits for every check under way, so that none is
// answered during the recheck, which CometBFT forbids.
type checkClient struct {
	abcicli.Client // the locked local client, for every other call
	app            abcitypes.Application
	pre            Preverifier // nil: every check is answered at once
	window         time.Duration

	mu sync.RWMutex
	cb abcicli.Callback

	bmu     sync.Mutex
	idle    *sync.Cond          // broadcast when open falls to 0
	queue   []*abcicli.ReqRes   // checks waiting for their batch's window to end
	timer   *time.Timer         // ends the queue's window
	ready   [][]*abcicli.ReqRes // batches to answer, in order
	running bool                // a goroutine is answering ready
	open    int                 // checks queued, ready or being answered
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

// CheckTxAsync queues the check of a new transaction for its batch (see checkClient), and
// answers any other at once, as the local client does: the global callback sees the
// response before CheckTxAsync returns, and so does a callback set on the ReqRes later.
func (c *checkClient) CheckTxAsync(ctx context.Context, req *abcitypes.RequestCheckTx) (*abcicli.ReqRes, error) {
	rr := abcicli.NewReqRes(abcitypes.ToRequestCheckTx(req))
	if c.pre == nil || req.Type != abcitypes.CheckTxType_New {
		if err := c.answer(ctx, rr); err != nil {
			return nil, err
		}
		return rr, nil
	}
	c.bmu.Lock()
	defer c.bmu.Unlock()
	c.queue = append(c.queue, rr)
	c.open++
	switch {
	case len(c.queue) >= checkBatch:
		c.endWindowLocked()
	case len(c.queue) == 1:
		c.timer = time.AfterFunc(c.window, c.endWindow)
	}
	return rr, nil
}

// answer checks rr's transaction and delivers the answer to the callbacks.
func (c *checkClient) answer(ctx context.Context, rr *abcicli.ReqRes) error {
	res, err := c.app.CheckTx(ctx, rr.Request.GetCheckTx())
	if err != nil {
		return err
	}
	c.deliver(rr, res)
	return nil
}

// deliver gives res to the callbacks of rr.
func (c *checkClient) deliver(rr *abcicli.ReqRes, res *abcitypes.ResponseCheckTx) {
	rr.Response = abcitypes.ToResponseCheckTx(res)
	c.mu.RLock()
	cb := c.cb
	c.mu.RUnlock()
	if cb != nil {
		cb(rr.Request, rr.Response)
	}
	rr.InvokeCallback() // no callback yet: marks it answered, so SetCallback calls at once
	rr.Done()
}

func (c *checkClient) endWindow() {
	c.bmu.Lock()
	c.endWindowLocked()
	c.bmu.Unlock()
}

// endWindowLocked makes the queue a batch to answer; bmu is held.
func (c *checkClient) endWindowLocked() {
	if c.timer != nil {
		c.timer.Stop() // if it fired already, its endWindow finds an empty queue or a new one
		c.timer = nil
	}
	if len(c.queue) == 0 {
		return
	}
	c.ready = append(c.ready, c.queue)
	c.queue = nil
	if !c.running {
		c.running = true
		go c.answerReady()
	}
}

// answerReady preverifies and answers the ready batches in order, until there are none.
func (c *checkClient) answerReady() {
	for {
		c.bmu.Lock()
		if len(c.ready) == 0 {
			c.running = false
			c.bmu.Unlock()
			return
		}
		batch := c.ready[0]
		c.ready = c.ready[1:]
		c.bmu.Unlock()

		txs := make([][]byte, len(batch))
		for i, rr := range batch {
			txs[i] = rr.Request.GetCheckTx().Tx
		}
		c.pre.PreverifyTxs(txs)
		for _, rr := range batch {
			if err := c.answer(context.Background(), rr); err != nil {
				// The mempool takes no error from an asynchronous check: refuse the transaction.
				c.deliver(rr, &abcitypes.ResponseCheckTx{Code: 1, Log: "check failed: " + err.Error()})
			}
		}

		c.bmu.Lock()
		c.open -= len(batch)
		if c.open == 0 {
			c.idle.Broadcast()
		}
		c.bmu.Unlock()
	}
}

// Flush ends the window now and returns once every check is answered.
func (c *checkClient) Flush(ctx context.Context) error {
	c.bmu.Lock()
	c.endWindowLocked()
	for c.open > 0 {
		c.idle.Wait()
	}
	c.bmu.Unlock()
	return c.Client.Flush(ctx)
}

// Stop answers the checks under way before the connection stops: the app must not be
// asked after it closes.
func (c *checkClient) Stop() error {
	_ = c.Flush(context.Background())
	return c.Client.Stop()
}

func (c *checkClient) Query(ctx context.Context, req *abcitypes.RequestQuery) (*abcitypes.ResponseQuery, error) {
	return c.app.Query(ctx, req)
}
