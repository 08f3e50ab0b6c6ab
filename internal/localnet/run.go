package localnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	coretypes "github.com/cometbft/cometbft/rpc/core/types"

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

// CatchUpWait bounds how long SameBlocks waits for every node to reach the highest height
// one of them has committed.
const CatchUpWait = 60 * time.Second

// SameBlocks compares what each of nodes computed itself, through its RPC, as SameResults
// does, waiting up to CatchUpWait for a node that is behind.
func SameBlocks(ctx context.Context, nodes []Node) (int64, error) {
	var peers []Peer
	for _, n := range nodes {
		c, err := client.New(n.RPCAddr())
		if err != nil {
			return 0, fmt.Errorf("%s: %w", n.Name, err)
		}
		peers = append(peers, Peer{Name: n.Name, Client: c})
	}
	return SameResults(ctx, peers, CatchUpWait)
}

// Peer is a node SameResults reads through its RPC.
type Peer struct {
	Name   string
	Client *client.Client
}

// SameResults checks that peers computed the same chain, and returns the height it
// compared up to: the highest height one of them had committed when called.
//
// Block IDs and header app hashes are agreed by consensus, so they show nothing about a
// node that computed something else: it is each node's own results that are compared, at
// every height: the app hash its FinalizeBlock returned, and each transaction's code, data,
// gas wanted and gas used, the validator and consensus parameter updates (/block_results
// reads them from the node's own state store). At the end, each app's committed height and
// app hash (/abci_info) must be what it computed for that height.
//
// A node that diverged stops at the height where it did, so a comparison up to the lowest
// height would pass; instead every node must reach the highest height: a node still behind
// after wait is an error that names it.
func SameResults(ctx context.Context, peers []Peer, wait time.Duration) (int64, error) {
	if len(peers) == 0 {
		return 0, errors.New("no nodes to compare")
	}
	heights, err := appHeights(ctx, peers)
	if err != nil {
		return 0, err
	}
	top, low := slices.Max(heights), slices.Min(heights)
	first, err := firstHeight(ctx, peers)
	if err != nil {
		return 0, err
	}
	// What every node has committed is compared first: a node that diverged and stopped
	// is named at once, without waiting for it to catch up.
	agreed, err := compareResults(ctx, peers, first, low)
	if err != nil {
		return 0, errors.Join(err, behind(peers, heights, top, 0))
	}
	deadline := time.Now().Add(wait)
	for slices.Min(heights) < top && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if heights, err = appHeights(ctx, peers); err != nil {
			return 0, err
		}
	}
	more, err := compareResults(ctx, peers, low+1, slices.Min(heights))
	if err != nil {
		return 0, errors.Join(err, behind(peers, heights, top, 0))
	}
	if err := behind(peers, heights, top, wait); err != nil {
		return 0, err
	}
	agreed = append(agreed, more...)
	if err := sameAppState(ctx, peers, first, top, agreed); err != nil {
		return 0, err
	}
	return top, nil
}

// firstHeight returns the first height every peer stores: the genesis's initial_height
// on a chain that starts above 1.
func firstHeight(ctx context.Context, peers []Peer) (int64, error) {
	first := int64(1)
	for _, p := range peers {
		st, err := p.Client.RPC.Status(ctx)
		if err != nil {
			return 0, fmt.Errorf("%s: status: %w", p.Name, err)
		}
		first = max(first, st.SyncInfo.EarliestBlockHeight)
	}
	return first, nil
}

// appHeights returns the height each peer's app has committed.
func appHeights(ctx context.Context, peers []Peer) ([]int64, error) {
	hs := make([]int64, len(peers))
	for i, p := range peers {
		info, err := p.Client.RPC.ABCIInfo(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: abci_info: %w", p.Name, err)
		}
		hs[i] = info.Response.LastBlockHeight
	}
	return hs, nil
}

// behind names every peer below top, or returns nil.
func behind(peers []Peer, heights []int64, top int64, waited time.Duration) error {
	var lag []string
	lead := ""
	for i, h := range heights {
		if h < top {
			lag = append(lag, fmt.Sprintf("%s at %d", peers[i].Name, h))
		} else if lead == "" {
			lead = peers[i].Name
		}
	}
	if lag == nil {
		return nil
	}
	after := ""
	if waited > 0 {
		after = fmt.Sprintf(" after waiting %s", waited)
	}
	return fmt.Errorf("behind%s: %s, while %s reached %d", after, strings.Join(lag, ", "), lead, top)
}

// computed is what one node computed for one block.
type computed struct {
	blockID string
	res     *coretypes.ResultBlockResults
}

// compareResults compares every peer's block ID and own results at heights from..to and
// returns the app hash they agree on at each of them.
func compareResults(ctx context.Context, peers []Peer, from, to int64) ([][]byte, error) {
	var agreed [][]byte
	for lo := from; lo <= to; lo += 20 { // /blockchain returns 20 block metas at most
		hi := min(lo+19, to)
		ids := make([]map[int64]string, len(peers))
		for i, p := range peers {
			bc, err := p.Client.RPC.BlockchainInfo(ctx, lo, hi)
			if err != nil {
				return nil, fmt.Errorf("%s: blocks %d..%d: %w", p.Name, lo, hi, err)
			}
			ids[i] = map[int64]string{}
			for _, m := range bc.BlockMetas {
				ids[i][m.Header.Height] = m.BlockID.String()
			}
		}
		for h := lo; h <= hi; h++ {
			cs := make([]computed, len(peers))
			for i, p := range peers {
				res, err := p.Client.RPC.BlockResults(ctx, &h)
				if err != nil {
					return nil, fmt.Errorf("%s: block results %d: %w", p.Name, h, err)
				}
				cs[i] = computed{blockID: ids[i][h], res: res}
			}
			if err := same(peers, h, cs); err != nil {
				return nil, err
			}
			agreed = append(agreed, cs[0].res.AppHash)
		}
	}
	return agreed, nil
}

