package localnet

import (
	"strings"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	coretypes "github.com/cometbft/cometbft/rpc/core/types"
)

// TestSameNamesWhoComputedOtherwise checks that every field of a node's own results is
// compared, and that the error names the nodes that computed otherwise and what, against
// what the others computed. Block IDs and header app hashes are the same in every case:
// they are what consensus agrees on whatever a node computed.
func TestSameNamesWhoComputedOtherwise(t *testing.T) {
	base := func() computed {
		return computed{blockID: "B", res: &coretypes.ResultBlockResults{
			Height:  7,
			AppHash: []byte{1},
			TxsResults: []*abcitypes.ExecTxResult{
				{Code: 0, Data: []byte("ok"), GasWanted: 100, GasUsed: 40, Log: "a"},
				{Code: 5, GasWanted: 100, GasUsed: 0, Log: "refused"},
			},
		}}
	}
	peers := []Peer{{Name: "node0"}, {Name: "node1"}, {Name: "node2"}, {Name: "node3"}}
	for _, c := range []struct {
		name   string
		change func(*computed)
		want   string // "" for no error
	}{
		{"same", func(*computed) {}, ""},
		// Not deterministic in CometBFT's results hash either: may differ.
		{"log and events", func(c *computed) {
			c.res.TxsResults[0].Log = "b"
			c.res.TxsResults[0].Events = []abcitypes.Event{{Type: "x"}}
		}, ""},
		{"app hash", func(c *computed) { c.res.AppHash = []byte{2} }, "height 7: node3 computed app hash 02; node0, node1, node2 computed 01"},
		{"code", func(c *computed) { c.res.TxsResults[1].Code = 6 }, "node3 computed tx 1's code 6; node0, node1, node2 computed 5"},
		{"data", func(c *computed) { c.res.TxsResults[0].Data = []byte("no") }, "node3 computed tx 0's data 6E6F; node0, node1, node2 computed 6F6B"},
		{"gas wanted", func(c *computed) { c.res.TxsResults[0].GasWanted = 99 }, "node3 computed tx 0's gas wanted 99"},
		{"gas used", func(c *computed) { c.res.TxsResults[0].GasUsed = 41 }, "node3 computed tx 0's gas used 41; node0, node1, node2 computed 40"},
		{"tx count", func(c *computed) { c.res.TxsResults = c.res.TxsResults[:1] }, "node3 computed the number of tx results 1; node0, node1, node2 computed 2"},
		{"block ID", func(c *computed) { c.blockID = "C" }, "node3 computed block ID C"},
		{"consensus params", func(c *computed) {
			c.res.ConsensusParamUpdates = &cmtproto.ConsensusParams{Version: &cmtproto.VersionParams{App: 2}}
		}, "node3 computed consensus param updates 22020802; node0, node1, node2 computed none"},
		{"validator updates", func(c *computed) {
			c.res.ValidatorUpdates = []abcitypes.ValidatorUpdate{{Power: 1}}
		}, "node3 computed validator updates [0A001001]; node0, node1, node2 computed []"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs := []computed{base(), base(), base(), base()}
			c.change(&cs[3])
			err := same(peers, 7, cs)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
	t.Run("two against two", func(t *testing.T) {
		cs := []computed{base(), base(), base(), base()}
		cs[1].res.AppHash, cs[3].res.AppHash = []byte{2}, []byte{2}
		if err := same(peers, 7, cs); err == nil || !strings.Contains(err.Error(), "node1, node3 computed app hash 02; node0, node2 computed 01") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestBehind(t *testing.T) {
	peers := []Peer{{Name: "node0"}, {Name: "node1"}, {Name: "node2"}, {Name: "node3"}}
	if err := behind(peers, []int64{9, 9, 9, 9}, 9, time.Second); err != nil {
		t.Fatal(err)
	}
	err := behind(peers, []int64{12, 9, 12, 4}, 12, time.Minute)
	if want := "behind after waiting 1m0s: node1 at 9, node3 at 4, while node0 reached 12"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}
