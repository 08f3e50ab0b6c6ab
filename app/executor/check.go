package executor

import (
	"sync"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/app/upgrade"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// MaxNonceAhead is how far past a sender's next nonce CheckTx accepts a nonce: a client
// that sends several transactions at once (each signed with its own nonce, in parallel)
// cannot control the order in which they reach a node, or reach it by gossip, so a node
// holds up to this many of a sender's later nonces until the gap before them fills, as
// Ethereum's mempool queues them. The bound keeps what one sender can park in the mempool
// small; the mempool limit (SetMempoolLimit) counts held transactions like the others.
const MaxNonceAhead = 64

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
	pending  map[tx.Address]*senderNonces
	admitted int
	limit    int // CometBFT's mempool.size; 0: unknown, no limit
}

// senderNonces are one sender's nonces waiting in the mempool.
type senderNonces struct {
	nonces map[uint64]struct{}
	// ready is the last nonce of the gap-free run from the committed nonce through the
	// waiting ones: the committed nonce when the next one is not waiting. Nonces above
	// ready+1 are held until the gap fills.
	ready uint64
}

func (c *checkState) reset() {
	c.mu.Lock()
	c.pending = make(map[tx.Address]*senderNonces)
	c.admitted = 0
	c.mu.Unlock()
}

// next returns the nonce addr's next transaction must carry to execute after those
// committed and waiting. Called with c.mu held.
func (c *checkState) next(addr tx.Address, committed uint64) uint64 {
	s := c.pending[addr]
	if s == nil {
		return committed + 1
	}
	// The run only grows between commits (each reset starts it again), so it is extended
	// from where it stopped: amortised, one lookup per admitted nonce.
	s.ready = max(s.ready, committed)
	for {
		if _, ok := s.nonces[s.ready+1]; !ok {
			break
		}
		s.ready++
	}
	return s.ready + 1
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
// not be used or taken by a waiting transaction, and may be up to MaxNonceAhead past the
// sender's next nonce (after those committed and waiting without a gap): a later one is
// held in the mempool, and left out of proposals (see PrepareProposal), until the nonces
// before it arrive.
func (e *Executor) CheckTx(raw []byte) (*tx.Tx, *codes.Error) { return e.checkTx(raw, false) }

// RecheckTx re-checks a transaction already in the mempool after a commit, by the rules of
// CheckTx: used nonces are evicted, held ones stay while they are within MaxNonceAhead of
// the sender's next nonce. CometBFT rechecks in the mempool's order, which is the order of
// admission, so the run before a held nonce is rebuilt before it is rechecked, as it was
// admitted; a held nonce falls out of the window only when nonces before it left the
// mempool unexecuted (a block that failed them, or the mempool's TTL).
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
		refusal, err := upgrade.NewKeeper(state.NewCache(e.committed())).Authorize(t.Sender.String(), t.Body.Msg)
		if err != nil {
			return nil, codes.Errorf(codes.Internal, "read validator set: %v", err)
		}
		if refusal != nil {
			return nil, refusal
		}
		if cerr := e.checkMembership(p, t); cerr != nil {
			return nil, cerr
		}
	}
	committed, err := readNonce(e.store, t.Sender)
	if err != nil {
		return nil, codes.Errorf(codes.Internal, "read sender state: %v", err)
	}
	e.check.mu.Lock()
	defer e.check.mu.Unlock()
	n := t.Body.Nonce
	s := e.check.pending[t.Sender]
	var waiting bool
	if s != nil {
		_, waiting = s.nonces[n]
	}
	switch next := e.check.next(t.Sender, committed); {
	case n <= committed:
		return nil, codes.Errorf(codes.NonceReplayed, "nonce %d already used: the sender's last committed nonce is %d", n, committed)
	case waiting:
		return nil, codes.Errorf(codes.NonceReplayed, "nonce %d is already taken by a transaction waiting in the mempool (next is %d)", n, next)
	case n > next && n-next > MaxNonceAhead:
		return nil, codes.Errorf(codes.NonceGap, "nonce %d skips ahead more than %d past the sender's next nonce %d", n, MaxNonceAhead, next)
	}
	if cerr := e.check.fullLocked(); cerr != nil {
		return nil, cerr
	}
	if s == nil {
		s = &senderNonces{nonces: map[uint64]struct{}{}, ready: committed}
		e.check.pending[t.Sender] = s
	}
	s.nonces[n] = struct{}{}
	e.check.admitted++
	return t, nil
}

// Nonces returns the last committed nonce of addr and the last nonce of the gap-free run
// of its transactions waiting in the mempool after it (equal when none is waiting). A
// client's next nonce is pending+1.
func (e *Executor) Nonces(addr tx.Address) (committed, pending uint64, err error) {
	committed, pending, _, err = e.nonces(addr)
	return committed, pending, err
}

// nonces is Nonces and the count of addr's transactions the mempool holds beyond a gap.
func (e *Executor) nonces(addr tx.Address) (committed, pending uint64, held int, err error) {
	committed, err = readNonce(e.store, addr)
	if err != nil {
		return 0, 0, 0, err
	}
	e.check.mu.Lock()
	defer e.check.mu.Unlock()
	pending = e.check.next(addr, committed) - 1
	if s := e.check.pending[addr]; s != nil {
		for n := range s.nonces {
			if n > pending {
				held++
			}
		}
	}
	return committed, pending, held, nil
}
