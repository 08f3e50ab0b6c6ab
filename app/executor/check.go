package executor

import (
	"github.com/vchain/vchain/app/admission"
	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/app/upgrade"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// MaxNonceAhead is how far past a sender's next nonce CheckTx holds a nonce (see package
// admission).
const MaxNonceAhead = admission.MaxNonceAhead

// SetMempoolLimit tells CheckTx the size of CometBFT's mempool (config mempool.size).
func (e *Executor) SetMempoolLimit(n int) { e.pool.SetLimit(n) }

// CheckTx decides whether raw may enter the mempool. It checks everything FinalizeBlock
// will check before execution: a transaction that passes can only fail in the block
// through its execution (or a competing transaction from the same sender). Its nonce must
// not be used or taken by a waiting transaction, and may be up to MaxNonceAhead past the
// sender's next nonce (after those committed and waiting without a gap): a later one is
// held in the mempool, and left out of proposals (see PrepareProposal), until the nonces
// before it arrive.
func (e *Executor) CheckTx(raw []byte) (*tx.Tx, *codes.Error) { return e.checkTx(raw, false) }

// Preverify verifies the signatures of transactions about to be checked as one batch, so
// that CheckTx finds them verified (see tx.Preverify). It decides nothing.
func (e *Executor) Preverify(raws [][]byte) { tx.Preverify(raws, e.sigs) }

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
		if cerr := e.pool.Full(); cerr != nil {
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
	if cerr := e.pool.Admit(t.Sender, t.Body.Nonce, committed); cerr != nil {
		return nil, cerr
	}
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
	pending, held = e.pool.Pending(addr, committed)
	return committed, pending, held, nil
}
