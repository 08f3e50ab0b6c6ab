package state

import (
	"fmt"

	"github.com/cometbft/cometbft/crypto/merkle"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	ics23 "github.com/cosmos/ics23/go"
)

// Proof format (what a client in any language verifies; docs/proofs.md has it in full).
//
// A proof of key K (a full store key, e.g. "contract/<name>/<key>") at height H is two
// ProofOps, checked in order against the app hash of H (which the header of H+1 carries):
//
//  1. Type "ics23:iavl", Key K, Data a protobuf cosmos.ics23.v1.CommitmentProof: an
//     ExistenceProof of (K, value), or a NonExistenceProof of K, in the IAVL tree of K's
//     store, under ics23.IavlSpec. Its calculated root is the store's root hash.
//  2. Type "simple:v" (CometBFT's merkle.ValueOp), Key the store name, Data a protobuf
//     tendermint.crypto.ValueOp holding a simple Merkle proof of the store's leaf
//     uvarint(len name) name uvarint(32) sha256(store root) in the tree whose leaves are
//     the stores in name order (accounts, contracts, runtime); its root is the app hash.
//
// With CometBFT's merkle.ProofRuntime (ProofRuntime below registers both decoders), the
// key path is KeyPath(K) and VerifyValue / VerifyAbsence do the whole check. These are the
// Cosmos SDK's "ics23:iavl" op and CometBFT's own "simple:v" op, so existing verifiers of
// either chain can be reused.

// ProofOpIAVL is the type of the store-level op: an ICS23 proof in an IAVL tree.
const ProofOpIAVL = "ics23:iavl"

// ProofOp is one step of a proof: CometBFT's ProofOp without its types, so that layers
// above this one need no CometBFT import to pass it on.
type ProofOp struct {
	Type string
	Key  []byte
	Data []byte
}

// ToProto converts ops to CometBFT's wire form.
func ToProto(ops []ProofOp) *cmtcrypto.ProofOps {
	out := &cmtcrypto.ProofOps{}
	for _, o := range ops {
		out.Ops = append(out.Ops, cmtcrypto.ProofOp{Type: o.Type, Key: o.Key, Data: o.Data})
	}
	return out
}

// KeyPath is the merkle key path of a store key: "/<store>/x:<hex key>".
func KeyPath(key []byte) (string, error) {
	name, err := StoreOf(key)
	if err != nil {
		return "", err
	}
	return merkle.KeyPath{}.AppendKey([]byte(name), merkle.KeyEncodingURL).AppendKey(key, merkle.KeyEncodingHex).String(), nil
}

// ProofRuntime returns CometBFT's proof runtime with the two op types of vchain proofs.
func ProofRuntime() *merkle.ProofRuntime {
	prt := merkle.NewProofRuntime()
	prt.RegisterOpDecoder(merkle.ProofOpValue, merkle.ValueOpDecoder)
	prt.RegisterOpDecoder(ProofOpIAVL, CommitmentOpDecoder)
	return prt
}

// CommitmentOp is the "ics23:iavl" proof operator.
type CommitmentOp struct {
	Key   []byte
	Proof *ics23.CommitmentProof
}

var _ merkle.ProofOperator = CommitmentOp{}

// CommitmentOpDecoder decodes an "ics23:iavl" op for merkle.ProofRuntime.
func CommitmentOpDecoder(pop cmtcrypto.ProofOp) (merkle.ProofOperator, error) {
	if pop.Type != ProofOpIAVL {
		return nil, fmt.Errorf("proof op type %q, want %q", pop.Type, ProofOpIAVL)
	}
	p := &ics23.CommitmentProof{}
	if err := p.Unmarshal(pop.Data); err != nil {
		return nil, fmt.Errorf("decode %s proof: %w", ProofOpIAVL, err)
	}
	return CommitmentOp{Key: pop.Key, Proof: p}, nil
}

// GetKey implements merkle.ProofOperator.
func (op CommitmentOp) GetKey() []byte { return op.Key }

