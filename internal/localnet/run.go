package localnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/vchain/vchain/internal/client"
)

// RunError is a vchaind command that exited with a non-zero code.
type RunError struct {
	Args           []string
	Code           int
	Stdout, Stderr string
}

func (e *RunError) Error() string {
	return fmt.Sprintf("vchaind %s: exit %d\n%s%s", strings.Join(e.Args, " "), e.Code, e.Stdout, e.Stderr)
}

// Run runs the vchaind binary bin with args against node n (its home and RPC) and returns
// its standard output; a non-zero exit is a *RunError.
func (m *Manifest) Run(bin string, n Node, args ...string) (string, error) {
	cmd := exec.Command(bin, append(args, "--home", m.HomeOf(n), "--node", n.RPCAddr())...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), &RunError{Args: args, Code: ee.ExitCode(), Stdout: string(out), Stderr: stderr.String()}
	}
	return string(out), err
}

// AdminTx runs an admin transaction command (args, signed by the admin key in the keyring
// of AdminHome) and returns the height of the block that included it.
func (m *Manifest) AdminTx(bin string, args ...string) (int64, error) {
	n, ok := m.Node(m.AdminHome)
	if !ok {
		return 0, fmt.Errorf("admin node %q not in the testnet", m.AdminHome)
	}
	out, err := m.Run(bin, n, append(args, "--from", "admin", "-o", "json")...)
	if err != nil {
		return 0, err
	}
	var res struct{ Height int64 }
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return 0, fmt.Errorf("vchaind %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return res.Height, nil
}

// SameBlocks compares, through RPC, the block ID and app hash of every height up to the
// lowest height the nodes have reached, and returns that height; a difference is an error.
func SameBlocks(ctx context.Context, nodes []Node) (int64, error) {
	var cs []*client.Client
	top := int64(1 << 62)
	for _, n := range nodes {
		c, err := client.New(n.RPCAddr())
		if err != nil {
			return 0, err
		}
		st, err := c.RPC.Status(ctx)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", n.Name, err)
		}
		top = min(top, st.SyncInfo.LatestBlockHeight)
		cs = append(cs, c)
	}
	for h := int64(1); h <= top; h++ {
		var ref string
		for i, c := range cs {
			b, err := c.RPC.Block(ctx, &h)
			if err != nil {
				return 0, fmt.Errorf("%s: block %d: %w", nodes[i].Name, h, err)
			}
			got := b.BlockID.Hash.String() + "/" + b.Block.AppHash.String()
			if i == 0 {
				ref = got
			} else if got != ref {
				return 0, fmt.Errorf("height %d: %s has %s, %s has %s", h, nodes[0].Name, ref, nodes[i].Name, got)
			}
		}
	}
	return top, nil
}
