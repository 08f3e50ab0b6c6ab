package testnet

import (
	"context"
	"fmt"
	"testing"
	"time"

	abciserver "github.com/cometbft/cometbft/abci/server"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/proxy"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/node"
)

// TestSocketMode serves the app over an ABCI socket (as `vchaind start --abci socket`
// does) to a CometBFT node that reaches it only through that socket, and commits a call.
func TestSocketMode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	ctx := context.Background()
	ports := FreePorts(t, 3)
	hn, admin := OneValidatorHome(t, t.TempDir(), "socket", func(c *cmtcfg.Config) {
		c.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports[0])
		c.RPC.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports[1])
		c.Consensus.TimeoutCommit = 200 * time.Millisecond
	})
	logger := cmtlog.NewFilter(cmtlog.NewTMLogger(cmtlog.NewSyncWriter(testWriter{t, "node"})), cmtlog.AllowError())

	app, err := node.OpenApp(ctx, hn.Paths, AppConfig(), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", ports[2])
	srv := abciserver.NewSocketServer(addr, app.ABCI)
	srv.SetLogger(logger)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	cfg, err := node.LoadCometConfig(hn.Paths.Root, nil)
	if err != nil {
		t.Fatal(err)
	}
	comet, err := node.NewCometWithClient(cfg, proxy.NewRemoteClientCreator(addr, "socket", true), logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := comet.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		node.Stop(comet, cmtlog.NewNopLogger())
		// Node.OnStop leaves the ABCI clients connected; if the server closed first, the
		// client would see EOF and CometBFT would SIGTERM its own process (this test).
		_ = comet.ProxyApp().Stop()
	}()

	c, err := client.New(cfg.RPC.ListenAddress)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for app.Exec.Height() < 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	raw, _, err := c.SignCall(ctx, admin, client.CallTx{Contract: "kv", Method: "set", Args: []byte(`{"key":"a","value":"1"}`), GasLimit: 5_000_000})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := c.Broadcast(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.WaitTx(ctx, hash, 30*time.Second)
	if err != nil || res.TxResult.Code != 0 {
		t.Fatalf("tx: %v %+v", err, res)
	}
	q, err := c.Query(ctx, "/state/kv", []byte("a"))
	if err != nil || string(q.Value) != "1" {
		t.Fatalf("query: %v %v", q, err)
	}
}