// Run checks the proof for a value (one arg: membership) or for absence (no arg) and
// returns the store root it proves it under.
func (op CommitmentOp) Run(args [][]byte) ([][]byte, error) {
	root, err := op.Proof.Calculate()
	if err != nil {
		return nil, fmt.Errorf("%s: calculate root: %w", ProofOpIAVL, err)
	}
	switch len(args) {
	case 0:
		if !ics23.VerifyNonMembership(ics23.IavlSpec, root, op.Proof, op.Key) {
			return nil, fmt.Errorf("%s: the proof does not show key %q absent", ProofOpIAVL, op.Key)
		}
	case 1:
		if !ics23.VerifyMembership(ics23.IavlSpec, root, op.Proof, op.Key, args[0]) {
			return nil, fmt.Errorf("%s: the proof does not show key %q holding value %x", ProofOpIAVL, op.Key, args[0])
		}
	default:
		return nil, fmt.Errorf("%s: %d values, want 0 (absence) or 1", ProofOpIAVL, len(args))
	}
	return [][]byte{root}, nil
}

// ProofOp implements merkle.ProofOperator.
func (op CommitmentOp) ProofOp() cmtcrypto.ProofOp {
	bz, err := op.Proof.Marshal()
	if err != nil {
		panic(fmt.Sprintf("state: marshal ics23 proof: %v", err)) // a proof built in memory always encodes
	}
	return cmtcrypto.ProofOp{Type: ProofOpIAVL, Key: op.Key, Data: bz}
}

// Prove returns key's committed value at height (nil if absent) with the proof of that
// value, or of its absence, against the app hash of height. height must be a version the
// store keeps (the last keep_recent heights).
func (s *Store) Prove(height int64, key []byte) ([]byte, []ProofOp, error) {
	i, err := storeIndex(key)
	if err != nil {
		return nil, nil, fmt.Errorf("prove: %w", err)
	}
	if last := s.Height(); height < 1 || height > last {
		return nil, nil, fmt.Errorf("prove at height %d: the committed heights end at %d", height, last)
	}
	if err := s.WaitSaved(); err != nil { // a proof needs the height's saved trees
		return nil, nil, fmt.Errorf("prove at height %d: %w", height, err)
	}
	s.nodes.RLock()
	defer s.nodes.RUnlock()
	s.pruning.RLock()
	defer s.pruning.RUnlock()
	trees, err := s.immutableAt(height)
	if err != nil {
		return nil, nil, fmt.Errorf("prove at height %d: %w", height, err)
	}
	t := trees[i]
	if t.Size() == 0 {
		// Cannot happen: every store holds its sentinel from its first version (sentinel.go),
		// because ICS23 has no proof in an empty tree.
		return nil, nil, fmt.Errorf("prove at height %d: store %s is empty (it lacks its sentinel), so ICS23 has no proof in it", height, storeNames[i])
	}
	value, err := t.Get(key)
	if err != nil {
		return nil, nil, fmt.Errorf("prove: read %q: %w", key, err)
	}
	if value != nil && len(value) == 0 {
		// ICS23's leaf hashes a value and refuses an empty one, so neither a membership
		// nor an absence proof exists for this key: say so rather than serve a proof no
		// verifier accepts.
		return nil, nil, fmt.Errorf("prove %q at height %d: the key holds an empty value, which ICS23 cannot prove", key, height)
	}
	var cp *ics23.CommitmentProof
	if value != nil {
		cp, err = t.GetMembershipProof(key)
	} else {
		cp, err = t.GetNonMembershipProof(key)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("prove %q at height %d: %w", key, height, err)
	}
	inner := CommitmentOp{Key: key, Proof: cp}.ProofOp()
	outer := storeProof(s.roots(trees), i).ProofOp()
	return value, []ProofOp{
		{Type: inner.Type, Key: inner.Key, Data: inner.Data},
		{Type: outer.Type, Key: outer.Key, Data: outer.Data},
	}, nil
}
