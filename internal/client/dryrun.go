package client

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vchain/vchain/app/executor"
)

// DryRun asks the node to re-execute its last blocks with a candidate version (the
// /upgrade/simulate query) and returns its report. atMost runs over fewer blocks when
// the node's history is shorter than blocks.
func (c *Client) DryRun(ctx context.Context, version uint64, blocks int64, atMost bool) (*executor.DryRunReport, error) {
	req, err := json.Marshal(executor.DryRunRequest{Version: version, Blocks: blocks, AtMost: atMost})
	if err != nil {
		return nil, err
	}
	res, err := c.Query(ctx, executor.PathDryRun, req)
	if err != nil {
		return nil, err
	}
	var r executor.DryRunReport
	if err := json.Unmarshal(res.Value, &r); err != nil {
		return nil, fmt.Errorf("query %s: decode answer: %w", executor.PathDryRun, err)
	}
	return &r, nil
}
