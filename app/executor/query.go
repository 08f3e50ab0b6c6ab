package executor

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
)

// Query result codes (ABCI Query codes, separate from transaction codes).
const (
	QueryOK       codes.Code = 0
	QueryUnknown  codes.Code = 40 // no such query path
	QueryNotFound codes.Code = 41 // the key or record does not exist
	QueryBad      codes.Code = 42 // malformed path or data
	QueryFailed   codes.Code = 43 // the node could not read its state
	// QueryUnavailable: the node cannot answer now (/simulate on a node paused for, or
	// lacking, the runtime that executes the next block).
	QueryUnavailable codes.Code = 44
)

// maxQueryLog bounds a query's log: logs quote the path and data they refuse, and neither
// has a size limit of its own.
const maxQueryLog = 1024

func clipLog(s string) string {
	if len(s) <= maxQueryLog {
		return s
	}
	return fmt.Sprintf("%s... (%d bytes, clipped)", strings.ToValidUTF8(s[:maxQueryLog], ""), len(s))
}

// QueryResult is an answer to Query. Value is raw for /state and JSON otherwise.
type QueryResult struct {
	Code   codes.Code
	Log    string
	Key    []byte
	Value  []byte
	Height int64
	// Proof, when asked for, proves Value (or, with Value nil, the key's absence) against
	// the app hash of Height, which the header of Height+1 carries (see state.Prove).
	Proof []state.ProofOp
}

// AccountInfo is the JSON answer of /account.
type AccountInfo struct {
	Address string `json:"address"`
	// Nonce is the last nonce committed for the account (0 for a new account).
	Nonce uint64 `json:"nonce"`
	// PendingNonce is the last nonce of the account's transactions waiting in this node's
	// mempool without a gap after the committed one (Nonce when none is waiting).
	PendingNonce uint64 `json:"pending_nonce"`
	// NextNonce is the nonce to sign the next transaction with: PendingNonce + 1.
	NextNonce uint64 `json:"next_nonce"`
	// Held counts the account's transactions this node's mempool holds beyond a gap (a
	// nonce after NextNonce), waiting for the nonces before them.
	Held int `json:"held,omitempty"`
}

// RuntimeInfo is the JSON answer of /runtime.
type RuntimeInfo struct {
	Version     uint64 `json:"version"`
	CodeSHA256  string `json:"code_sha256"`
	SinceHeight int64  `json:"since_height"`
	// Profile is the execution profile the version runs under.
	Profile uint32 `json:"profile"`
	// Installed says whether this node has the module, with the right hash.
	Installed bool `json:"installed"`
	// ProfileKnown says whether this node's vchaind carries the profile.
	ProfileKnown bool `json:"profile_known"`
	// Profiles are the execution profiles this node's vchaind carries.
	Profiles []uint32 `json:"profiles"`
	// Paused is set while this node waits for a runtime it lacks.
	Paused *PauseInfo `json:"paused,omitempty"`
}

// Query answers the read-only query paths, always from committed state:
//
//	/state/<contract>   data = key      raw value stored under the contract's key
//	/account/<address>                  AccountInfo (JSON)
//	/runtime                            RuntimeInfo (JSON)
//	/runtime/module/<version>  data = chunk index   ModuleChunk (JSON): an installed module, in chunks
//	/params                             Params (JSON)
//	/simulate           data = signed tx    SimulateResult (JSON): the tx run on the
//	                                        committed state as the next block's first,
//	                                        nothing kept
//	/upgrade/simulate   data = DryRunRequest (JSON)   DryRunReport (JSON): the last
//	                                        blocks re-executed with a candidate version
func (e *Executor) Query(path string, data []byte) QueryResult { return e.QueryAt(path, data, 0) }

// QueryAt is Query at a given height, as ABCI's RequestQuery.Height asks: 0 or the last
// committed height are answered; any other height is refused with QueryBad rather than
// answered from the latest state under a height it does not belong to. (The store keeps
// pruning.keep_recent heights and can read and prove at them, state.Store.Prove; the
// query paths do not serve them yet.) No commit lands while a query runs, so the answer is the
// state of the height it reports.
func (e *Executor) QueryAt(path string, data []byte, height int64) QueryResult {
	return e.QueryProve(path, data, height, false)
}

