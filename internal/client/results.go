package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// TxOutcome is the part of a committed transaction's result a caller that only counts
// successes needs.
type TxOutcome struct {
	Code uint32 `json:"code"`
	Log  string `json:"log"`
}

// TxOutcomes returns the code and log of every transaction of the block at height, in
// block order. It reads /block_results like RPC.BlockResults but decodes only those two
// fields: the full decode (events through jsonpb) of a block of thousands of
// transactions costs a load generator more CPU than building and signing them.
func (c *Client) TxOutcomes(ctx context.Context, height int64) ([]TxOutcome, error) {
	base := c.addr
	for _, scheme := range []string{"tcp://", "http://"} {
		base = strings.TrimPrefix(base, scheme)
	}
	if strings.Contains(base, "://") {
		return nil, fmt.Errorf("block results at %s: only tcp:// and http:// RPC addresses are read directly", c.addr)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/block_results?height=%d", base, height), nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, c.unreachable(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("block results at height %d: %w", height, err)
	}
	var out struct {
		Result *struct {
			TxsResults []TxOutcome `json:"txs_results"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
			Data    string `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("block results at height %d: %w", height, err)
	}
	if out.Error != nil {
		return nil, fmt.Errorf("block results at height %d: %s: %s", height, out.Error.Message, out.Error.Data)
	}
	if out.Result == nil {
		return nil, fmt.Errorf("block results at height %d: the answer has no result", height)
	}
	return out.Result.TxsResults, nil
}
