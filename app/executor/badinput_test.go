package executor_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
)

// TestQueryBadInput: huge keys and paths, heights out of range and odd paths get an error
// code with a bounded log; the latest height is still served by number and by 0.
func TestQueryBadInput(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	n.block(signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`))
	huge := bytes.Repeat([]byte{0xfe}, 8<<20)
	cases := []struct {
		name   string
		path   string
		data   []byte
		height int64
		want   codes.Code
	}{
		{"latest by 0", "/state/kv", []byte("a"), 0, executor.QueryOK},
		{"latest by number", "/state/kv", []byte("a"), 1, executor.QueryOK},
		{"future height", "/state/kv", []byte("a"), 2, executor.QueryBad},
		{"far future height", "/runtime", nil, math.MaxInt64, executor.QueryBad},
		{"negative height", "/params", nil, -1, executor.QueryBad},
		{"past height", "/state/kv", []byte("a"), math.MinInt64, executor.QueryBad},
		{"8 MiB key", "/state/kv", huge, 0, executor.QueryNotFound},
		{"8 MiB path", "/" + string(huge), nil, 0, executor.QueryUnknown},
		{"8 MiB contract name", "/state/" + string(huge), []byte("a"), 0, executor.QueryNotFound},
		{"8 MiB version", "/upgrade/status", huge, 0, executor.QueryBad},
		{"8 MiB address", "/account/" + string(huge), nil, 0, executor.QueryBad},
		{"NUL in contract", "/state/kv\x00", []byte("a"), 0, executor.QueryNotFound},
		{"empty contract", "/state/", []byte("a"), 0, executor.QueryUnknown},
		{"extra segment", "/state/kv/a", []byte("a"), 0, executor.QueryUnknown},
		{"no path", "", nil, 0, executor.QueryUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := n.exec.QueryAt(tc.path, tc.data, tc.height)
			if r.Code != tc.want {
				t.Fatalf("code %s (%.200s), want %s", r.Code, r.Log, tc.want)
			}
			if tc.want != executor.QueryOK && (r.Log == "" || len(r.Log) > 2048) {
				t.Fatalf("log of %d bytes: want a readable, bounded one", len(r.Log))
			}
			if r.Height != 1 {
				t.Fatalf("answered for height %d", r.Height)
			}
		})
	}
	if r := n.exec.QueryAt("/state/kv", []byte("a"), 2); !strings.Contains(r.Log, "last committed height (1)") {
		t.Fatalf("refusal does not say which height can be queried: %s", r.Log)
	}
}
