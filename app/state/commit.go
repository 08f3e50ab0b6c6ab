package state

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/cometbft/cometbft/crypto/merkle"
)

// StoreRoot is a named store's IAVL root hash at one version.
type StoreRoot struct {
	Name string
	Root []byte
}

// storeLeaf is a store's leaf in the app hash tree:
//
//	uvarint(len name) name uvarint(32) sha256(root)
//
// the key/value leaf CometBFT's merkle.ValueOp ("simple:v") recomputes, so the step from a
// store root to the app hash is a standard CometBFT proof op (and the Cosmos SDK's
// commit-info leaf has the same shape).
func storeLeaf(name string, root []byte) []byte {
	vh := sha256.Sum256(root)
	b := binary.AppendUvarint(nil, uint64(len(name)))
	b = append(b, name...)
	b = binary.AppendUvarint(b, uint64(len(vh)))
	return append(b, vh[:]...)
}

// CommitHash is the app hash: the root of CometBFT's simple Merkle tree (RFC 6962 style,
// crypto/merkle) over the stores' leaves in the order given, which is always storeNames'
// (sorted by name). A consensus rule: changing it changes every app hash.
func CommitHash(roots []StoreRoot) []byte {
	leaves := make([][]byte, len(roots))
	for i, r := range roots {
		leaves[i] = storeLeaf(r.Name, r.Root)
	}
	return merkle.HashFromByteSlices(leaves)
}

// storeProof is the simple Merkle proof of store i's leaf in the tree CommitHash builds.
func storeProof(roots []StoreRoot, i int) merkle.ValueOp {
	leaves := make([][]byte, len(roots))
	for j, r := range roots {
		leaves[j] = storeLeaf(r.Name, r.Root)
	}
	_, proofs := merkle.ProofsFromByteSlices(leaves)
	return merkle.NewValueOp([]byte(roots[i].Name), proofs[i])
}