// same groups the peers by what they computed at height h; more than one group is an
// error naming the nodes outside the largest one, and what they computed differently.
func same(peers []Peer, h int64, cs []computed) error {
	type group struct {
		rep   computed
		names []string
	}
	var groups []*group
next:
	for i, c := range cs {
		for _, g := range groups {
			if field, _, _ := diff(g.rep, c); field == "" {
				g.names = append(g.names, peers[i].Name)
				continue next
			}
		}
		groups = append(groups, &group{rep: c, names: []string{peers[i].Name}})
	}
	if len(groups) == 1 {
		return nil
	}
	most := groups[0]
	for _, g := range groups[1:] {
		if len(g.names) > len(most.names) {
			most = g
		}
	}
	var errs []error
	for _, g := range groups {
		if g == most {
			continue
		}
		field, want, got := diff(most.rep, g.rep)
		errs = append(errs, fmt.Errorf("height %d: %s computed %s %s; %s computed %s",
			h, strings.Join(g.names, ", "), field, got, strings.Join(most.names, ", "), want))
	}
	return errors.Join(errs...)
}

// diff returns the first field where b differs from a, and its value in each, or "".
func diff(a, b computed) (field, va, vb string) {
	if a.blockID != b.blockID {
		return "block ID", a.blockID, b.blockID
	}
	ra, rb := a.res, b.res
	if !bytes.Equal(ra.AppHash, rb.AppHash) {
		return "app hash", fmt.Sprintf("%X", ra.AppHash), fmt.Sprintf("%X", rb.AppHash)
	}
	if len(ra.TxsResults) != len(rb.TxsResults) {
		return "the number of tx results", fmt.Sprint(len(ra.TxsResults)), fmt.Sprint(len(rb.TxsResults))
	}
	for i, x := range ra.TxsResults {
		if f, va, vb := diffTx(x, rb.TxsResults[i]); f != "" {
			return fmt.Sprintf("tx %d's %s", i, f), va, vb
		}
	}
	if va, vb := marshalAll(ra.ValidatorUpdates), marshalAll(rb.ValidatorUpdates); va != vb {
		return "validator updates", va, vb
	}
	if va, vb := paramsHex(ra.ConsensusParamUpdates), paramsHex(rb.ConsensusParamUpdates); va != vb {
		return "consensus param updates", va, vb
	}
	return "", "", ""
}

// diffTx compares the deterministic fields of two transaction results: those CometBFT's
// results hash covers (the log, events and codespace are not).
func diffTx(a, b *abcitypes.ExecTxResult) (field, va, vb string) {
	switch {
	case a.Code != b.Code:
		return "code", fmt.Sprint(a.Code), fmt.Sprint(b.Code)
	case !bytes.Equal(a.Data, b.Data):
		return "data", fmt.Sprintf("%X", a.Data), fmt.Sprintf("%X", b.Data)
	case a.GasWanted != b.GasWanted:
		return "gas wanted", fmt.Sprint(a.GasWanted), fmt.Sprint(b.GasWanted)
	case a.GasUsed != b.GasUsed:
		return "gas used", fmt.Sprint(a.GasUsed), fmt.Sprint(b.GasUsed)
	}
	return "", "", ""
}

// marshalAll returns the updates' protobuf encodings in hex.
func marshalAll(us []abcitypes.ValidatorUpdate) string {
	var s []string
	for i := range us {
		s = append(s, protoHex(&us[i]))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// paramsHex returns the parameter updates' protobuf encoding in hex, "none" for none.
func paramsHex(p *cmtproto.ConsensusParams) string {
	if p == nil {
		return "none"
	}
	return protoHex(p)
}

func protoHex(m interface{ Marshal() ([]byte, error) }) string {
	b, err := m.Marshal()
	if err != nil {
		return "unencodable: " + err.Error()
	}
	return fmt.Sprintf("%X", b)
}

// sameAppState checks each peer's committed app state: at top, the app hash all computed
// there (agreed[top-first]); above it (a node that went on meanwhile), the one it computed.
func sameAppState(ctx context.Context, peers []Peer, first, top int64, agreed [][]byte) error {
	for _, p := range peers {
		h, got, err := committed(ctx, p)
		if err != nil {
			return err
		}
		if h == 0 {
			continue // no block yet: nothing computed
		}
		var want []byte
		if h <= top {
			want = agreed[h-first]
		} else {
			res, err := p.Client.RPC.BlockResults(ctx, &h)
			if err != nil {
				return fmt.Errorf("%s: block results %d: %w", p.Name, h, err)
			}
			want = res.AppHash
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s: its app committed app hash %X at height %d, where FinalizeBlock computed %X", p.Name, got, h, want)
		}
	}
	return nil
}

// committed returns the height and app hash p's app has committed, as /abci_info reports
// them (the app reads the pair under one lock, so a concurrent commit cannot tear it).
func committed(ctx context.Context, p Peer) (int64, []byte, error) {
	info, err := p.Client.RPC.ABCIInfo(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: abci_info: %w", p.Name, err)
	}
	return info.Response.LastBlockHeight, info.Response.LastBlockAppHash, nil
}
