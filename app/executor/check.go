package executor

import (
	"sync"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/app/upgrade"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// checkState tracks, per sender, the nonces of transactions accepted into the mempool
// since the last commit, so a sender can have several transactions in one block. It is
// cleared at every commit; CometBFT then rechecks the mempool, which rebuilds it.
//
// It also counts the transactions it admitted since the last commit, which is the size of
// CometBFT's mempool (CheckTx calls are serialised and each admitted transaction enters
// the mempool at once; after a commit the recheck of the remaining ones rebuilds the
// count). Refusing at the mempool's size matters: CometBFT v0.38 checks "mempool full"
// again after the app accepted a transaction and then drops it silently.
type checkState struct {
	mu       sync.Mutex
	pending  map[tx.Address]map[uint64]struct{}
	admitted int
	limit    int // CometBFT's mempool.size; 0: unknown, no limit
}

func (c *checkState) reset() {
	c.mu.Lock()
	c.pending = make(map[tx.Address]map[uint64]struct{})
	c.admitted = 0
	c.mu.Unlock()
}

// top returns the highest nonce of addr that is committed or waiting.
func (c *checkState) top(addr tx.Address, committed uint64) uint64 {
	top := committed
	for n := range c.pending[addr] {
		top = max(top, n)
	}
	return top
}

// full refuses a transaction when the mempool holds as many as CometBFT's mempool.size.
func (c *checkState) full() *codes.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fullLocked()
}

func (c *checkState) fullLocked() *codes.Error {
	if c.limit > 0 && c.admitted >= c.limit {
		return codes.Errorf(codes.MempoolFull, "the mempool holds %d transactions, its limit: retry this transaction later", c.admitted)
	}
	return nil
}

// SetMempoolLimit tells CheckTx the size of CometBFT's mempool (config mempool.size).
func (e *Executor) SetMempoolLimit(n int) {
	e.check.mu.Lock()
	e.check.limit = n
	e.check.mu.Unlock()
}

// CheckTx decides whether raw may enter the mempool. It checks everything FinalizeBlock
// will check before execution: a transaction that passes can only fail in the block
// through its execution (or a competing transaction from the same sender). Its nonce must
// be the sender's next one after those committed or waiting, or fill a hole among the
// waiting ones (a resend of a transaction the mempool lost).
func (e *Executor) CheckTx(raw []byte) (*tx.Tx, *codes.Error) { return e.checkTx(raw, false) }

// RecheckTx re-checks a transaction already in the mempool after a commit. It is
// CheckTx, except that a nonce ahead of a gap is kept: CometBFT's mempool may hold a
// sender's transactions out of nonce order (see PrepareProposal), and evicting the later
// one would lose it. Used nonces are evicted.
func (e *Executor) RecheckTx(raw []byte) (*tx.Tx, *codes.Error) { return e.checkTx(raw, true) }

func (e *Executor) checkTx(raw []byte, recheck bool) (*tx.Tx, *codes.Error) {
	p := e.Params()
	if p == nil {
		return nil, codes.Errorf(codes.InvalidMessage, "the chain has not been initialised")
	}
	if !recheck {
		// Refused before decoding: under load most refusals are this one, and a signature
		// check costs more than the rest of CheckTx together.
		if cerr := e.check.full(); cerr != nil {
			return nil, cerr
		}
	}
	t, cerr := tx.DecodeCached(raw, tx.Limits{ChainID: p.ChainID, MaxGasPerTx: p.App.MaxGasPerTx}, e.sigs)
	if cerr != nil {
		return nil, cerr
	}
	if _, isCall := t.Body.Msg.(*txv1.TxBody_Call); !isCall {
		refusal, err := upgrade.NewKeeper(state.NewCache(e.committed())).Authorize(p.App.Admins, t.Sender.String(), t.Body.Msg)
		if err != nil {
			return nil, codes.Errorf(codes.Internal, "read validator set: %v", err)
		}
		if refusal != nil {
			return nil, refusal
		}
	}
	committed, err := readNonce(e.store, t.Sender)
	if err != nil {
		return nil, codes.Errorf(codes.Internal, "read sender state: %v", err)
	}
	e.check.mu.Lock()
	defer e.check.mu.Unlock()
	n := t.Body.Nonce
	_, waiting := e.check.pending[t.Sender][n]
	switch top := e.check.top(t.Sender, committed); {
	case n <= committed:
		return nil, codes.Errorf(codes.NonceReplayed, "nonce %d already used: the sender's last committed nonce is %d", n, committed)
	case waiting:
		return nil, codes.Errorf(codes.NonceReplayed, "nonce %d is already taken by a transaction waiting in the mempool (next is %d)", n, top+1)
	case n > top+1 && !recheck:
		return nil, codes.Errorf(codes.NonceGap, "nonce %d skips ahead: the sender's next nonce is %d", n, top+1)
	}
	if cerr := e.check.fullLocked(); cerr != nil {
		return nil, cerr
	}
	if e.check.pending[t.Sender] == nil {
		e.check.pending[t.Sender] = map[uint64]struct{}{}
	}
	e.check.pending[t.Sender][n] = struct{}{}
	e.check.admitted++
	return t, nil
}

// Nonces returns the last committed nonce of addr and the highest nonce waiting in the
// mempool (equal when none is waiting). A client's next nonce is pending+1.
func (e *Executor) Nonces(addr tx.Address) (committed, pending uint64, err error) {
	committed, err = readNonce(e.store, addr)
	if err != nil {
		return 0, 0, err
	}
	e.check.mu.Lock()
	defer e.check.mu.Unlock()
	return committed, e.check.top(addr, committed), nil
}
