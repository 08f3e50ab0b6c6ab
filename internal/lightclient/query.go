package lightclient

import (
	"context"
	"errors"
	"fmt"

	cmtlog "github.com/cometbft/cometbft/libs/log"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	rpcclient "github.com/cometbft/cometbft/rpc/client"

	"github.com/vchain/vchain/app/state"
)

// ErrVerification marks an answer (a header or a proof) that did not verify: the node,
// or something between it and us, served data the chain did not commit.
var ErrVerification = errors.New("verification failed")

func verifyErr(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrVerification, fmt.Errorf(format, args...))
}

func nopLogger() cmtlog.Logger { return cmtlog.NewNopLogger() }

// StateResult is a verified answer of /state/<contract>.
type StateResult struct {
	Contract string
	Key      []byte
	// Value is the committed value; nil with Present false for a proven absence.
	Value   []byte
	Present bool
	// Height is the height whose state the answer is; its app hash is in the header of
	// Height+1 (HeaderHeight), which the light client verified.
	Height       int64
	HeaderHeight int64
	HeaderHash   []byte
	AppHash      []byte
	// ProofBytes is the size of the proof ops' data.
	ProofBytes int
}

// QueryState asks the node for contract's key with a proof (abci_query /state/<contract>
// with prove=true) and verifies the value, or its absence, against the app hash in the
// light-client-verified header of the next height. Any mismatch is an ErrVerification.
func (v *Verifier) QueryState(ctx context.Context, contract string, key []byte) (*StateResult, error) {
	path := "/state/" + contract
	res, err := v.rpc.ABCIQueryWithOptions(ctx, path, key, rpcclient.ABCIQueryOptions{Prove: true})
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", path, err)
	}
	r := res.Response
	if r.Code != 0 {
		return nil, fmt.Errorf("query %s: the node refused (code %d): %s", path, r.Code, r.Log)
	}
	if r.ProofOps == nil || len(r.ProofOps.Ops) == 0 {
		return nil, verifyErr("query %s: the answer carries no proof", path)
	}
	if r.Height < 1 {
		return nil, verifyErr("query %s: the answer is for height %d", path, r.Height)
	}
	lb, err := v.Header(ctx, r.Height+1)
	if err != nil {
		return nil, err
	}
	present, err := VerifyState(r.ProofOps, lb.AppHash, contract, key, r.Value)
	if err != nil {
		return nil, verifyErr("key %q of contract %q at height %d, against the app hash %X of header %d: %w",
			key, contract, r.Height, []byte(lb.AppHash), lb.Height, err)
	}
	size := 0
	for _, op := range r.ProofOps.Ops {
		size += len(op.Data)
	}
	out := &StateResult{Contract: contract, Key: key, Present: present, Height: r.Height, HeaderHeight: lb.Height,
		HeaderHash: lb.Hash(), AppHash: lb.AppHash, ProofBytes: size}
	if present {
		out.Value = r.Value
	}
	return out, nil
}

// VerifyState checks ops as the proof of contract's key holding value, or of its absence
// when value is empty, under appHash (see docs/proofs.md). It returns whether the key is
// present. (An empty stored value cannot be proven at all, ICS23's leaf needs a value, so
// the node refuses to prove one and an empty answer always means absent.)
func VerifyState(ops *cmtcrypto.ProofOps, appHash []byte, contract string, key, value []byte) (bool, error) {
	kp, err := state.KeyPath(state.ContractKey(contract, key))
	if err != nil {
		return false, err
	}
	prt := state.ProofRuntime()
	if len(value) > 0 {
		return true, prt.VerifyValue(ops, appHash, kp, value)
	}
	if err := prt.VerifyAbsence(ops, appHash, kp); err != nil {
		return false, fmt.Errorf("the answer says absent: %w", err)
	}
	return false, nil
}
