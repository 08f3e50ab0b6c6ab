// Package upgrade is the version lifecycle: releases, attestations, readiness, the pending
// switch, the switch itself and its history. Like the Cosmos SDK's x/upgrade, its state
// keys, its keeper, its message handlers and its block hooks are kept apart; every rule is
// a deterministic function of state, so every node decides the same.
package upgrade

import (
	"encoding/binary"
)

// Keys. All live under "upgrade/" except the effective runtime, which the executor reads
// every block (state.KeyEffectiveRuntime).
const (
	prefixRelease = "upgrade/release/" // + u64 version -> Release
	prefixAttest  = "upgrade/attest/"  // + validator address (hex) -> Attestation
	prefixHistory = "upgrade/history/" // + u64 height -> RuntimeVersion effective from that height
)

var (
	keyPending    = []byte("upgrade/pending")    // PendingSwitch
	keyValidators = []byte("upgrade/validators") // ValidatorSet
)

func releaseKey(version uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixRelease), version)
}

func attestKey(validator string) []byte { return []byte(prefixAttest + validator) }

func historyKey(height int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixHistory), uint64(height))
}

// ReleasePrefix is the key prefix of every release (for listing committed state).
var ReleasePrefix = []byte(prefixRelease)

// HistoryPrefix is the key prefix of the switch history, in height order.
var HistoryPrefix = []byte(prefixHistory)

// HeightOfHistoryKey returns the height a history key records.
func HeightOfHistoryKey(k []byte) int64 {
	return int64(binary.BigEndian.Uint64(k[len(prefixHistory):]))
}
