// Package client talks to a vchain node through CometBFT's RPC: app queries, and signing,
// broadcasting and awaiting transactions. The CLI and the end-to-end tests share it.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	coretypes "github.com/cometbft/cometbft/rpc/core/types"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/internal/keyring"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// Client is a connection to one node's RPC.
type Client struct {
	RPC  *rpchttp.HTTP
	addr string
}

// New returns a client of the node at addr (e.g. tcp://127.0.0.1:26657).
func New(addr string) (*Client, error) {
	c, err := rpchttp.New(addr, "/websocket")
	if err != nil {
		return nil, fmt.Errorf("RPC client for %s: %w", addr, err)
	}
	return &Client{RPC: c, addr: addr}, nil
}

func (c *Client) unreachable(err error) error {
	return fmt.Errorf("node %s: %w (is `vchaind start` running there? see --node)", c.addr, err)
}

// ChainID returns the chain id the node runs.
func (c *Client) ChainID(ctx context.Context) (string, error) {
	st, err := c.RPC.Status(ctx)
	if err != nil {
		return "", c.unreachable(err)
	}
	return st.NodeInfo.Network, nil
}

// QueryError is a query the app answered with a non-zero code.
type QueryError struct {
	Path string
	Code codes.Code
	Log  string
}

func (e *QueryError) Error() string { return fmt.Sprintf("query %s: %s", e.Path, e.Log) }

// Query runs an app query and returns its value.
func (c *Client) Query(ctx context.Context, path string, data []byte) (*abcitypes.ResponseQuery, error) {
	res, err := c.RPC.ABCIQuery(ctx, path, data)
	if err != nil {
		return nil, c.unreachable(err)
	}
	if res.Response.Code != 0 {
		return nil, &QueryError{Path: path, Code: codes.Code(res.Response.Code), Log: res.Response.Log}
	}
	return &res.Response, nil
}

// QueryJSON runs an app query whose value is JSON and decodes it into v.
func (c *Client) QueryJSON(ctx context.Context, path string, v any) error {
	res, err := c.Query(ctx, path, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(res.Value, v); err != nil {
		return fmt.Errorf("query %s: decode answer: %w", path, err)
	}
	return nil
}

// Account returns the nonces of addr.
func (c *Client) Account(ctx context.Context, addr tx.Address) (executor.AccountInfo, error) {
	var a executor.AccountInfo
	err := c.QueryJSON(ctx, "/account/"+addr.String(), &a)
	return a, err
}

// CallTx describes a contract call to sign.
type CallTx struct {
	ChainID  string // looked up from the node when empty
	Contract string
	Method   string
	Args     []byte
	GasLimit uint64
	Nonce    uint64 // looked up from the node (counting its mempool) when zero
}

// SignCall signs a call with key and returns the encoded transaction and its nonce.
func (c *Client) SignCall(ctx context.Context, key *keyring.Key, t CallTx) ([]byte, uint64, error) {
	return c.Sign(ctx, key, t.ChainID, t.Nonce, t.GasLimit, func(b *txv1.TxBody) {
		b.Msg = &txv1.TxBody_Call{Call: &txv1.Call{Contract: t.Contract, Method: t.Method, Args: t.Args}}
	})
}

// Sign signs a transaction whose message setMsg fills in, looking up the chain id and the
// sender's next nonce (counting the node's mempool) when they are empty.
func (c *Client) Sign(ctx context.Context, key *keyring.Key, chainID string, nonce, gas uint64, setMsg func(*txv1.TxBody)) ([]byte, uint64, error) {
	if chainID == "" {
		id, err := c.ChainID(ctx)
		if err != nil {
			return nil, 0, err
		}
		chainID = id
	}
	if nonce == 0 {
		a, err := c.Account(ctx, key.Address)
		if err != nil {
			return nil, 0, err
		}
		nonce = a.NextNonce
	}
	body := &txv1.TxBody{ChainId: chainID, Nonce: nonce, GasLimit: gas}
	setMsg(body)
	raw, err := tx.Sign(key.Private, body)
	return raw, nonce, err
}

// CheckTxError is a transaction the node refused to admit to its mempool.
type CheckTxError struct {
	Code codes.Code
	Log  string
}

func (e *CheckTxError) Error() string {
	return fmt.Sprintf("rejected by the node (code %d %s): %s", e.Code, e.Code, e.Log)
}

// Broadcast submits raw and returns its hash once the node admitted it to its mempool.
func (c *Client) Broadcast(ctx context.Context, raw []byte) ([]byte, error) {
	res, err := c.RPC.BroadcastTxSync(ctx, raw)
	if err != nil {
		return nil, c.unreachable(err)
	}
	if res.Code != 0 {
		return res.Hash, &CheckTxError{Code: codes.Code(res.Code), Log: res.Log}
	}
	return res.Hash, nil
}

// ErrTimeout reports a transaction not committed before the deadline.
var ErrTimeout = errors.New("transaction not committed in time")

// WaitTx polls until the transaction with hash is in a committed block.
func (c *Client) WaitTx(ctx context.Context, hash []byte, timeout time.Duration) (*coretypes.ResultTx, error) {
	deadline := time.Now().Add(timeout)
	for {
		res, err := c.RPC.Tx(ctx, hash, false)
		if err == nil {
			return res, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("tx %X after %s: %w (last error: %v)", hash, timeout, ErrTimeout, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Record decodes the execution record a committed transaction's result carries in its
// data (see executor.DecodeExecResult): the runtime version and profile that executed it,
// which consensus covers, and the contract's data. A transaction rejected before
// execution has none (an error).
func Record(r *abcitypes.ExecTxResult) (*txv1.ExecResult, error) {
	return executor.DecodeExecResult(r.Data)
}

// RuntimeVersion returns the runtime version that executed a result's transaction, from
// its execution record; for a transaction rejected before execution, which has none, the
// runtime_version attribute of its vchain_tx event (the block's version, which events
// report but consensus does not cover).
func RuntimeVersion(r *abcitypes.ExecTxResult) string {
	if rec, err := Record(r); err == nil {
		return strconv.FormatUint(rec.RuntimeVersion, 10)
	}
	for _, e := range r.Events {
		if e.Type == executor.EventTx {
			for _, a := range e.Attributes {
				if a.Key == executor.AttrRuntimeVersion {
					return a.Value
				}
			}
		}
	}
	return ""
}
