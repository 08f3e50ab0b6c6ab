package state

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Key namespaces. Every key the app writes starts with one of these prefixes; contract
// state is namespaced per contract so one contract can never read or write another's keys.
const (
	prefixAccount  = "acct/"     // acct/<20-byte address> -> last used nonce (u64 big-endian)
	prefixContract = "contract/" // contract/<name>/<key> -> value
	prefixRuntime  = "runtime/"  // runtime/... -> runtime records
	prefixGenesis  = "genesis/"  // genesis/... -> chain parameters fixed at InitChain
	prefixUpgrade  = "upgrade/"  // upgrade/... -> releases, attestations, history (app/upgrade)
)

// The named stores, sorted by name (the order of the app hash tree's leaves). Each is one
// IAVL tree holding the full keys of its prefixes, so a key's proof names the key itself.
// Contract state is apart from the runtime records because it is where nearly all writes
// land, and a proof of a contract value then carries no path through the runtime records.
const (
	StoreAccounts  = "accounts"  // nonces: acct/
	StoreContracts = "contracts" // contract state: contract/
	StoreRuntime   = "runtime"   // releases, attestations, effective/pending/history, validators, chain params
)

// storeNames lists the stores in app hash order; storePrefixes routes every key prefix.
var (
	storeNames    = []string{StoreAccounts, StoreContracts, StoreRuntime}
	storePrefixes = []struct{ prefix, store string }{
		{prefixAccount, StoreAccounts},
		{prefixContract, StoreContracts},
		{prefixRuntime, StoreRuntime},
		{prefixUpgrade, StoreRuntime},
		{prefixGenesis, StoreRuntime},
	}
)

// StoreOf names the store that holds key, or fails for a key outside every namespace (a
// bug: such a key could be neither committed nor proven).
func StoreOf(key []byte) (string, error) {
	for _, p := range storePrefixes {
		if strings.HasPrefix(string(key), p.prefix) {
			return p.store, nil
		}
	}
	return "", fmt.Errorf("key %q is in no store namespace", key)
}

// AccountKey is the key of an account's nonce record.
func AccountKey(addr []byte) []byte {
	return append([]byte(prefixAccount), addr...)
}

// ContractPrefix is the prefix of every key of one contract.
func ContractPrefix(contract string) []byte {
	return []byte(prefixContract + contract + "/")
}

// ContractKey is the store key of a contract's key.
func ContractKey(contract string, key []byte) []byte {
	return append(ContractPrefix(contract), key...)
}

// KeyEffectiveRuntime holds the EffectiveRuntime record.
var KeyEffectiveRuntime = []byte(prefixRuntime + "effective")

// KeyParams holds the chain parameters set at InitChain (a statev1.ChainParams).
var KeyParams = []byte(prefixGenesis + "params")

// EncodeUint64 encodes v big-endian, so that numeric order is key order.
func EncodeUint64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, v)
}

// DecodeUint64 decodes a value written by EncodeUint64; absent (nil) reads as 0.
func DecodeUint64(b []byte) (uint64, bool) {
	if b == nil {
		return 0, true
	}
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}
