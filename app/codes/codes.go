// Package codes lists the result codes vchain returns in CheckTx and FinalizeBlock results.
// They are part of the chain's observable behaviour (clients branch on them, and results are
// hashed into the next header), so a code's number never changes once released.
package codes

import "fmt"

// Code is an ABCI result code. 0 is success.
type Code uint32

// Rejections: a transaction with one of these codes is refused by CheckTx and, if a proposer
// includes it anyway, fails in FinalizeBlock without touching state (not even the nonce).
const (
	OK             Code = 0
	Undecodable    Code = 1  // the bytes are not a Tx envelope with a TxBody
	Unsigned       Code = 2  // missing public key or signature
	BadSignature   Code = 3  // the signature does not verify for the public key
	WrongChain     Code = 4  // chain_id differs from this chain's
	NonceReplayed  Code = 5  // nonce already used (committed or waiting in the mempool)
	NonceGap       Code = 6  // nonce skips ahead of the sender's next nonce
	BadGasLimit    Code = 7  // gas_limit is zero or above the chain's maximum
	InvalidMessage Code = 8  // no message, or a message with invalid fields
	TxTooLarge     Code = 9  // the encoded transaction exceeds the maximum size
	Unauthorized   Code = 10 // an admin message from a non-admin, or an attestation not signed by the validator's operator
	MempoolFull    Code = 11 // this node's mempool is full: retry the same transaction later
)

// Execution failures: the transaction is included, its nonce is consumed and the gas it used
// is charged, but every write it made is discarded.
const (
	OutOfGas          Code = 20 // gas ran out; gas_used equals gas_limit
	ContractTrap      Code = 21 // the module trapped (unreachable, bad memory access, Go runtime fatal error, memory cap)
	ContractError     Code = 22 // the contract returned an error (unknown method, bad arguments, insufficient funds)
	ContractAbort     Code = 23 // the contract called abort, or broke a host limit (key/value/event size)
	RuntimeIncomplete Code = 24 // the module's response was malformed
)

// Version lifecycle failures: the transaction is included and its nonce consumed, but the
// state machine refused the change, so nothing of it is recorded.
const (
	UnknownRelease   Code = 25 // the version has no registered release
	ReleaseConflict  Code = 26 // the version is registered already, with another sha256
	NotReady         Code = 27 // validators attesting the release hold less than the install threshold
	BadActivation    Code = 28 // the start height is not after the containing block, or the version is already effective
	NothingToCancel  Code = 29 // no switch is pending
	UnknownValidator Code = 31 // the attestation, update or rotation names a validator outside the current set
)

// Membership and admin failures: like the lifecycle failures, included, nonce consumed,
// nothing recorded. CheckTx refuses them too when committed state already shows the refusal.
const (
	DuplicateValidatorKey Code = 32 // the consensus key is in the set already (or was added earlier in the block)
	EmptyValidatorSet     Code = 33 // the change would leave no validator with power
	PowerChangeTooLarge   Code = 34 // more than 1/3 of the signing set's power would change before the changes take force
	KeyTypeNotAllowed     Code = 35 // the consensus parameters do not allow the key type
	PowerOverflow         Code = 36 // a power or the set's total power exceeds CometBFT's maximum
	SwitchWouldBeUnready  Code = 37 // the change would drop a pending switch's readiness below the install threshold
	UnknownProposal       Code = 38 // no proposal has the id, or it has executed already
	AlreadyApproved       Code = 39 // the sender approved the proposal already
	ProposalExpired       Code = 40 // the proposal's approval window has passed
	NeedsApproval         Code = 41 // the chain's admin threshold is above one: propose the action instead
)

// Internal is a failure of the node, not of the transaction (it could not read its own
// state). The transaction may succeed on another node or later.
const Internal Code = 30

var names = map[Code]string{
	OK:                "ok",
	Undecodable:       "undecodable",
	Unsigned:          "unsigned",
	BadSignature:      "bad_signature",
	WrongChain:        "wrong_chain",
	NonceReplayed:     "nonce_replayed",
	NonceGap:          "nonce_gap",
	BadGasLimit:       "bad_gas_limit",
	InvalidMessage:    "invalid_message",
	TxTooLarge:        "tx_too_large",
	OutOfGas:          "out_of_gas",
	ContractTrap:      "contract_trap",
	ContractError:     "contract_error",
	ContractAbort:     "contract_abort",
	RuntimeIncomplete: "runtime_bad_response",
	Internal:          "internal",
	Unauthorized:      "unauthorized",
	MempoolFull:       "mempool_full",
	UnknownRelease:    "unknown_release",
	ReleaseConflict:   "release_conflict",
	NotReady:          "not_ready",
	BadActivation:     "bad_activation",
	NothingToCancel:   "nothing_to_cancel",
	UnknownValidator:  "unknown_validator",

	DuplicateValidatorKey: "duplicate_validator_key",
	EmptyValidatorSet:     "empty_validator_set",
	PowerChangeTooLarge:   "power_change_too_large",
	KeyTypeNotAllowed:     "key_type_not_allowed",
	PowerOverflow:         "power_overflow",
	SwitchWouldBeUnready:  "switch_would_be_unready",
	UnknownProposal:       "unknown_proposal",
	AlreadyApproved:       "already_approved",
	ProposalExpired:       "proposal_expired",
	NeedsApproval:         "needs_approval",
}

// Known reports whether c is a code this package defines.
func Known(c Code) bool {
	_, ok := names[c]
	return ok
}

// String returns the code's stable name.
func (c Code) String() string {
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("code_%d", uint32(c))
}

// Error is an error that carries the result code a transaction gets for it.
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Msg) }

// Errorf returns an *Error with code c.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}