// QueryProve is QueryAt that, with prove, attaches a proof to a /state answer (ABCI's
// RequestQuery.Prove). A proven absence is answered QueryOK with no value and the proof of
// absence, not QueryNotFound: a verifier (CometBFT's light/rpc among them) checks a proof
// only on a successful answer. Other paths carry no proof and refuse prove.
func (e *Executor) QueryProve(path string, data []byte, height int64, prove bool) QueryResult {
	if path == PathDryRun && !prove {
		// A dry run re-executes many blocks: it must not hold commitMu (and so Commit)
		// that long; it takes it only to pin its start height (dryrun.go).
		return e.dryRunQuery(data, height)
	}
	e.commitMu.RLock()
	defer e.commitMu.RUnlock()
	r := QueryResult{Height: e.store.Height()}
	if height != 0 && height != r.Height {
		r.Code = QueryBad
		r.Log = fmt.Sprintf("height %d: only the last committed height (%d) can be queried; pass 0 for it", height, r.Height)
		return r
	}
	fail := func(c codes.Code, format string, args ...any) QueryResult {
		r.Code, r.Log = c, clipLog(fmt.Sprintf(format, args...))
		return r
	}
	answerJSON := func(v any) QueryResult {
		b, err := json.Marshal(v)
		if err != nil {
			return fail(QueryFailed, "encode answer: %v", err)
		}
		r.Value = b
		return r
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if prove && !(len(parts) == 2 && parts[0] == "state") {
		return fail(QueryBad, "%q: proofs are served for /state/<contract> only", path)
	}
	switch {
	case len(parts) == 2 && parts[0] == "state":
		if len(data) == 0 {
			return fail(QueryBad, "/state/%s: the key goes in the query data and must not be empty", parts[1])
		}
		if prove {
			return e.proveState(r, parts[1], data)
		}
		v, err := e.store.Get(state.ContractKey(parts[1], data))
		if err != nil {
			return fail(QueryFailed, "%v", err)
		}
		if v == nil {
			return fail(QueryNotFound, "contract %q has no key %q", parts[1], data)
		}
		r.Key, r.Value = data, v
		return r
	case len(parts) == 2 && parts[0] == "account":
		addr, err := tx.ParseAddress(parts[1])
		if err != nil {
			return fail(QueryBad, "/account: %v", err)
		}
		committed, pending, held, err := e.nonces(addr)
		if err != nil {
			return fail(QueryFailed, "%v", err)
		}
		return answerJSON(AccountInfo{Address: addr.String(), Nonce: committed, PendingNonce: pending, NextNonce: pending + 1, Held: held})
	case len(parts) == 1 && parts[0] == "runtime":
		eff, err := e.EffectiveRuntime()
		if err != nil {
			return fail(QueryNotFound, "%v", err)
		}
		info := RuntimeInfo{Version: eff.Version, CodeSHA256: hex.EncodeToString(eff.CodeSha256), SinceHeight: eff.SinceHeight,
			Profile: eff.Profile, ProfileKnown: profile.Knows(eff.Profile), Profiles: profile.Supported(), Paused: e.Paused()}
		info.Installed = e.installedSet()[ref(eff.Version, eff.CodeSha256)]
		return answerJSON(info)
	case len(parts) == 3 && parts[0] == "runtime" && parts[1] == "module":
		c, cerr := e.queryModule(parts[2], data)
		if cerr != nil {
			return fail(cerr.Code, "%s", cerr.Msg)
		}
		return answerJSON(c)
	case len(parts) == 2 && parts[0] == "upgrade" && parts[1] == "status":
		st, cerr := e.upgradeStatus(data)
		if cerr != nil {
			return fail(cerr.Code, "%s", cerr.Msg)
		}
		return answerJSON(st)
	case len(parts) == 2 && parts[0] == "upgrade" && parts[1] == "history":
		h, err := e.History()
		if err != nil {
			return fail(QueryFailed, "%v", err)
		}
		return answerJSON(h)
	case len(parts) == 1 && parts[0] == "membership":
		m, cerr := e.membership()
		if cerr != nil {
			return fail(cerr.Code, "%s", cerr.Msg)
		}
		return answerJSON(m)
	case len(parts) == 1 && parts[0] == "params":
		p := e.Params()
		if p == nil {
			return fail(QueryNotFound, "the chain has not been initialised")
		}
		return answerJSON(p)
	case len(parts) == 1 && parts[0] == "simulate":
		s, cerr := e.simulate(context.Background(), data)
		if cerr != nil {
			return fail(cerr.Code, "simulate: %s", cerr.Msg)
		}
		return answerJSON(s)
	}
	return fail(QueryUnknown, "unknown query path %q (known: /state/<contract>, /account/<address>, /runtime, /runtime/module/<version>, /upgrade/status, /upgrade/history, /upgrade/simulate, /membership, /params, /simulate)", path)
}

// proveState answers /state/<contract> with a proof of the value or of its absence at the
// committed height r.Height. The caller holds commitMu, so no commit prunes that height.
func (e *Executor) proveState(r QueryResult, contract string, key []byte) QueryResult {
	if r.Height == 0 {
		r.Code, r.Log = QueryUnavailable, "no block is committed yet: there is no app hash to prove against"
		return r
	}
	v, proof, err := e.store.Prove(r.Height, state.ContractKey(contract, key))
	if err != nil {
		r.Code, r.Log = QueryFailed, clipLog(err.Error())
		return r
	}
	r.Key, r.Value, r.Proof = key, v, proof
	if v == nil {
		r.Log = clipLog(fmt.Sprintf("contract %q has no key %q: proof of absence attached", contract, key))
	}
	return r
}
