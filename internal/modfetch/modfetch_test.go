package modfetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtbytes "github.com/cometbft/cometbft/libs/bytes"
	"github.com/cometbft/cometbft/libs/log"
	coretypes "github.com/cometbft/cometbft/rpc/core/types"
	rpcserver "github.com/cometbft/cometbft/rpc/jsonrpc/server"
	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/runtime"
)

// peer serves the modules of a runtime directory on CometBFT's own JSON-RPC server code
// (abci_query only), through executor.ReadModuleChunk, the function behind the node's
// /runtime/module query; tamper, when set, makes it lie.
func peer(t *testing.T, modules map[uint64][]byte, chunkSize int, tamper func(*executor.ModuleChunk)) string {
	t.Helper()
	dir := t.TempDir()
	for v, b := range modules {
		if err := os.WriteFile(fmt.Sprintf("%s/v%d.wasm", dir, v), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := runtime.NewManager(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	query := func(_ *rpctypes.Context, path string, data cmtbytes.HexBytes, _ int64, _ bool) (*coretypes.ResultABCIQuery, error) {
		v, err := strconv.ParseUint(strings.TrimPrefix(path, "/runtime/module/"), 10, 64)
		if err != nil {
			return &coretypes.ResultABCIQuery{Response: abcitypes.ResponseQuery{Code: uint32(executor.QueryUnknown), Log: "unknown path"}}, nil
		}
		i, _ := strconv.Atoi(string(data))
		c, cerr := executor.ReadModuleChunk(m, v, i, chunkSize)
		if cerr != nil {
			return &coretypes.ResultABCIQuery{Response: abcitypes.ResponseQuery{Code: uint32(cerr.Code), Log: cerr.Msg}}, nil
		}
		if tamper != nil {
			tamper(c)
		}
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		return &coretypes.ResultABCIQuery{Response: abcitypes.ResponseQuery{Value: b}}, nil
	}
	mux := http.NewServeMux()
	rpcserver.RegisterRPCFuncs(mux, map[string]*rpcserver.RPCFunc{
		"abci_query": rpcserver.NewRPCFunc(query, "path,data,height,prove"),
	}, log.NewNopLogger())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func module(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func logTo(t *testing.T) Logf { return func(f string, a ...any) { t.Logf(f, a...) } }

func TestWrongBytesThenNextPeer(t *testing.T) {
	wasm := module(2500)
	want := runtime.Hash(sha256.Sum256(wasm))
	liar := peer(t, map[uint64][]byte{2: wasm}, 1000, func(c *executor.ModuleChunk) {
		if c.Index == 1 {
			c.Data[10] ^= 1 // right header, right sha256 claimed, one wrong bit
		}
	})
	honest := peer(t, map[uint64][]byte{2: wasm}, 1000, nil)
	res, err := Download(context.Background(), 2, want, []string{liar, honest}, logTo(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.From != honest || !bytes.Equal(res.Wasm, wasm) {
		t.Fatalf("from %s (%d bytes), want the honest peer's %d bytes", res.From, len(res.Wasm), len(wasm))
	}
	if len(res.Attempts) != 2 || res.Attempts[0].Peer != liar || !strings.Contains(res.Attempts[0].Err, "WRONG BYTES") || res.Attempts[1].Err != "" {
		t.Fatalf("attempts: %+v", res.Attempts)
	}
}

func TestNoPeerServesIt(t *testing.T) {
	wasm := module(2500)
	want := runtime.Hash(sha256.Sum256(wasm))
	other := module(2400)
	peers := []string{
		peer(t, map[uint64][]byte{2: wasm}, 1000, func(c *executor.ModuleChunk) { c.Data = c.Data[1:] }),   // short chunk
		peer(t, map[uint64][]byte{2: wasm}, 1000, func(c *executor.ModuleChunk) { c.Size = 1 << 40 }),      // huge size
		peer(t, map[uint64][]byte{2: wasm}, 1000, func(c *executor.ModuleChunk) { c.Chunks = 2 }),          // chunk count
		peer(t, map[uint64][]byte{2: wasm}, 1000, func(c *executor.ModuleChunk) { c.ChunkSize = 1 << 30 }), // chunk size
		peer(t, map[uint64][]byte{2: other}, 1000, nil),                                                    // another module
		peer(t, map[uint64][]byte{2: other}, 1000, func(c *executor.ModuleChunk) { c.CodeSHA256 = want.String() }),
		peer(t, map[uint64][]byte{3: wasm}, 1000, nil), // lacks v2
		"tcp://127.0.0.1:1", // nobody there
	}
	_, err := Download(context.Background(), 2, want, peers, logTo(t))
	var np *NoPeerError
	if !errors.As(err, &np) || len(np.Attempts) != len(peers) {
		t.Fatalf("got %v, want a NoPeerError with %d attempts", err, len(peers))
	}
	for i, why := range []string{"chunk 0 has 999 bytes", "announces a 1099511627776-byte module", "announces 2 chunks", "announces chunks of 1073741824",
		"it has another module for v2", "WRONG BYTES: it served 2400 bytes", "it does not have v2", "connection refused"} {
		if !strings.Contains(np.Attempts[i].Err, why) {
			t.Errorf("peer %d: %q, want it to say %q", i, np.Attempts[i].Err, why)
		}
	}
	if _, err := Download(context.Background(), 2, want, nil, logTo(t)); err == nil || !strings.Contains(err.Error(), "no peer") {
		t.Fatalf("no peers: %v", err)
	}
}

func TestChunkBoundaries(t *testing.T) {
	for _, n := range []int{1, 999, 1000, 1001, 3000, 3001} {
		wasm := module(n)
		res, err := Download(context.Background(), 2, sha256.Sum256(wasm), []string{peer(t, map[uint64][]byte{2: wasm}, 1000, nil)}, logTo(t))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(res.Wasm, wasm) {
			t.Fatalf("%d bytes: got %d different bytes", n, len(res.Wasm))
		}
	}
}

func TestPeerRPC(t *testing.T) {
	for _, c := range []struct{ adv, ip, want string }{
		{"tcp://127.0.0.1:26657", "10.0.0.2", "tcp://127.0.0.1:26657"},
		{"tcp://0.0.0.0:26657", "10.0.0.2", "tcp://10.0.0.2:26657"},
		{"tcp://[::]:26657", "fd00::2", "tcp://[fd00::2]:26657"},
		{"unix:///tmp/rpc.sock", "10.0.0.2", ""},
		{"", "10.0.0.2", ""},
		{"tcp://0.0.0.0:26657", "", ""},
	} {
		got, ok := PeerRPC(c.adv, c.ip)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("PeerRPC(%q, %q) = %q %v, want %q", c.adv, c.ip, got, ok, c.want)
		}
	}
}
