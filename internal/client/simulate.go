package client

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vchain/vchain/app/executor"
)

// Params returns the chain parameters the node runs with.
func (c *Client) Params(ctx context.Context) (executor.Params, error) {
	var p executor.Params
	err := c.QueryJSON(ctx, "/params", &p)
	return p, err
}

// Simulate runs the signed transaction raw on the node's last committed state without
// broadcasting it (the /simulate query) and returns what it would do. A transaction the
// node would refuse to admit is a *CheckTxError, as from Broadcast; a call that would fail
// is a result with a non-zero Code.
func (c *Client) Simulate(ctx context.Context, raw []byte) (*executor.SimulateResult, error) {
	res, err := c.Query(ctx, "/simulate", raw)
	if err != nil {
		return nil, err
	}
	var s executor.SimulateResult
	if err := json.Unmarshal(res.Value, &s); err != nil {
		return nil, fmt.Errorf("query /simulate: decode answer: %w", err)
	}
	if s.Refused {
		return &s, &CheckTxError{Code: s.Code, Log: s.Log}
	}
	return &s, nil
}

// GasMarginDiv and GasMarginFixed make the margin a call's gas limit gets over its
// simulated gas: gas/5 + 10,000. The margin covers a state that changes between the
// simulation and the block (a value that grew, a key now present).
const (
	GasMarginDiv   = 5
	GasMarginFixed = 10_000
)

// GasWithMargin is the gas limit for a call whose simulation used gas: gas*1.2 + 10,000
// (rounded down), at most maxGas (the chain's max_gas_per_tx).
func GasWithMargin(gas, maxGas uint64) uint64 {
	if gas >= maxGas {
		return maxGas
	}
	margin := gas/GasMarginDiv + GasMarginFixed
	if margin > maxGas-gas {
		return maxGas
	}
	return gas + margin
}
