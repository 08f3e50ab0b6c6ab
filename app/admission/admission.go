// Package admission is the mempool's account of each sender between two commits: the
// nonces of the transactions CheckTx admitted, and how many it admitted against CometBFT's
// mempool size. It decides whether a transaction's nonce may wait in the mempool, given the
// sender's committed nonce; the executor checks everything else (encoding, signature,
// authority) before asking it.
//
// A client that sends several transactions at once (each signed with its own nonce, in
// parallel) cannot control the order in which they reach a node, or reach it by gossip, so
// a nonce ahead of a gap is held, as Ethereum's mempool queues it, up to MaxNonceAhead past
// the sender's next nonce. The bound keeps what one sender can park in the mempool small;
// held transactions count against the mempool's size like the others, and PrepareProposal
// leaves them out until the gap fills.
package admission

import (
	"sync"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/tx"
)

// MaxNonceAhead is how far past a sender's next nonce a nonce is held.
const MaxNonceAhead = 64

// Pool tracks the admitted nonces of each sender since the last commit. It is cleared at
// every commit (Reset); CometBFT then rechecks the mempool in the order of admission,
// which rebuilds it. It is safe for concurrent use.
//
// Its count of admitted transactions is the size of CometBFT's mempool (each admitted
// transaction enters the mempool at once, and a recheck rebuilds the count). Refusing at
// that size matters: CometBFT v0.38 checks "mempool full" again after the app accepted a
// transaction and then drops it silently, which would leave a gap in its sender's nonces.
type Pool struct {
	mu       sync.Mutex
	pending  map[tx.Address]*sender
	admitted int
	limit    int // CometBFT's mempool.size; 0: unknown, no limit
}

// sender is one sender's nonces waiting in the mempool.
type sender struct {
	nonces map[uint64]struct{}
	// ready is the last nonce of the gap-free run from the committed nonce through the
	// waiting ones: the committed nonce when the next one is not waiting. Nonces above
	// ready+1 are held until the gap fills.
	ready uint64
}

// New returns an empty pool without a size limit.
func New() *Pool { return &Pool{pending: map[tx.Address]*sender{}} }

// Reset forgets every admitted nonce: call it at each commit, before the recheck.
func (p *Pool) Reset() {
	p.mu.Lock()
	p.pending = map[tx.Address]*sender{}
	p.admitted = 0
	p.mu.Unlock()
}

// SetLimit sets the mempool's size (CometBFT's mempool.size); 0 removes the limit.
func (p *Pool) SetLimit(n int) {
	p.mu.Lock()
	p.limit = n
	p.mu.Unlock()
}

// Full refuses when the mempool holds as many transactions as its size. CheckTx asks it
// before anything else: under load most refusals are this one, and a signature check
// costs more than the rest of CheckTx together.
func (p *Pool) Full() *codes.Error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fullLocked()
}

func (p *Pool) fullLocked() *codes.Error {
	if p.limit > 0 && p.admitted >= p.limit {
		return codes.Errorf(codes.MempoolFull, "the mempool holds %d transactions, its limit: retry this transaction later", p.admitted)
	}
	return nil
}

// Admit records addr's transaction with nonce, given addr's last committed nonce, or
// refuses it: a nonce already committed or already waiting, one more than MaxNonceAhead
// past the sender's next nonce, or a full mempool.
func (p *Pool) Admit(addr tx.Address, nonce, committed uint64) *codes.Error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.pending[addr]
	var waiting bool
	if s != nil {
		_, waiting = s.nonces[nonce]
	}
	switch next := p.next(addr, committed); {
	case nonce <= committed:
		return codes.Errorf(codes.NonceReplayed, "nonce %d already used: the sender's last committed nonce is %d", nonce, committed)
	case waiting:
		return codes.Errorf(codes.NonceReplayed, "nonce %d is already taken by a transaction waiting in the mempool (next is %d)", nonce, next)
	case nonce > next && nonce-next > MaxNonceAhead:
		return codes.Errorf(codes.NonceGap, "nonce %d skips ahead more than %d past the sender's next nonce %d", nonce, MaxNonceAhead, next)
	}
	if cerr := p.fullLocked(); cerr != nil {
		return cerr
	}
	if s == nil {
		s = &sender{nonces: map[uint64]struct{}{}, ready: committed}
		p.pending[addr] = s
	}
	s.nonces[nonce] = struct{}{}
	p.admitted++
	return nil
}

// Pending returns the last nonce of the gap-free run of addr's waiting transactions after
// its committed nonce (committed itself when none is waiting), and how many of its
// waiting transactions are held beyond a gap. A client's next nonce is pending+1.
func (p *Pool) Pending(addr tx.Address, committed uint64) (pending uint64, held int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pending = p.next(addr, committed) - 1
	if s := p.pending[addr]; s != nil {
		for n := range s.nonces {
			if n > pending {
				held++
			}
		}
	}
	return pending, held
}

// next returns the nonce addr's next transaction must carry to execute after those
// committed and waiting. Called with p.mu held.
func (p *Pool) next(addr tx.Address, committed uint64) uint64 {
	s := p.pending[addr]
	if s == nil {
		return committed + 1
	}
	// The run only grows between commits (each Reset starts it again), so it is extended
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
